import { createWriteStream } from "node:fs";
import process from "node:process";
import type { AppendFile, SignalName } from "../../src/runtime.ts";

/**
 * The process-level half of a Runtime through Node's `process` API, which Bun implements too,
 * so the Node and Bun entry points share it.
 */
export const nodeProcess = {
  args: process.argv.slice(2),
  getEnv: (name: string): string | undefined => process.env[name],
  writeStdout: (text: string): void => void process.stdout.write(text),
  writeStderr: (text: string): void => void process.stderr.write(text),
  onSignal: (signal: SignalName, handler: () => void): void => void process.on(signal, handler),
  openAppendFile,
  exit: async (code: number): Promise<never> => {
    await flush(process.stdout);
    await flush(process.stderr);
    process.exit(code);
  },
};

/**
 * Opens `path` for appending through a write stream, which queues writes in order. Resolves
 * once the file is open and rejects with the open error.
 */
export function openAppendFile(path: string, onError: (error: Error) => void): Promise<AppendFile> {
  const stream = createWriteStream(path, { flags: "a" });
  let failed = false;
  return new Promise((resolve, reject) => {
    stream.once("error", reject);
    stream.once("open", () => {
      stream.off("error", reject);
      stream.on("error", (error) => {
        if (failed) return;
        failed = true;
        onError(error);
      });
      resolve({
        write: (text) => {
          if (!failed) stream.write(text);
        },
        close: () => {
          if (failed || stream.destroyed) return Promise.resolve();
          return new Promise((done) => stream.end(() => done()));
        },
      });
    });
  });
}

function flush(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => stream.write("", () => resolve()));
}

/**
 * Logs an error that escaped every handler instead of ending the process: one failed request
 * must not take every other connection down with it.
 */
export function reportStrayErrors(): void {
  const report = (kind: string) => (error: unknown) => {
    const detail = error instanceof Error ? error.stack ?? error.message : String(error);
    const line = { time: new Date().toISOString(), level: "error", message: `${kind}: ${detail}` };
    process.stderr.write(JSON.stringify(line) + "\n");
  };
  process.on("uncaughtException", report("uncaught exception"));
  process.on("unhandledRejection", report("unhandled rejection"));
}
