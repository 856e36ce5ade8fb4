import type { WorkerProcess, WorkerSpawnOptions } from "../../src/runtime.ts";
import { LineSplitter } from "../../src/workers/line-splitter.ts";

/** Permissions a worker gets when this process has them without a scope. */
const INHERITED_PERMISSIONS = ["net", "read", "env", "sys", "write"] as const;

/**
 * Starts `deno run` on this program's main module as a worker, with the permissions this
 * process holds without a scope and `--unstable-net`, which `reusePort` needs on Deno. A
 * scoped `--allow-write` for the access log file is passed on when this process may write it. Throws when this process may not start subprocesses.
 */
export function spawnDenoWorker(options: WorkerSpawnOptions): WorkerProcess {
  const accessFile = options.accessFile;
  const execPath = Deno.execPath();
  if (Deno.permissions.querySync({ name: "run", command: execPath }).state !== "granted") {
    throw new Error(
      "--workers starts worker processes, which Deno allows only with --allow-run: add it to the " +
        "deno run command",
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
    stdout: "inherit",
    stderr: "piped",
  }).spawn();
  void readLines(child.stderr, options.onStderrLine);
  const exited = child.status.then((status) => status.signal === null ? status.code : null);
  return {
    pid: child.pid,
    exited,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // The process has already exited.
      }
    },
  };
}

async function readLines(stream: ReadableStream<Uint8Array>, onLine: (line: string) => void): Promise<void> {
  const lines = new LineSplitter(onLine);
  const decoder = new TextDecoder();
  try {
    for await (const chunk of stream) lines.push(decoder.decode(chunk, { stream: true }));
  } catch {
    // The pipe broke with the process; what was read is passed on below.
  }
  lines.end();
}

/** Calls `handler` once standard input ends. */
export function onStdinEnd(handler: () => void): void {
  void (async () => {
    const buffer = new Uint8Array(1024);
    try {
      while ((await Deno.stdin.read(buffer)) !== null) {
        // Workers get no input; bytes that arrive are ignored.
      }
    } catch {
      // A broken pipe counts as the end.
    }
    handler();
  })();
}
