import type { Network } from "./net/types.ts";

export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP";

/** A file opened for appending, such as the access log. */
export interface AppendFile {
  /** Queues `text` for writing; writes keep their order. */
  write(text: string): void;
  /** Writes what is queued, then closes the file. */
  close(): Promise<void>;
}

/** The end of a worker process: its exit code, or the signal that ended it. */
export interface WorkerExit {
  code: number | null;
  /** Signal name, such as `SIGKILL`, or null when the process exited by itself. */
  signal: string | null;
}

/** A process of this program that `Runtime.spawnWorker` started. */
export interface WorkerProcess {
  readonly pid: number;
  /** Resolves once the process ended. */
  readonly exited: Promise<WorkerExit>;
  kill(signal: "SIGTERM" | "SIGKILL"): void;
}

export interface WorkerSpawnOptions {
  /** Command-line arguments for the worker, after the program name. */
  args: string[];
  /** Variables added to the worker's environment. */
  env: Record<string, string>;
  /** The access log file the worker appends to, for runtimes that grant file access per path. */
  accessFile?: string;
  /**
   * Receives the worker's standard output as it arrives, decoded as UTF-8, in pieces that may
   * end within a line.
   */
  onStdout(text: string): void;
  /** Receives each line the worker writes to standard error, without its line feed. */
  onStderrLine(line: string): void;
}

/** The services the core needs from the process it runs in. Each adapter's `main.ts` provides one. */
export interface Runtime {
  /** `bun`, `deno` or `node`. */
  readonly name: string;
  /** The runtime's own version, such as `1.4.5`. */
  readonly version: string;
  readonly network: Network;
  /** Command-line arguments after the program name. */
  readonly args: readonly string[];
  getEnv(name: string): string | undefined;
  readTextFile(path: string): Promise<string>;
  /**
   * Opens `path` for appending, creating it when missing. Rejects when the file cannot be
   * opened. `onError` receives the first failed write, after which further text is dropped.
   */
  openAppendFile(path: string, onError: (error: Error) => void): Promise<AppendFile>;
  /** Writes text to standard output; lines must end with `\n`. */
  writeStdout(text: string): void;
  writeStderr(text: string): void;
  /** Adds a handler for a process signal. */
  onSignal(signal: SignalName, handler: () => void): void;
  /**
   * Starts another process of this program, on the same runtime, as a worker: its standard
   * output comes to `onStdout` and its standard error to `onStderrLine`, and its standard input
   * is a pipe that closes when this process ends. Throws when the runtime cannot start one,
   * with the reason.
   */
  spawnWorker(options: WorkerSpawnOptions): WorkerProcess;
  /** Calls `handler` once standard input reaches its end, as when a worker's supervisor exits. */
  onStdinEnd(handler: () => void): void;
  /** Flushes standard output and error, then ends the process. */
  exit(code: number): Promise<never>;
}
