import { spawn } from "node:child_process";
import process from "node:process";
import type { WorkerProcess, WorkerSpawnOptions } from "../../src/runtime.ts";
import { LineSplitter } from "../../src/workers/line-splitter.ts";

/**
 * Starts `command` with `prefixArgs` and the worker's arguments as a child process: standard
 * output inherited, standard error read line by line, standard input a pipe that closes when
 * this process ends.
 */
export function spawnChildWorker(
  command: string,
  prefixArgs: string[],
  options: WorkerSpawnOptions,
): WorkerProcess {
  const child = spawn(command, [...prefixArgs, ...options.args], {
    env: { ...process.env, ...options.env },
    stdio: ["pipe", "inherit", "pipe"],
  });
  const lines = new LineSplitter(options.onStderrLine);
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => lines.push(text));
  child.stderr!.on("end", () => lines.end());
  child.stdin!.on("error", () => {});
  const exited = new Promise<number | null>((resolve) => {
    child.once("exit", (code, signal) => resolve(signal ? null : code));
    child.once("error", () => resolve(1));
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
