// Starting, watching and stopping the benchmark's child processes. Every process is stopped by
// its own pid, never by name, and memory is read from Linux's /proc.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { openSync, readdirSync, readFileSync } from "node:fs";
import { connect, createServer } from "node:net";

export interface StartOptions {
  command: string;
  args: string[];
  /** File that receives the process's standard output; /dev/null when absent. */
  stdoutFile?: string;
  /** File that receives the process's standard error; /dev/null when absent. */
  stderrFile?: string;
  /** CPU list for `taskset -c`, such as "1"; the process may run on any CPU when absent. */
  cpus?: string;
  env?: Record<string, string>;
  cwd?: string;
}

/** A child process started by the benchmark. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly process: ChildProcess;
  /** The exit code, or the signal name, once the process has exited. */
  exited(): string | undefined;
}

/** Starts a process with its output sent to files, pinned to `cpus` when given. */
export function startProcess(name: string, options: StartOptions): Child {
  const stdout = openSync(options.stdoutFile ?? "/dev/null", "a");
  const stderr = openSync(options.stderrFile ?? "/dev/null", "a");
  // taskset replaces itself with the command (exec), so the pid is the command's own.
  const command = options.cpus === undefined ? options.command : "taskset";
  const args = options.cpus === undefined
    ? options.args
    : ["-c", options.cpus, options.command, ...options.args];
  const child = spawn(command, args, {
    stdio: ["ignore", stdout, stderr],
    env: { ...process.env, ...options.env },
    cwd: options.cwd,
  });
  if (child.pid === undefined) throw new Error(`${name}: failed to start ${command}`);
  let exit: string | undefined;
  const started: Child = { name, pid: child.pid, process: child, exited: () => exit };
  running.add(started);
  child.on("exit", (code, signal) => {
    exit = signal ?? String(code);
    running.delete(started);
  });
  return started;
}

/** Processes started by startProcess that have not exited yet. */
const running = new Set<Child>();

/** Stops every process that startProcess started and that still runs, each by its pid. */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((child) => stopProcess(child)));
}

/** Moves a running process and the processes below it, every thread, to `cpus`. */
export function setAffinity(pid: number, cpus: string): void {
  for (const each of [pid, ...descendantPids(pid)]) {
    runCommand("taskset", ["-a", "-p", "-c", cpus, String(each)]);
  }
}

/**
 * Stops a process by its pid: SIGTERM, then SIGKILL after `graceMs`. Children of the process
 * (nginx's workers) are stopped by their parent; any that outlive it are killed by pid.
 */
export async function stopProcess(child: Child, graceMs = 3000): Promise<void> {
  if (child.exited() !== undefined) return;
  const descendants = descendantPids(child.pid);
  const done = new Promise<void>((resolve) => child.process.once("exit", () => resolve()));
  child.process.kill("SIGTERM");
  const timer = new Promise<"timeout">((resolve) => setTimeout(() => resolve("timeout"), graceMs));
  if (await Promise.race([done, timer]) === "timeout") {
    child.process.kill("SIGKILL");
    await done;
  }
  for (const pid of descendants) {
    if (isAlive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // It exited between the check and the kill.
      }
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Returns the pids of every process below `pid`, found through the parent pids in /proc. */
export function descendantPids(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue;
    }
    // The command name is in brackets and may contain spaces, so fields count from the last ")".
    const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    const list = children.get(parent) ?? [];
    list.push(Number(entry));
    children.set(parent, list);
  }
  const found: number[] = [];
  const pending = [pid];
  while (pending.length > 0) {
    for (const child of children.get(pending.pop()!) ?? []) {
      found.push(child);
      pending.push(child);
    }
  }
  return found;
}

/** Reads a memory field such as `VmHWM` or `VmRSS` from /proc/PID/status, in KiB. */
export function readStatusKiB(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const match = status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
  if (match === null) throw new Error(`/proc/${pid}/status has no ${field} line`);
  return Number(match[1]);
}

/** Sums a memory field over a process and every process below it, in KiB. */
export function treeKiB(pid: number, field: "VmHWM" | "VmRSS"): number {
  let total = 0;
  for (const each of [pid, ...descendantPids(pid)]) {
    try {
      total += readStatusKiB(each, field);
    } catch {
      // A process that exited while the tree was read uses no memory.
    }
  }
  return total;
}

/** Linux's clock tick for the times in /proc/PID/stat (`getconf CLK_TCK`). */
const CLOCK_TICKS_PER_SECOND = Number(runCommandOr("getconf", ["CLK_TCK"], "100"));

/** CPU time, user and system, used so far by a process and every process below it, in seconds. */
export function treeCpuSeconds(pid: number): number {
  let ticks = 0;
  for (const each of [pid, ...descendantPids(pid)]) {
    try {
      const stat = readFileSync(`/proc/${each}/stat`, "utf8");
      // Fields after the command name start at field 3, so utime (14) and stime (15) are at 11 and 12.
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // A process that exited while the tree was read is left out.
    }
  }
  return ticks / CLOCK_TICKS_PER_SECOND;
}

/** CPU time that every CPU of the machine has spent busy so far (not idle or waiting for I/O), in seconds. */
export function machineBusySeconds(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0];
  // cpu user nice system idle iowait irq softirq steal ...
  const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
  return (user + nice + system + irq + softirq + (steal ?? 0)) / CLOCK_TICKS_PER_SECOND;
}

/** CPU time used by this process and by the children it has waited for (wrk runs), in seconds. */
export function ownCpuSeconds(): number {
  const stat = readFileSync("/proc/self/stat", "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime, stime, cutime and cstime are fields 14 to 17.
  return (Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND;
}

/** Returns a TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Waits until 127.0.0.1:`port` accepts a TCP connection; throws after `timeoutMs`. */
export async function waitForPort(port: number, child: Child, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exited() !== undefined) {
      throw new Error(`${child.name} exited (${child.exited()}) before it listened on port ${port}`);
    }
    if (await canConnect(port)) return;
    await sleep(50);
  }
  throw new Error(`${child.name} did not listen on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Runs a command to completion and returns its standard output; throws when it fails. */
export function runCommand(command: string, args: string[], options: { cwd?: string } = {}): string {
  const result = spawnSync(command, args, { encoding: "utf8", cwd: options.cwd });
  if (result.error !== undefined) throw new Error(`${command} failed to start: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(" ")} exited ${result.status}: ${result.stderr.trim()}`);
  }
  return result.stdout;
}

function runCommandOr(command: string, args: string[], fallback: string): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  return result.status === 0 ? result.stdout.trim() : fallback;
}

/** True when `command` is found on PATH. */
export function hasCommand(command: string): boolean {
  return spawnSync("sh", ["-c", `command -v ${command}`], { stdio: "ignore" }).status === 0;
}
