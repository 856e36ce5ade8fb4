import process from "node:process";
import type { SignalName } from "../../src/runtime.ts";

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
  exit: async (code: number): Promise<never> => {
    await flush(process.stdout);
    await flush(process.stderr);
    process.exit(code);
  },
};

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
