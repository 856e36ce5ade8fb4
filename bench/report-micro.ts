// Renders the micro-benchmark suite (`npm run bench:micro`) as Markdown tables.
import { formatNumber, renderSystem, table } from "./markdown.ts";
import type { MicroSuite } from "./results.ts";

export function renderMicro(suite: MicroSuite): string {
  const parts = [
    renderSystem(suite),
    "",
    "mitata's median (p50) time per operation; operations per second is 10⁹ divided by that median. " +
    "\"vs first\" compares each row with the first row of its table.",
  ];
  const groups = [...new Set(suite.rows.map((row) => row.group))];
  for (const group of groups) {
    const rows = suite.rows.filter((row) => row.group === group);
    const first = rows[0];
    const body = rows.map((row) => [
      row.name,
      row.runtime,
      formatNumber(row.p50Ns, 1),
      formatNumber(row.p99Ns, 1),
      formatNumber(1e9 / row.p50Ns),
      `${formatNumber(first.p50Ns / row.p50Ns, 2)}×`,
    ]);
    parts.push(
      "",
      `### ${group}`,
      "",
      table(["benchmark", "runtime", "p50 ns", "p99 ns", "ops/s", "vs first"], body, ["l", "l", "r", "r", "r", "r"]),
    );
  }
  return parts.join("\n");
}
