// Turns mitata's results into rows for bench/results/micro.json. A benchmark's name is
// "GROUP|NAME", so that each row keeps the table it belongs to.
import type { run } from "mitata";

type MitataResults = Awaited<ReturnType<typeof run>>;

export interface MicroRowOut {
  group: string;
  name: string;
  runtime: string;
  p50Ns: number;
  avgNs: number;
  p99Ns: number;
}

export function rowsFromMitata(results: MitataResults, runtime: string): MicroRowOut[] {
  const rows: MicroRowOut[] = [];
  for (const trial of results.benchmarks) {
    const [group, name] = trial.alias.split("|");
    const stats = trial.runs[0]?.stats;
    if (stats === undefined) throw new Error(`benchmark "${trial.alias}" failed: ${String(trial.runs[0]?.error)}`);
    rows.push({ group, name, runtime, p50Ns: stats.p50, avgNs: stats.avg, p99Ns: stats.p99 });
  }
  return rows;
}

/** Marks the start of the JSON line that the driver reads from a benchmark's standard output. */
export const JSON_MARKER = "MICRO-RESULTS ";
