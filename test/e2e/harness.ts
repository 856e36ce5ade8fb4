import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, mkdtempSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export type RuntimeName = "bun" | "deno" | "node";

/** A way to run Cairn: on one of the runtimes, or as the single-file executable `dist/cairn`. */
export type EntryPointName = RuntimeName | "binary";

/** Runtimes the end-to-end tests run Cairn on; `CAIRN_RUNTIMES=bun,node` narrows the list. */
export const RUNTIMES: RuntimeName[] = (process.env.CAIRN_RUNTIMES ?? "bun,deno,node")
  .split(",")
  .map((name) => name.trim() as RuntimeName)
  .filter((name) => name === "bun" || name === "deno" || name === "node");

export const ROOT = resolve(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "../..");
const BIN = join(ROOT, "node_modules", ".bin");

/** The single-file executable that `npm run build` writes. */
export const BINARY_PATH = join(ROOT, "dist", "cairn");

/** Folders and files whose changes make `dist/cairn` stale. */
const BINARY_SOURCES = ["src", "adapters", "package.json", "package-lock.json"];

/** Longest wait for a proxy to report that it listens. */
const START_TIMEOUT_MS = 20_000;

/**
 * Returns the command that runs Cairn on `runtime`, as the README documents it. `denoFlags`
 * adds permissions on Deno, such as `--allow-write=PATH` for `logging.accessFile`.
 */
export function proxyCommand(
  runtime: EntryPointName,
  args: string[],
  denoFlags: string[] = [],
): { command: string; argv: string[] } {
  switch (runtime) {
    case "binary":
      return { command: BINARY_PATH, argv: args };
    case "bun":
      return { command: join(BIN, "bun"), argv: [join(ROOT, "adapters/bun/main.ts"), ...args] };
    case "deno":
      return {
        command: join(BIN, "deno"),
        argv: [
          "run",
          "--allow-net",
          "--allow-read",
          "--allow-env",
          "--allow-sys",
          ...denoFlags,
          join(ROOT, "adapters/deno/main.ts"),
          ...args,
        ],
      };
    case "node":
      return { command: "node", argv: [join(ROOT, "dist/node/cairn.js"), ...args] };
  }
}

export interface ProxyProcess {
  readonly runtime: EntryPointName;
  readonly child: ChildProcess;
  readonly pid: number;
  /** Port of the first listener. */
  readonly port: number;
  /** Ports of every listener, in config order. */
  readonly ports: number[];
  /** Port of the admin API, when Cairn runs it. */
  readonly adminPort: number | undefined;
  readonly stdoutLines: string[];
  readonly stderrLines: string[];
  /** Access-log records written so far. */
  accessRecords(): Record<string, unknown>[];
  /** Sends a signal and waits for the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** Peak resident memory of the process so far, in KiB (Linux `VmHWM`). */
  peakRssKiB(): number;
  /** Resident memory now, in KiB (Linux `VmRSS`). */
  rssKiB(): number;
}

/**
 * Starts Cairn as a child process with `args` (and `denoFlags` on Deno) and waits for its start
 * line on standard error, which names the port it listens on (so configs can use port 0).
 */
export function startProxy(runtime: EntryPointName, args: string[], denoFlags: string[] = []): Promise<ProxyProcess> {
  const { command, argv } = proxyCommand(runtime, args, denoFlags);
  const child = spawn(command, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const stdoutLines: string[] = [];
  const stderrLines: string[] = [];
  collectLines(child.stdout!, stdoutLines);
  let exited: Promise<number | null> = new Promise((resolveExit) => {
    child.once("exit", (code) => resolveExit(code));
  });

  return new Promise((resolveStart, rejectStart) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      rejectStart(new Error(`${runtime}: proxy did not start within ${START_TIMEOUT_MS} ms\n${stderrLines.join("\n")}`));
    }, START_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      rejectStart(new Error(`${runtime}: proxy exited with code ${code} before it started\n${stderrLines.join("\n")}`));
    });
    collectLines(child.stderr!, stderrLines, (line) => {
      let record: { message?: string; listeners?: { address: string }[]; admin?: string };
      try {
        record = JSON.parse(line);
      } catch {
        return;
      }
      if (record.message !== "cairn started" || !record.listeners) return;
      clearTimeout(timer);
      const ports = record.listeners.map(({ address }) => Number(address.slice(address.lastIndexOf(":") + 1)));
      const port = ports[0];
      const adminPort = record.admin === undefined
        ? undefined
        : Number(record.admin.slice(record.admin.lastIndexOf(":") + 1));
      const pid = child.pid!;
      resolveStart({
        runtime,
        child,
        pid,
        port,
        ports,
        adminPort,
        stdoutLines,
        stderrLines,
        accessRecords: () => stdoutLines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)),
        stop(signal = "SIGTERM", timeoutMs = 15_000) {
          if (child.exitCode !== null || child.signalCode !== null) return exited;
          child.kill(signal);
          const timeout = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
          exited = exited.finally(() => clearTimeout(timeout));
          return exited;
        },
        peakRssKiB: () => readStatusKiB(pid, "VmHWM"),
        rssKiB: () => readStatusKiB(pid, "VmRSS"),
      });
    });
  });
}

/**
 * Runs `npm run build` when `dist/cairn` is missing or older than a file in `src/`, `adapters/`
 * or the package manifests, and returns the executable's path.
 */
export function buildBinaryIfStale(): string {
  const binaryModified = existsSync(BINARY_PATH) ? statSync(BINARY_PATH).mtimeMs : 0;
  // NOTE: updated packages in node_modules without a lockfile change do not trigger a rebuild.
  const sourcesModified = Math.max(...BINARY_SOURCES.map((path) => newestModified(join(ROOT, path))));
  if (binaryModified <= sourcesModified) {
    execFileSync("npm", ["run", "--silent", "build"], { cwd: ROOT, stdio: ["ignore", "ignore", "inherit"] });
  }
  return BINARY_PATH;
}

/** Finds the latest modification time of `path` or of any file below it, in milliseconds. */
function newestModified(path: string): number {
  const stats = statSync(path);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs;
  for (const entry of readdirSync(path)) {
    newest = Math.max(newest, newestModified(join(path, entry)));
  }
  return newest;
}

/** Writes a config file to a fresh temporary folder and returns its path. */
export function writeTempConfig(yaml: string): string {
  const folder = mkdtempSync(join(tmpdir(), "cairn-test-"));
  const path = join(folder, "cairn.yaml");
  writeFileSync(path, yaml);
  return path;
}

function readStatusKiB(pid: number, field: string): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status);
  if (!match) throw new Error(`no ${field} in /proc/${pid}/status`);
  return Number(match[1]);
}

function collectLines(
  stream: NodeJS.ReadableStream,
  lines: string[],
  onLine?: (line: string) => void,
): void {
  let partial = "";
  stream.setEncoding("utf8");
  stream.on("data", (text: string) => {
    partial += text;
    let newline = partial.indexOf("\n");
    while (newline !== -1) {
      const line = partial.slice(0, newline);
      partial = partial.slice(newline + 1);
      lines.push(line);
      onLine?.(line);
      newline = partial.indexOf("\n");
    }
  });
}

/** Resolves after `ms` milliseconds. */
export function delay(ms: number): Promise<void> {
  return new Promise((resolveDelay) => setTimeout(resolveDelay, ms));
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the last result. */
export async function waitFor(check: () => boolean, timeoutMs = 5_000, stepMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await delay(stepMs);
  }
  return check();
}
