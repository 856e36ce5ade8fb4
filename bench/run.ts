// `npm run bench`: loads the origin alone and each proxy in front of it with wrk, on 127.0.0.1
// only, and writes bench/results/throughput.json and bench/RESULTS.md. Flags: bench/README.md.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { checkTarget } from "./check.ts";
import { originAcceptedConnections, startOrigin } from "./origin.ts";
import {
  freePort,
  machineBusySeconds,
  ownCpuSeconds,
  setAffinity,
  stopAll,
  stopProcess,
  treeCpuSeconds,
  treeKiB,
} from "./processes.ts";
import { saveSuite, type ThroughputRow, type ThroughputSuite, updateResultsFile } from "./results.ts";
import { buildCairnForNode, prepareCairnTree } from "./cairn-tree.ts";
import { bundleForNode, ensureDebianCommands, ensureNpmPackages } from "./setup.ts";
import { readSystemInfo } from "./system.ts";
import { TARGET_NAMES, type TargetContext, type TargetName, TARGETS } from "./targets.ts";
import { runWrk, WORKLOAD_NAMES, type WorkloadName, WORKLOADS } from "./wrk.ts";

const USAGE = `usage: npm run bench -- [options]
  --quick              1 s warm-up and 3 runs of 1 s each (about 2 minutes in all)
  --seconds N          length of each measured run, in seconds (default 5)
  --repeats N          measured runs per target and workload (default 3)
  --warmup N           warm-up before the measured runs, in seconds (default 2)
  --targets a,b        targets to run, from: ${TARGET_NAMES.join(", ")}
  --workloads a,b      workloads to run, from: ${WORKLOAD_NAMES.join(", ")}
  --cairn-commit REV   run Cairn as committed at REV (extracted with git archive) instead of
                       the work tree, so that edits during the run do not reach it
  --no-pin             let the scheduler place processes instead of pinning them to CPUs
  --no-report          leave bench/results/ and bench/RESULTS.md unchanged`;

/** The proxy gets CPU 1 to itself; wrk and the origin share CPU 0. */
const PROXY_CPUS = "1";
const LOAD_CPUS = "0";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    quick: { type: "boolean", default: false },
    seconds: { type: "string" },
    repeats: { type: "string" },
    warmup: { type: "string" },
    targets: { type: "string" },
    workloads: { type: "string" },
    "cairn-commit": { type: "string" },
    "no-pin": { type: "boolean", default: false },
    "no-report": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});

if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

const seconds = positiveNumber("--seconds", values.seconds, values.quick ? 1 : 5);
const repeats = positiveNumber("--repeats", values.repeats, 3);
const warmupSeconds = positiveNumber("--warmup", values.warmup, values.quick ? 1 : 2);
const targets = pickNames("--targets", values.targets, TARGET_NAMES);
const workloads = pickNames("--workloads", values.workloads, WORKLOAD_NAMES);
const pin = !values["no-pin"];

ensureDebianCommands(["nginx", "haproxy", "wrk", "taskset"]);
ensureNpmPackages();
const startedAt = new Date();
const loadBefore = loadavg()[0];
const dir = mkdtempSync(join(tmpdir(), "cairn-bench-"));
const tree = prepareCairnTree(values["cairn-commit"], dir);
if (targets.includes("cairn-node")) buildCairnForNode(tree);
if (targets.includes("node-http-proxy")) bundleForNode("bench/proxies/node-http-proxy.ts", "node-http-proxy");
const rows: ThroughputRow[] = [];
process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));

