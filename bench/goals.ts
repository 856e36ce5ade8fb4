// Checks the performance targets against the latest results of each suite.
import { formatNumber, mib, table } from "./markdown.ts";
import { findRow, summarize, type ThroughputSummary } from "./report-throughput.ts";
import type { MemorySuite, MicroSuite, Suites, ThroughputSuite } from "./results.ts";

interface Check {
  target: string;
  measured: string;
  /** undefined when the suite, or a row it needs, has not been run. */
  met: boolean | undefined;
}

const CAIRNS = ["cairn-bun", "cairn-deno", "cairn-node"];

export function renderTargets(suites: Suites): string {
  const checks = [
    ...throughputChecks(suites.throughput),
    ...memoryChecks(suites.memory),
    ...parserChecks(suites.micro),
  ];
  const rows = checks.map((check) => [check.target, check.measured, resultText(check.met)]);
  return [
    "Computed from the tables below; each ratio compares two figures of the same run. Throughput " +
    "targets are judged on requests per second, as they are stated, and the ratio of requests per " +
    "CPU-second of the proxy is shown beside it because it depends less on other work on the machine.",
    "",
    table(["target", "measured", "result"], rows),
  ].join("\n");
}

function resultText(met: boolean | undefined): string {
  if (met === undefined) return "not measured";
  return met ? "met" : "**not met**";
}

function throughputChecks(suite: ThroughputSuite | undefined): Check[] {
  const ratio = (target: string, baseline: string, workload: string) => {
    const row = suite && findRow(suite, target, workload);
    const base = suite && findRow(suite, baseline, workload);
    if (row === undefined || base === undefined) return undefined;
    return { row: summarize(row), base: summarize(base) };
  };
  const checks: Check[] = [];

  const bun = ratio("cairn-bun", "nginx", "small");
  checks.push({
    target: "Cairn on Bun ≥ 1.0× nginx req/s for small responses, with p99 no worse",
    measured: bun === undefined ? "–" : `${formatNumber(bun.row.rps / bun.base.rps, 2)}× req/s${perCpuRatio(bun)}; p99 ` +
      `${formatNumber(bun.row.p99Ms, 2)} ms vs ${formatNumber(bun.base.p99Ms, 2)} ms`,
    met: bun === undefined ? undefined : bun.row.rps >= bun.base.rps && bun.row.p99Ms <= bun.base.p99Ms,
  });
  checks.push(ratioCheck("Cairn on Node ≥ 5× node-http-proxy req/s (small responses)", ratio("cairn-node", "node-http-proxy", "small"), 5));
  checks.push(ratioCheck("Cairn on Deno ≥ 2.5× the Deno.serve + fetch proxy req/s (small responses)", ratio("cairn-deno", "deno-fetch", "small"), 2.5));
  for (const cairn of CAIRNS) {
    checks.push(ratioCheck(`${cairn}: 10 MiB responses ≥ 1.0× HAProxy throughput`, ratio(cairn, "haproxy", "large"), 1));
  }
  return checks;
}

function ratioCheck(target: string, pair: { row: ThroughputSummary; base: ThroughputSummary } | undefined, minimum: number): Check {
  if (pair === undefined) return { target, measured: "–", met: undefined };
  const value = pair.row.rps / pair.base.rps;
  return { target, measured: `${formatNumber(value, 2)}×${perCpuRatio(pair)}`, met: value >= minimum };
}

/** Returns the ratio of requests per CPU-second, which other work on the machine disturbs less. */
function perCpuRatio(pair: { row: ThroughputSummary; base: ThroughputSummary }): string {
  const { row, base } = pair;
  if (row.requestsPerCpuSecond === undefined || base.requestsPerCpuSecond === undefined) return "";
  return ` (per CPU-second: ${formatNumber(row.requestsPerCpuSecond / base.requestsPerCpuSecond, 2)}×)`;
}

function memoryChecks(suite: MemorySuite | undefined): Check[] {
  const checks: Check[] = [];
  for (const cairn of CAIRNS) {
    const idle = suite?.rows.find((row) => row.target === cairn && row.scenario === "idle-connections");
    const growth = idle && idle.afterKiB - idle.beforeKiB;
    checks.push({
      target: `${cairn}: 10,000 idle connections ≤ 64 MiB RSS above idle`,
      measured: growth === undefined ? "–" : `${mib(growth)} MiB over ${formatNumber(idle!.amount)} connections`,
      met: growth === undefined ? undefined : growth <= 64 * 1024 && idle!.amount >= 10_000,
    });
    for (const scenario of ["upload", "download"]) {
      const row = suite?.rows.find((each) => each.target === cairn && each.scenario === scenario);
      const peakGrowth = row && row.peakKiB - row.beforeKiB;
      checks.push({
        target: `${cairn}: 1 GiB streamed ${scenario}, RSS grows ≤ 32 MiB`,
        measured: peakGrowth === undefined ? "–" : `${mib(peakGrowth)} MiB (peak − before)`,
        met: peakGrowth === undefined ? undefined : peakGrowth <= 32 * 1024 && row!.amount >= 2 ** 30,
      });
    }
  }
  return checks;
}

function parserChecks(suite: MicroSuite | undefined): Check[] {
  const find = (name: string) =>
    suite?.rows.find((row) => row.group === "browser GET, 10 fields" && row.name === name);
  const cairn = find("cairn");
  const llhttp = find("llhttp");
  const value = cairn && llhttp ? llhttp.p50Ns / cairn.p50Ns : undefined;
  return [{
    target: "Parser ≥ 1.0× llhttp messages/s for the typical request, on Node",
    measured: value === undefined ? "–" : `${formatNumber(value, 2)}× (median time per message)`,
    met: value === undefined ? undefined : value >= 1,
  }];
}
