import type { Network } from "./net/types.ts";

export type SignalName = "SIGINT" | "SIGTERM" | "SIGHUP";

/** A file opened for appending, such as the access log. */
export interface AppendFile {
  /** Queues `text` for writing; writes keep their order. */
  write(text: string): void;
  /** Writes what is queued, then closes the file. */
  close(): Promise<void>;
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
  /** Flushes standard output and error, then ends the process. */
  exit(code: number): Promise<never>;
}
