// `npm run bench:memory`: the resident memory of each proxy with many idle keep-alive client
// connections, and while it streams a large upload and a large download, on 127.0.0.1 only.
// Writes bench/results/memory.json and bench/RESULTS.md. Flags: bench/README.md.
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildCairnForNode, prepareCairnTree } from "./cairn-tree.ts";
import {
  type Child,
  descendantPids,
  freePort,
  sleep,
  startProcess,
  stopAll,
  stopProcess,
  treeKiB,
  waitForPort,
} from "./processes.ts";
import { type MemoryRow, type MemorySuite, saveSuite, updateResultsFile } from "./results.ts";
import { BIN, ensureDebianCommands, ensureNpmPackages, ROOT } from "./setup.ts";
import { readSystemInfo } from "./system.ts";
import { TARGET_NAMES, type TargetContext, type TargetName, TARGETS } from "./targets.ts";

const SCENARIOS = ["idle-connections", "upload", "download"] as const;
type Scenario = typeof SCENARIOS[number];

const USAGE = `usage: npm run bench:memory -- [options]
  --quick              2,000 connections and 256 MiB bodies
  --connections N      idle keep-alive connections to open (default 10000)
  --mib N              size of the streamed upload and download, in MiB (default 1024)
  --rate N             read rate of the slow side (the client for downloads, the origin for
                       uploads), in MiB/s (default 256)
  --targets a,b        from: ${TARGET_NAMES.filter((name) => name !== "origin").join(", ")}
                       (default cairn-bun,cairn-deno,cairn-node,nginx)
  --scenarios a,b      from: ${SCENARIOS.join(", ")}
  --cairn-commit REV   run Cairn as committed at REV instead of the work tree
  --no-report          leave bench/results/ and bench/RESULTS.md unchanged`;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: "boolean", default: false },
    connections: { type: "string" },
    mib: { type: "string" },
    rate: { type: "string" },
    targets: { type: "string" },
    scenarios: { type: "string" },
    "cairn-commit": { type: "string" },
    "no-report": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const connections = Number(values.connections ?? (values.quick ? 2000 : 10_000));
const streamBytes = Number(values.mib ?? (values.quick ? 256 : 1024)) * 2 ** 20;
const rateMiB = Number(values.rate ?? 256);
const targets = (values.targets ?? "cairn-bun,cairn-deno,cairn-node,nginx").split(",") as TargetName[];
const scenarios = (values.scenarios ?? SCENARIOS.join(",")).split(",") as Scenario[];
for (const name of targets) if (!(name in TARGETS) || name === "origin") fail(`unknown target "${name}"`);
for (const name of scenarios) if (!SCENARIOS.includes(name)) fail(`unknown scenario "${name}"`);
if (!(connections > 0 && streamBytes > 0 && rateMiB > 0)) fail("--connections, --mib and --rate must be positive");
checkFileLimit(connections);

ensureDebianCommands(["nginx", "haproxy"]);
ensureNpmPackages();
const startedAt = new Date();
const dir = mkdtempSync(join(tmpdir(), "cairn-memory-"));
const tree = prepareCairnTree(values["cairn-commit"], dir);
if (targets.includes("cairn-node")) buildCairnForNode(tree);
const rows: MemoryRow[] = [];
process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));

try {
  const originPort = await freePort();
  const origin = startProcess("stream origin", {
    command: join(BIN, "bun"),
    args: [join(ROOT, "bench/memory/stream-origin.ts"), String(originPort), String(rateMiB)],
    stderrFile: join(dir, "stream-origin-stderr.log"),
  });
  await waitForPort(originPort, origin);
  const context: TargetContext = { dir, originPort, cpus: undefined, cairnRoot: tree.root };
  for (const scenario of scenarios) {
    for (const target of targets) {
      console.error(`bench:memory: ${scenario} on ${target}`);
      try {
        const row = await measure(context, target, scenario);
        rows.push(row);
        console.error(`bench:memory:   before ${kib(row.beforeKiB)}, after ${kib(row.afterKiB)}, peak ${kib(row.peakKiB)}`);
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        console.error(`bench:memory:   failed: ${message}`);
        rows.push({ target, scenario, beforeKiB: 0, afterKiB: 0, peakKiB: 0, amount: 0, seconds: 0, note: `failed: ${message}` });
      }
    }
  }
  await stopProcess(origin);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

if (!values["no-report"]) {
  const suite: MemorySuite = {
    command: ["npm run bench:memory", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" "),
    date: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    system: readSystemInfo(tree.commit),
    rows,
  };
  saveSuite("memory", suite);
  updateResultsFile();
  console.error("bench:memory: wrote bench/results/memory.json and bench/RESULTS.md");
}

/** Runs one scenario on a fresh proxy process. */
async function measure(context: TargetContext, target: TargetName, scenario: Scenario): Promise<MemoryRow> {
  const running = await TARGETS[target].start(context, await freePort());
  const proxy = running.child!;
  try {
    await warmUp(running.port, scenario);
    await sleep(1000);
    const beforeKiB = treeKiB(proxy.pid, "VmRSS");
    const peakReset = resetPeak(proxy.pid);
    const started = Date.now();
    let amount: number;
    let afterKiB: number;
    if (scenario === "idle-connections") {
      const held = await holdIdleConnections(running.port, proxy.pid);
      amount = held.count;
      afterKiB = held.rssKiB;
    } else {
      amount = await streamBody(running.port, scenario, streamBytes);
      afterKiB = treeKiB(proxy.pid, "VmRSS");
    }
    return {
      target,
      scenario,
      beforeKiB,
      afterKiB,
      peakKiB: treeKiB(proxy.pid, "VmHWM"),
      amount,
      seconds: (Date.now() - started) / 1000,
      note: peakReset ? undefined : "peak includes start-up: /proc/PID/clear_refs was not writable",
    };
  } finally {
    await stopProcess(proxy);
  }
}

/**
 * Sends 200 small requests, and for a streaming scenario one 16 MiB body in the same direction,
 * so that the code paths are compiled and the pools filled before the baseline is read.
 */
async function warmUp(port: number, scenario: Scenario): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const response = await fetch(`http://127.0.0.1:${port}/small`);
    await response.arrayBuffer();
    if (response.status !== 200) throw new Error(`warm-up request got status ${response.status}, expected 200`);
  }
  if (scenario !== "idle-connections") await streamBody(port, scenario, 16 * 2 ** 20);
}

