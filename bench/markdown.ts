// Markdown helpers shared by the report renderers.
import type { SuiteRun } from "./results.ts";

/** Renders a Markdown table. */
export function table(header: string[], rows: string[][], align?: ("l" | "r")[]): string {
  const rule = header.map((_, i) => (align?.[i] === "r" ? "---:" : "---"));
  const line = (cells: string[]) => `| ${cells.join(" | ")} |`;
  return [line(header), line(rule), ...rows.map(line)].join("\n");
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/** Renders the machine and versions of a suite's run. */
export function renderSystem(run: SuiteRun): string {
  const { system } = run;
  const versions = Object.entries(system.versions).map(([name, version]) => `${name} ${version}`);
  return [
    `- Command: \`${run.command}\` (${run.date}, ${Math.round(run.durationSeconds)} s)`,
    `- Machine: ${system.cpuModel}, ${system.cores} cores, ${system.memoryGiB} GiB memory, ${system.kernel}`,
    `- Cairn commit: ${system.commit}`,
    `- Versions: ${versions.join(", ")}`,
  ].join("\n");
}

export function formatNumber(value: number, digits = 0): string {
  return value.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function mib(kib: number): string {
  return formatNumber(kib / 1024, 1);
}
