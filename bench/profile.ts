// `npm run bench:profile`: runs Cairn on Node and on Bun under the runtime's CPU profiler while
// wrk loads it, and writes the functions with the most CPU time into bench/RESULTS.md.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { buildCairnForNode, prepareCairnTree } from "./cairn-tree.ts";
import { checkTarget } from "./check.ts";
import { type ProfileSummary, summarizeProfile } from "./cpuprofile.ts";
import { formatNumber, table } from "./markdown.ts";
import { startOrigin } from "./origin.ts";
import { freePort, startProcess, stopAll, stopProcess, waitForPort } from "./processes.ts";
import { updateResultsFile } from "./results.ts";
import { BIN, ensureDebianCommands, ensureNpmPackages } from "./setup.ts";
import { runWrk, WORKLOAD_NAMES, type WorkloadName, WORKLOADS } from "./wrk.ts";

const RUNTIMES = ["node", "bun"] as const;
type ProfiledRuntime = typeof RUNTIMES[number];

const USAGE = `usage: npm run bench:profile -- [options]
  --runtimes a,b       from: ${RUNTIMES.join(", ")} (default both; Deno has no --cpu-prof flag)
  --workloads a,b      from: ${WORKLOAD_NAMES.join(", ")} (default small)
  --seconds N          length of the profiled wrk run, in seconds (default 10)
  --top N              functions listed per table (default 15)
  --cairn-commit REV   profile Cairn as committed at REV instead of the work tree
  --no-report          print the tables instead of writing bench/RESULTS.md`;

const PROXY_CPUS = "1";
const LOAD_CPUS = "0";

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    runtimes: { type: "string", default: RUNTIMES.join(",") },
    workloads: { type: "string", default: "small" },
    seconds: { type: "string", default: "10" },
    top: { type: "string", default: "15" },
    "cairn-commit": { type: "string" },
    "no-report": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}
const runtimes = values.runtimes.split(",") as ProfiledRuntime[];
const workloads = values.workloads.split(",") as WorkloadName[];
const seconds = Number(values.seconds);
const top = Number(values.top);
for (const name of runtimes) if (!RUNTIMES.includes(name)) fail(`unknown runtime "${name}"`);
for (const name of workloads) if (!WORKLOAD_NAMES.includes(name)) fail(`unknown workload "${name}"`);
if (!(seconds > 0 && top > 0)) fail("--seconds and --top must be positive");

ensureDebianCommands(["nginx", "wrk", "taskset"]);
ensureNpmPackages();
const startedAt = new Date();
const dir = mkdtempSync(join(tmpdir(), "cairn-profile-"));
const tree = prepareCairnTree(values["cairn-commit"], dir);
if (runtimes.includes("node")) buildCairnForNode(tree);
const sections: string[] = [];
process.on("SIGINT", () => void stopAll().then(() => process.exit(130)));

try {
  const originPort = await freePort();
  const origin = await startOrigin(dir, originPort, LOAD_CPUS);
  for (const workload of workloads) {
    for (const runtime of runtimes) {
      console.error(`bench:profile: ${workload} on cairn-${runtime}`);
      const summary = await profile(runtime, workload, originPort);
      sections.push(renderSummary(runtime, workload, summary));
    }
  }
  await stopProcess(origin);
} finally {
  await stopAll();
  rmSync(dir, { recursive: true, force: true });
}

const command = ["npm run bench:profile", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" ");
const block = [
  `- Command: \`${command}\` (${startedAt.toISOString()}); Cairn commit: ${tree.commit}`,
  "",
  `Cairn ran under \`node --cpu-prof\` or \`bun --cpu-prof\`, pinned to CPU ${PROXY_CPUS}, while wrk ` +
  `(\`-t1\`, pinned with the origin to CPU ${LOAD_CPUS}) loaded it for ${seconds} s after a 2 s ` +
  "warm-up. Self time is time with the function on top of the stack; total time includes what it " +
  "called. Percentages are of all sampled time, idle time included. Function names and lines are " +
  "from the profile, for the bundle's sources (Node) or the TypeScript files (Bun).",
  ...sections,
].join("\n");
if (values["no-report"]) {
  console.log(block);
} else {
  updateResultsFile({ profile: block });
  console.error("bench:profile: wrote bench/RESULTS.md");
}

async function profile(runtime: ProfiledRuntime, workloadName: WorkloadName, originPort: number): Promise<ProfileSummary> {
  const profileDir = join(dir, `profile-${runtime}-${workloadName}`);
  mkdirSync(profileDir);
  const port = await freePort();
  // The same config as the throughput benchmark's, with the access log off.
  const configPath = join(dir, `cairn-${runtime}-${workloadName}.yaml`);
  writeFileSync(configPath, [
    "listeners:",
    `  - address: 127.0.0.1:${port}`,
    "upstreams:",
    "  origin:",
    "    peers:",
    `      - url: http://127.0.0.1:${originPort}`,
    "routes:",
    "  - upstream: origin",
    "logging:",
    "  access: false",
    "",
  ].join("\n"));
  const cairnArgs = ["--config", configPath];
  const child = runtime === "node"
    ? startProcess("cairn-node", {
      command: "node",
      args: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, join(tree.root, "dist/node/cairn.js"), ...cairnArgs],
      cpus: PROXY_CPUS,
      cwd: tree.root,
    })
    : startProcess("cairn-bun", {
      command: join(BIN, "bun"),
      args: ["--cpu-prof", `--cpu-prof-dir=${profileDir}`, join(tree.root, "adapters/bun/main.ts"), ...cairnArgs],
      cpus: PROXY_CPUS,
      cwd: tree.root,
    });
  try {
    await waitForPort(port, child);
    await checkTarget(port, workloadName);
    const workload = WORKLOADS[workloadName];
    await runWrk({ port, workload, seconds: 2, cpus: LOAD_CPUS });
    const result = await runWrk({ port, workload, seconds, cpus: LOAD_CPUS });
    console.error(`bench:profile:   ${Math.round(result.requestsPerSecond)} req/s under the profiler`);
  } finally {
    // Cairn stops gracefully on SIGTERM, and the runtime writes the profile as it exits.
    await stopProcess(child, 15_000);
  }
  const files = readdirSync(profileDir).filter((name) => name.endsWith(".cpuprofile"));
  if (files.length !== 1) throw new Error(`expected one .cpuprofile in ${profileDir}, found ${files.length}`);
  return summarizeProfile(join(profileDir, files[0]), tree.root, top);
}

function renderSummary(runtime: string, workload: string, summary: ProfileSummary): string {
  const percent = (value: number) => `${formatNumber(value, 1)}%`;
  const rows = (list: ProfileSummary["bySelf"]) =>
    list.map((entry) => [`\`${entry.function.replaceAll("|", "/")}\``, percent(entry.selfPercent), percent(entry.totalPercent)]);
  return [
    "",
    `### cairn-${runtime}, ${workload} workload`,
    "",
    `${formatNumber(summary.sampledMs / 1000, 1)} s sampled, ${percent(summary.idlePercent)} idle.`,
    "",
    "By self time:",
    "",
    table(["function", "self", "total"], rows(summary.bySelf), ["l", "r", "r"]),
    "",
    "By total time:",
    "",
    table(["function", "self", "total"], rows(summary.byTotal), ["l", "r", "r"]),
  ].join("\n");
}

function fail(message: string): never {
  console.error(`bench:profile: ${message}\n${USAGE}`);
  process.exit(2);
}
