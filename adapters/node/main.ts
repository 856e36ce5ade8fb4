import { readFile } from "node:fs/promises";
import process from "node:process";
import { runCli } from "../../src/main.ts";
import { onStdinEnd } from "./child-worker.ts";
import { NodeNetwork } from "./network.ts";
import { nodeProcess, reportStrayErrors } from "./process.ts";
import { forkClusterWorker } from "./workers.ts";

reportStrayErrors();

await runCli({
  ...nodeProcess,
  name: "node",
  version: process.versions.node,
  network: new NodeNetwork(),
  readTextFile: (path) => readFile(path, "utf8"),
  spawnWorker: forkClusterWorker,
  onStdinEnd,
});
