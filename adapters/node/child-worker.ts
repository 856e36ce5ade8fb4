import { spawn } from "node:child_process";
import process from "node:process";
import type { WorkerExit, WorkerProcess, WorkerSpawnOptions } from "../../src/runtime.ts";
import { LineSplitter } from "../../src/workers/line-splitter.ts";

/**
 * Starts `command` with `prefixArgs` and the worker's arguments as a child process. Its standard
 * output is passed on as it arrives, and its standard error line by line. Its standard input is a
 * pipe that closes when this process ends, which signals the worker to stop.
 */
export function spawnChildWorker(
  command: string,
  prefixArgs: string[],
  options: WorkerSpawnOptions,
): WorkerProcess {
  const child = spawn(command, [...prefixArgs, ...options.args], {
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines = new LineSplitter(options.onStderrLine);
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => options.onStdout(text));
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => lines.push(text));
  child.stderr!.on("end", () => lines.end());
  // Without a listener, a write error on the pipe after the worker exited would end this
  // process. The exit itself is reported through `exited`.
  child.stdin!.on("error", () => {});
  const exited = new Promise<WorkerExit>((resolve) => {
    child.once("exit", (code, signal) => resolve({ code: signal ? null : code, signal: signal ?? null }));
    // Node emits `error` when the process cannot be started or signalled, and may emit no `exit`
    // after a failed start. The message goes to the supervisor's log as one of the worker's lines.
    child.on("error", (error) => {
      options.onStderrLine(`worker process error: ${error.message}`);
      if (child.pid === undefined) resolve({ code: 1, signal: null });
    });
  });
  return {
    pid: child.pid ?? -1,
    exited,
    kill: (signal) => void child.kill(signal),
  };
}

/** Calls `handler` once standard input ends. */
export function onStdinEnd(handler: () => void): void {
  let called = false;
  const once = () => {
    if (called) return;
    called = true;
    handler();
  };
  process.stdin.on("end", once);
  process.stdin.on("close", once);
  process.stdin.on("error", once);
  process.stdin.resume();
}
