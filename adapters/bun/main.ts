import { runCli } from "../../src/main.ts";
import { nodeProcess, reportStrayErrors } from "../node/process.ts";
import { BunNetwork } from "./network.ts";

reportStrayErrors();

await runCli({
  ...nodeProcess,
  name: "bun",
  version: Bun.version,
  network: new BunNetwork(),
  readTextFile: (path) => Bun.file(path).text(),
});
