import { runCli } from "../../src/main.ts";
import type { Runtime, SignalName } from "../../src/runtime.ts";
import { openAppendFile } from "./append-file.ts";
import { DenoNetwork } from "./network.ts";
import { onStdinEnd, spawnDenoWorker } from "./workers.ts";

reportStrayErrors();

const encoder = new TextEncoder();

const runtime: Runtime = {
  name: "deno",
  version: Deno.version.deno,
  network: new DenoNetwork(),
  args: Deno.args,
  getEnv: (name) => Deno.env.get(name),
  readTextFile: (path) => Deno.readTextFile(path),
  openAppendFile,
  writeStdout: (text) => writeAll(Deno.stdout, text),
  writeStderr: (text) => writeAll(Deno.stderr, text),
  onSignal: (signal: SignalName, handler) => Deno.addSignalListener(signal, handler),
  spawnWorker: spawnDenoWorker,
  onStdinEnd,
  exit: (code) => Deno.exit(code),
};

await runCli(runtime);

/** Writes the whole text; `writeSync` may take only part of it. */
function writeAll(stream: { writeSync(bytes: Uint8Array): number }, text: string): void {
  let bytes = encoder.encode(text);
  while (bytes.length > 0) bytes = bytes.subarray(stream.writeSync(bytes));
}

/**
 * Logs an error that escaped every handler instead of ending the process: one failed request
 * must not take every other connection down with it.
 */
function reportStrayErrors(): void {
  const report = (kind: string, error: unknown) => {
    const detail = error instanceof Error ? error.stack ?? error.message : String(error);
    writeAll(Deno.stderr, JSON.stringify({ time: new Date().toISOString(), level: "error", message: `${kind}: ${detail}` }) + "\n");
  };
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    report("uncaught exception", event.error);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    report("unhandled rejection", event.reason);
  });
}
