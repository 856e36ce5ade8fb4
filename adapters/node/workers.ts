import cluster from "node:cluster";
import process from "node:process";
import type { WorkerExit, WorkerProcess, WorkerSpawnOptions } from "../../src/runtime.ts";
import { LineSplitter } from "../../src/workers/line-splitter.ts";

/**
 * Forks a cluster worker running this script. Listeners that the worker opens with `reusePort`
 * are shared through the cluster primary, which hands connections to the workers in turn.
 */
export function forkClusterWorker(options: WorkerSpawnOptions): WorkerProcess {
  cluster.setupPrimary({
    exec: process.argv[1],
    args: options.args,
    stdio: ["pipe", "pipe", "pipe", "ipc"],
  });
  const worker = cluster.fork(options.env);
  const child = worker.process;
  const lines = new LineSplitter(options.onStderrLine);
  child.stdout!.setEncoding("utf8");
  child.stdout!.on("data", (text: string) => options.onStdout(text));
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (text: string) => lines.push(text));
  child.stderr!.on("end", () => lines.end());
  // Without a listener, a write error on the pipe after the worker exited would end this
  // process. The exit itself is reported through `exited`.
  child.stdin?.on("error", () => {});
  const exited = new Promise<WorkerExit>((resolve) => {
    worker.once("exit", (code, signal) => resolve({ code: signal ? null : code, signal: signal ?? null }));
    // Node emits `error` when the process cannot be started or signalled. Without a listener,
    // it would end the supervisor, so it goes to the supervisor's log as one of the worker's lines.
    worker.on("error", (error) => {
      options.onStderrLine(`worker process error: ${error.message}`);
      if (child.pid === undefined) resolve({ code: 1, signal: null });
    });
  });
  return {
    pid: child.pid!,
    exited,
    kill: (signal) => void child.kill(signal),
  };
}