/**
 * Resets the peak resident memory (VmHWM) of a process and the processes below it by writing 5
 * to /proc/PID/clear_refs (Linux 4.0 or later). Returns false when the file is not writable.
 */
function resetPeak(pid: number): boolean {
  try {
    for (const each of [pid, ...descendantPids(pid)]) writeFileSync(`/proc/${each}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/**
 * Opens the idle connections from a separate process, reads the proxy's resident memory once
 * every connection has had its response and 2 s have passed, then closes them.
 */
async function holdIdleConnections(port: number, proxyPid: number): Promise<{ count: number; rssKiB: number }> {
  const clients = spawn(join(BIN, "bun"), [join(ROOT, "bench/memory/idle-clients.ts"), String(port), String(connections), "300"], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  try {
    const count = await new Promise<number>((resolve, reject) => {
      let output = "";
      const timer = setTimeout(() => reject(new Error("idle clients were not ready within 180 s")), 180_000);
      clients.stdout.on("data", (chunk) => {
        output += chunk;
        const match = output.match(/^ready (\d+)$/m);
        if (match !== null) {
          clearTimeout(timer);
          resolve(Number(match[1]));
        }
      });
      clients.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`idle clients exited (${code}) before they were ready`));
      });
    });
    await sleep(2000);
    return { count, rssKiB: treeKiB(proxyPid, "VmRSS") };
  } finally {
    const exited = new Promise((resolve) => clients.once("exit", resolve));
    if (clients.exitCode === null && clients.signalCode === null) {
      clients.kill("SIGTERM");
      await exited;
    }
  }
}

/** Streams `bytes` through the proxy with bench/memory/stream-client.ts; returns the bytes moved. */
async function streamBody(port: number, scenario: "upload" | "download", bytes: number): Promise<number> {
  const args = [join(ROOT, "bench/memory/stream-client.ts"), scenario, String(port), String(bytes)];
  if (scenario === "download") args.push(String(rateMiB));
  const client = spawn(join(BIN, "bun"), args, { stdio: ["ignore", "pipe", "inherit"] });
  let output = "";
  client.stdout.on("data", (chunk) => (output += chunk));
  const code = await new Promise<number | null>((resolve) => client.on("exit", resolve));
  if (code !== 0) throw new Error(`stream client (${scenario}) exited ${code}: ${output.trim()}`);
  const result = JSON.parse(output) as { status: number; bytes: number };
  if (result.bytes !== bytes) throw new Error(`stream client (${scenario}) moved ${result.bytes} of ${bytes} bytes`);
  return result.bytes;
}

/** Throws unless this process may open enough files for the connections and the proxy's own. */
function checkFileLimit(needed: number): void {
  const limits = readFileSync("/proc/self/limits", "utf8");
  const soft = Number(limits.match(/^Max open files\s+(\d+)/m)?.[1] ?? "0");
  if (soft < needed + 1024) {
    fail(
      `the open-file limit is ${soft}, and ${needed} connections need at least ${needed + 1024}: ` +
        "raise it with `ulimit -n`, or run through `npm run bench:memory`, which raises it to the hard limit",
    );
  }
}

function kib(value: number): string {
  return `${(value / 1024).toFixed(1)} MiB`;
}

function fail(message: string): never {
  console.error(`bench:memory: ${message}\n${USAGE}`);
  process.exit(2);
}
