import { openAppendFile } from "../../../adapters/node/process.ts";
import { runAppendFileContract } from "../../contract/append-file-contract.ts";

runAppendFileContract("node", openAppendFile);
