import { openAppendFile } from "../../../adapters/node/process.ts";
import { runAppendFileContract } from "../../contract/append-file-contract.ts";

// Bun runs the Node adapter's implementation, through its own `node:fs`.
runAppendFileContract("bun", openAppendFile);
