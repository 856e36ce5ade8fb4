// Differential fuzzing of Cairn's parser against llhttp; run on Node through `npm run fuzz`.
// Arguments: [count] [seed]. Exits 1 when any input fails.
import process from "node:process";
import { runDifferentialFuzz } from "./differential.ts";

const count = Number(process.argv[2] ?? 1_000_000);
const seed = Number(process.argv[3] ?? Date.now() % 2 ** 31);
const started = performance.now();
const report = runDifferentialFuzz(count, seed);
const seconds = ((performance.now() - started) / 1000).toFixed(1);
console.log(
  `fuzz: ${report.inputs} inputs in ${seconds} s (seed ${seed}): ${report.bothAccepted} accepted by both, ` +
    `${report.cairnStricter} rejected by Cairn only, ${report.failures.length} failures`,
);
for (const failure of report.failures) {
  console.log(`${failure.kind}: ${failure.detail}\n  ${JSON.stringify(failure.input)}`);
}
process.exit(report.failures.length === 0 ? 0 : 1);
