// `npm run bench:micro`: the parser micro-benchmark on Node (it needs Node's llhttp) and the
// router and balancer micro-benchmarks on Bun; writes bench/results/micro.json and
// bench/RESULTS.md.
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { prepareCairnTree } from "./cairn-tree.ts";
import { JSON_MARKER } from "./micro/report.ts";
import type { MicroRow, MicroSuite } from "./results.ts";
import { saveSuite, updateResultsFile } from "./results.ts";
import { BIN, ensureNpmPackages } from "./setup.ts";
import { readSystemInfo } from "./system.ts";

const USAGE = `usage: npm run bench:micro -- [options]
  --cairn-commit REV   benchmark Cairn's sources as committed at REV instead of the work tree
  --no-report          leave bench/results/ and bench/RESULTS.md unchanged`;

const { values } = parseArgs({
  args: process.argv.slice(2),
  options: {
    "cairn-commit": { type: "string" },
    "no-report": { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (values.help) {
  console.log(USAGE);
  process.exit(0);
}

ensureNpmPackages();
const startedAt = new Date();
const dir = mkdtempSync(join(tmpdir(), "cairn-micro-"));
const rows: MicroRow[] = [];
let commit: string;
try {
  const tree = prepareCairnTree(values["cairn-commit"], dir);
  commit = tree.commit;
  const parserBundle = join(dir, "parser.js");
  run(join(BIN, "bun"), ["build", join(tree.root, "bench/micro/parser.ts"), "--target=node", `--outfile=${parserBundle}`]);
  console.error("bench:micro: parser against llhttp, on Node");
  rows.push(...runBenchmark("node", [parserBundle]));
  console.error("bench:micro: router and balancer, on Bun");
  rows.push(...runBenchmark(join(BIN, "bun"), [join(tree.root, "bench/micro/routing.ts")]));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

for (const row of rows) {
  console.error(`  ${row.group} / ${row.name} (${row.runtime}): p50 ${row.p50Ns.toFixed(1)} ns`);
}

if (!values["no-report"]) {
  const suite: MicroSuite = {
    command: ["npm run bench:micro", ...(process.argv.length > 2 ? ["--", ...process.argv.slice(2)] : [])].join(" "),
    date: startedAt.toISOString(),
    durationSeconds: (Date.now() - startedAt.getTime()) / 1000,
    system: readSystemInfo(commit),
    rows,
  };
  saveSuite("micro", suite);
  updateResultsFile();
  console.error("bench:micro: wrote bench/results/micro.json and bench/RESULTS.md");
}

/** Runs one benchmark script and reads the rows it prints after JSON_MARKER. */
function runBenchmark(command: string, args: string[]): MicroRow[] {
  const output = run(command, args);
  const line = output.split("\n").find((each) => each.startsWith(JSON_MARKER));
  if (line === undefined) throw new Error(`${command} ${args.join(" ")} printed no results:\n${output}`);
  return JSON.parse(line.slice(JSON_MARKER.length));
}

function run(command: string, args: string[]): string {
  // mitata stops each benchmark after a bounded number of samples; the timeout guards a hang.
  const result = spawnSync(command, args, { encoding: "utf8", timeout: 300_000, maxBuffer: 16 * 2 ** 20 });
  if (result.error !== undefined) throw new Error(`${command} failed: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}:\n${result.stderr}`);
  return result.stdout;
}
