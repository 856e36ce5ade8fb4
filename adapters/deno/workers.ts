import type { WorkerProcess, WorkerSpawnOptions } from "../../src/runtime.ts";
import { LineSplitter } from "../../src/workers/line-splitter.ts";

/** Permissions that a worker inherits when this process has them without a scope. */
const INHERITED_PERMISSIONS = ["net", "read", "env", "sys", "write"] as const;

/**
 * Starts `deno run` on this program's main module as a worker, with the permissions this
 * process has without a scope and `--unstable-net`, which `reusePort` needs on Deno. When this
 * process may write the access log file, the worker gets a scoped `--allow-write` for it.
 * Throws when this process lacks `--allow-run`.
 */
export function spawnDenoWorker(options: WorkerSpawnOptions): WorkerProcess {
  const accessFile = options.accessFile;
  const execPath = Deno.execPath();
  if (Deno.permissions.querySync({ name: "run", command: execPath }).state !== "granted") {
    throw new Error(
      "starting worker processes for --workers requires --allow-run on Deno. Add --allow-run to " +
        "the deno run command",
    );
  }
  const flags = ["--unstable-net"];
  for (const name of INHERITED_PERMISSIONS) {
    if (Deno.permissions.querySync({ name }).state === "granted") flags.push(`--allow-${name}`);
  }
  if (
    accessFile !== undefined && !flags.includes("--allow-write") &&
    Deno.permissions.querySync({ name: "write", path: accessFile }).state === "granted"
  ) {
    flags.push(`--allow-write=${accessFile}`);
  }
  const child = new Deno.Command(execPath, {
    args: ["run", ...flags, Deno.mainModule, ...options.args],
    env: options.env,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  void readText(child.stdout, options.onStdout);
  void readLines(child.stderr, options.onStderrLine);
  const exited = child.status.then((status) => ({
    code: status.signal === null ? status.code : null,
    signal: status.signal,
  }));
  return {
    pid: child.pid,
    exited,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // The process has already exited, so there is nothing to signal.
      }
    },
  };
}

async function readText(stream: ReadableStream<Uint8Array>, onText: (text: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) onText(decoder.decode(chunk, { stream: true }));
  } catch {
    // The pipe broke with the process, which the supervisor learns from its exit.
  }
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const lines = new LineSplitter(onLine);
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) lines.push(decoder.decode(chunk, { stream: true }));
  } catch {
    // The pipe broke because the process ended. The partial line read so far is passed on below.
  }
  lines.end();
}

/** Calls `handler` once standard input ends. */
export function onStdinEnd(handler: () => void): void {
  void (async () => {
    const buffer = new Uint8Array(1024);
    try {
      while ((await Deno.stdin.read(buffer)) !== null) {
        // Workers read no input, so any bytes that arrive are discarded.
      }
    } catch {
      // A broken pipe means that the supervisor is gone, the same as the end of input.
    }
    handler();
  })();
}
