// Renders the throughput suite (`npm run bench`) as Markdown tables, one per workload.
import { formatNumber, median, mib, renderSystem, table } from "./markdown.ts";
import type { ThroughputRow, ThroughputSuite } from "./results.ts";

/** Bytes each request of a workload moves, for the MiB/s column. */
const BYTES_PER_REQUEST: Record<string, number> = { large: 10 * 2 ** 20, upload: 2 ** 20 };

export interface ThroughputSummary {
  rps: number;
  /** Requests of the measured runs per CPU-second of the proxy; undefined for the origin. */
  requestsPerCpuSecond: number | undefined;
  minRps: number;
  maxRps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

/** Medians over the measured runs of one target and workload. */
export function summarize(row: ThroughputRow): ThroughputSummary {
  const rps = row.runs.map((run) => run.requestsPerSecond);
  const requests = row.runs.reduce((sum, run) => sum + run.requests, 0);
  return {
    rps: median(rps),
    requestsPerCpuSecond: row.cpuSeconds === undefined ? undefined : requests / row.cpuSeconds,
    minRps: Math.min(...rps),
    maxRps: Math.max(...rps),
    p50Ms: median(row.runs.map((run) => run.p50Ms)),
    p99Ms: median(row.runs.map((run) => run.p99Ms)),
    errors: row.runs.reduce((sum, run) => sum + run.errors, 0),
  };
}

/** Finds the measured row of a target and workload; undefined when it is missing or failed. */
export function findRow(suite: ThroughputSuite, target: string, workload: string): ThroughputRow | undefined {
  return suite.rows.find((row) => row.target === target && row.workload === workload && row.failure === undefined);
}

export function renderThroughput(suite: ThroughputSuite): string {
  const pinning = suite.pinning === undefined
    ? "Processes were not pinned to CPUs."
    : `Each proxy was pinned to CPU ${suite.pinning.proxy}; wrk and the origin shared CPU ` +
      `${suite.pinning.loadAndOrigin} (\`taskset -c\`). The origin alone was measured pinned to CPU ` +
      `${suite.pinning.proxy}, like a proxy.`;
  const parts = [
    renderSystem(suite),
    "",
    `Each target and workload: a fresh proxy process, ${suite.warmupSeconds} s of warm-up, then ` +
    `${suite.repeats} measured wrk runs of ${suite.seconds} s (\`wrk -t1 --latency\`). The tables show ` +
    "the median of the runs, and the lowest and highest requests per second. Latency is wrk's " +
    "p50 and p99 per run, and the median of those. Peak memory is VmHWM summed over the proxy's " +
    "processes at the end of the workload. Requests per CPU-second divides the requests of the " +
    "measured runs by the CPU time (user and system) that the proxy's processes used meanwhile; it " +
    "depends less than req/s on other work running on the machine. Origin connections counts the TCP connections the " +
    "origin accepted during the workload, which shows whether a proxy reused its upstream " +
    "connections. \"vs nginx\" divides the median requests per second by nginx's in the same run. " +
    "Other load is the number of CPUs, on average over the measured runs, that processes outside " +
    "the benchmark kept busy (from /proc/stat, less the proxy's, the origin's and wrk's CPU time); " +
    "a row with other load well above 0 was slowed by them.",
    "",
    pinning,
    `1-minute load average: ${suite.loadAverage.before.toFixed(2)} just before the run, from other ` +
    `work on the machine, and ${suite.loadAverage.after.toFixed(2)} at its end, which includes the ` +
    "benchmark's own proxy, origin and wrk (about 2).",
    "",
    "Targets:",
    "",
    ...Object.entries(suite.targets).map(([name, description]) => `- \`${name}\`: ${description}`),
  ];
  for (const [workload, description] of Object.entries(suite.workloads)) {
    const rows = suite.rows.filter((row) => row.workload === workload);
    if (rows.length === 0) continue;
    const nginx = findRow(suite, "nginx", workload);
    const nginxRps = nginx === undefined ? undefined : summarize(nginx).rps;
    const bytes = BYTES_PER_REQUEST[workload];
    const header = ["target", "req/s", "req/s range", "p50 ms", "p99 ms"];
    if (bytes !== undefined) header.push("MiB/s");
    header.push("req per CPU-s", "peak memory MiB", "vs nginx", "origin connections", "errors", "other load");
    const body = rows.map((row) => {
      if (row.failure !== undefined) {
        return [`\`${row.target}\``, `failed: ${row.failure.replaceAll("|", "/").split("\n")[0]}`, ...header.slice(2).map(() => "–")];
      }
      const summary = summarize(row);
      const cells = [
        `\`${row.target}\``,
        formatNumber(summary.rps),
        `${formatNumber(summary.minRps)}–${formatNumber(summary.maxRps)}`,
        formatNumber(summary.p50Ms, 2),
        formatNumber(summary.p99Ms, 2),
      ];
      if (bytes !== undefined) cells.push(formatNumber(summary.rps * bytes / 2 ** 20));
      cells.push(
        summary.requestsPerCpuSecond === undefined ? "–" : formatNumber(summary.requestsPerCpuSecond),
        row.peakMemoryKiB === undefined ? "–" : mib(row.peakMemoryKiB),
        nginxRps === undefined ? "–" : `${formatNumber(summary.rps / nginxRps, 2)}×`,
        String(row.originConnections),
        String(summary.errors),
        formatNumber(row.otherCores, 2),
      );
      return cells;
    });
    parts.push("", `### ${workload}: ${description}`, "", table(header, body, header.map((_, i) => (i === 0 ? "l" : "r"))));
  }
  return parts.join("\n");
}
