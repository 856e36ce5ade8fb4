// Renders the memory suite (`npm run bench:memory`) as a Markdown table.
import { formatNumber, mib, renderSystem, table } from "./markdown.ts";
import type { MemorySuite } from "./results.ts";

export function renderMemory(suite: MemorySuite): string {
  const body = suite.rows.map((row) => {
    const amount = row.scenario === "idle-connections"
      ? `${formatNumber(row.amount)} connections`
      : `${formatNumber(row.amount / 2 ** 30, 2)} GiB in ${formatNumber(row.seconds, 1)} s`;
    return [
      `\`${row.target}\``,
      row.scenario,
      amount,
      mib(row.beforeKiB),
      mib(row.afterKiB),
      mib(row.peakKiB),
      mib(row.afterKiB - row.beforeKiB),
      mib(row.peakKiB - row.beforeKiB),
      row.note ?? "",
    ];
  });
  return [
    renderSystem(suite),
    "",
    "Resident memory of the proxy's processes from /proc, in MiB: VmRSS before the scenario (after " +
    "the warm-up) and at its end, and VmHWM, the peak since the scenario started (the driver resets " +
    "it by writing 5 to /proc/PID/clear_refs; the note says when that failed). For idle " +
    "connections the growth that counts is after − before, read 2 s after every connection had " +
    "its response. For streamed bodies it is peak − before. The slow side reads at 256 MiB/s " +
    "unless the command sets `--rate`, so a proxy without backpressure would buffer most of the body.",
    "",
    table(
      ["target", "scenario", "amount", "before", "after", "peak", "after − before", "peak − before", "note"],
      body,
      ["l", "l", "r", "r", "r", "r", "r", "r", "l"],
    ),
  ].join("\n");
}