try {
  const originPort = await freePort();
  const origin = await startOrigin(dir, originPort, pin ? LOAD_CPUS : undefined);
  const context = { dir, originPort, cpus: pin ? PROXY_CPUS : undefined, cairnRoot: tree.root };
  for (const workloadName of workloads) {
    for (const targetName of targets) {
      console.error(`bench: ${workloadName} on ${targetName}`);
      try {
        rows.push(await measure(context, origin.pid, targetName, workloadName));
      } catch (error) {
        const message = error instanceof Error ? error.message : String(error);
        console.error(`bench:   failed: ${message}\n${logTail(dir, targetName)}`);
        rows.push({ target: targetName, workload: workloadName, runs: [], peakMemoryKiB: undefined, cpuSeconds: undefined, otherCores: 0, originConnections: 0, failure: message });
      }
    }
  }
  await stopProcess(origin);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

if (!values["no-report"]) {
  const suite: ThroughputSuite = {
    command: ["npm run bench", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" "),
    date: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    system: readSystemInfo(tree.commit),
    loadAverage: { before: loadBefore, after: loadavg()[0] },
    seconds,
    warmupSeconds,
    repeats,
    pinning: pin ? { proxy: PROXY_CPUS, loadAndOrigin: LOAD_CPUS } : undefined,
    targets: Object.fromEntries(targets.map((name) => [name, TARGETS[name].description])),
    workloads: Object.fromEntries(workloads.map((name) => [name, WORKLOADS[name].description])),
    rows,
  };
  saveSuite("throughput", suite);
  updateResultsFile();
  console.error("bench: wrote bench/results/throughput.json and bench/RESULTS.md");
}

/** Starts a fresh target, checks it, warms it up, measures it and stops it. */
async function measure(
  context: TargetContext,
  originPid: number,
  targetName: TargetName,
  workloadName: WorkloadName,
): Promise<ThroughputRow> {
  const workload = WORKLOADS[workloadName];
  const running = await TARGETS[targetName].start(context, await freePort());
  const loadCpus = context.cpus === undefined ? undefined : LOAD_CPUS;
  // The origin alone gets the proxy's CPU, so it is measured as a proxy would be.
  const movesOrigin = running.child === undefined && context.cpus !== undefined;
  if (movesOrigin) setAffinity(originPid, PROXY_CPUS);
  try {
    await checkTarget(running.port, workloadName);
    const acceptedBefore = await originAcceptedConnections(context.originPort);
    await runWrk({ port: running.port, workload, seconds: warmupSeconds, cpus: loadCpus });
    const runs = [];
    const usage = new CpuUsage(running.child?.pid, originPid);
    for (let i = 0; i < repeats; i++) {
      runs.push(await runWrk({ port: running.port, workload, seconds, cpus: loadCpus }));
    }
    const { proxySeconds: cpuSeconds, otherCores } = usage.stop();
    const peakMemoryKiB = running.child === undefined ? undefined : treeKiB(running.child.pid, "VmHWM");
    const originConnections = await originAcceptedConnections(context.originPort) - acceptedBefore;
    const rps = runs.map((run) => Math.round(run.requestsPerSecond)).join(", ");
    console.error(`bench:   req/s ${rps}; errors ${runs.reduce((sum, run) => sum + run.errors, 0)}`);
    return { target: targetName, workload: workloadName, runs, peakMemoryKiB, cpuSeconds, otherCores, originConnections };
  } finally {
    if (running.child !== undefined) await stopProcess(running.child);
    if (movesOrigin) setAffinity(originPid, LOAD_CPUS);
  }
}

/**
 * Measures, from its creation to `stop`, the CPU time of the proxy, and the CPUs that processes
 * outside the benchmark kept busy: the machine's busy time less the proxy's, the origin's and the
 * driver's with its wrk children.
 */
class CpuUsage {
  readonly #proxyPid: number | undefined;
  readonly #originPid: number;
  readonly #startedMs = Date.now();
  readonly #machine = machineBusySeconds();
  readonly #proxy: number;
  readonly #origin: number;
  readonly #own = ownCpuSeconds();

  constructor(proxyPid: number | undefined, originPid: number) {
    this.#proxyPid = proxyPid;
    this.#originPid = originPid;
    this.#proxy = proxyPid === undefined ? 0 : treeCpuSeconds(proxyPid);
    this.#origin = treeCpuSeconds(originPid);
  }

  stop(): { proxySeconds: number | undefined; otherCores: number } {
    const proxy = this.#proxyPid === undefined ? 0 : treeCpuSeconds(this.#proxyPid) - this.#proxy;
    const origin = treeCpuSeconds(this.#originPid) - this.#origin;
    const own = ownCpuSeconds() - this.#own;
    const other = machineBusySeconds() - this.#machine - proxy - origin - own;
    const elapsed = (Date.now() - this.#startedMs) / 1000;
    return {
      proxySeconds: this.#proxyPid === undefined ? undefined : proxy,
      otherCores: Math.max(0, other / elapsed),
    };
  }
}

/** Returns the last lines a target wrote on standard error, for a failure message. */
function logTail(dir: string, targetName: string): string {
  try {
    return readFileSync(join(dir, `${targetName}-stderr.log`), "utf8").trimEnd().split("\n").slice(-10).join("\n");
  } catch {
    return "";
  }
}

function positiveNumber(flag: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!(value > 0)) fail(`${flag} must be a positive number, got "${text}"`);
  return value;
}

function pickNames<T extends string>(flag: string, text: string | undefined, all: readonly T[]): T[] {
  if (text === undefined) return [...all];
  const names = text.split(",").map((name) => name.trim()).filter((name) => name !== "");
  for (const name of names) {
    if (!all.includes(name as T)) fail(`${flag}: unknown name "${name}"; expected one of ${all.join(", ")}`);
  }
  return names as T[];
}

function fail(message: string): never {
  console.error(`bench: ${message}\n${USAGE}`);
  process.exit(2);
}
