import { openAppendFile } from "../../../adapters/deno/append-file.ts";
import { runAppendFileContract } from "../../contract/append-file-contract.ts";

runAppendFileContract("deno", openAppendFile);
