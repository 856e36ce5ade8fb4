import { runCli } from "../../src/main.ts";
import process from "node:process";
import { onStdinEnd, spawnChildWorker } from "../node/child-worker.ts";
import { nodeProcess, reportStrayErrors } from "../node/process.ts";
import { BunNetwork } from "./network.ts";

reportStrayErrors();

await runCli({
  ...nodeProcess,
  name: "bun",
  version: Bun.version,
  network: new BunNetwork(),
  readTextFile: (path) => Bun.file(path).text(),
  // A single-file executable is its own script; otherwise Bun runs this script again.
  spawnWorker: (options) => spawnChildWorker(process.execPath, isCompiled() ? [] : [process.argv[1]], options),
  onStdinEnd,
});

/** Returns whether this is a single-file executable from `bun build --compile`, whose script is embedded. */
function isCompiled(): boolean {
  return Bun.main.startsWith("/$bunfs/");
}
