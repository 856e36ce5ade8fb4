// Runs wrk and parses its report.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./setup.ts";

export const WORKLOAD_NAMES = ["small", "large", "upload"] as const;
export type WorkloadName = typeof WORKLOAD_NAMES[number];

export interface Workload {
  name: WorkloadName;
  description: string;
  path: string;
  connections: number;
  /** wrk Lua script, for requests other than a plain GET. */
  script?: string;
}

export const WORKLOADS: Record<WorkloadName, Workload> = {
  small: {
    name: "small",
    description: "GET of a 100-byte response, 64 connections",
    path: "/small",
    connections: 64,
  },
  large: {
    name: "large",
    description: "GET of a 10 MiB response, 8 connections",
    path: "/large",
    connections: 8,
  },
  upload: {
    name: "upload",
    description: "POST of a 1 MiB body (bench/upload.lua) answered with 7 bytes, 16 connections",
    path: "/upload",
    connections: 16,
    script: join(ROOT, "bench/upload.lua"),
  },
};

/** One wrk run's figures. Latencies are in milliseconds. */
export interface WrkResult {
  requestsPerSecond: number;
  requests: number;
  seconds: number;
  p50Ms: number;
  p99Ms: number;
  /** Socket errors (connect, read, write, timeout) plus responses that were not 2xx or 3xx. */
  errors: number;
}

export interface WrkOptions {
  port: number;
  workload: Workload;
  seconds: number;
  /** CPU list for `taskset -c`; wrk may run on any CPU when absent. */
  cpus?: string;
}

/** Returns the wrk command line for a run, as an argument list starting with the program. */
export function wrkCommand(options: WrkOptions): string[] {
  const { workload } = options;
  const args = ["wrk", "-t1", `-c${workload.connections}`, `-d${options.seconds}s`, "--latency", "--timeout", "10s"];
  if (workload.script !== undefined) args.push("-s", workload.script);
  args.push(`http://127.0.0.1:${options.port}${workload.path}`);
  return options.cpus === undefined ? args : ["taskset", "-c", options.cpus, ...args];
}

/** Runs wrk once and returns its parsed report; throws when wrk fails or prints no report. */
export function runWrk(options: WrkOptions): Promise<WrkResult> {
  const [command, ...args] = wrkCommand(options);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    child.stdout.on("data", (chunk) => (output += chunk));
    child.stderr.on("data", (chunk) => (output += chunk));
    // wrk stops by itself after its duration; the timer only guards against a hung wrk.
    const timer = setTimeout(() => child.kill("SIGKILL"), (options.seconds + 30) * 1000);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`wrk exited ${code}: ${output.trim()}`));
      try {
        resolve(parseWrkOutput(output));
      } catch (error) {
        reject(error);
      }
    });
  });
}

/** Parses the report that `wrk --latency` prints. */
export function parseWrkOutput(output: string): WrkResult {
  const rps = output.match(/^Requests\/sec:\s+([\d.]+)/m);
  const total = output.match(/^\s*(\d+) requests in ([\d.]+)(us|ms|s|m|h)/m);
  const p50 = output.match(/^\s+50%\s+([\d.]+)(us|ms|s|m|h)/m);
  const p99 = output.match(/^\s+99%\s+([\d.]+)(us|ms|s|m|h)/m);
  if (rps === null || total === null || p50 === null || p99 === null) {
    throw new Error(`wrk printed no complete report:\n${output}`);
  }
  let errors = 0;
  const socket = output.match(/Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/);
  if (socket !== null) errors += socket.slice(1).reduce((sum, count) => sum + Number(count), 0);
  const non2xx = output.match(/Non-2xx or 3xx responses: (\d+)/);
  if (non2xx !== null) errors += Number(non2xx[1]);
  return {
    requestsPerSecond: Number(rps[1]),
    requests: Number(total[1]),
    seconds: toMs(total[2], total[3]) / 1000,
    p50Ms: toMs(p50[1], p50[2]),
    p99Ms: toMs(p99[1], p99[2]),
    errors,
  };
}

const MS_PER_UNIT: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

function toMs(value: string, unit: string): number {
  return Number(value) * MS_PER_UNIT[unit];
}
