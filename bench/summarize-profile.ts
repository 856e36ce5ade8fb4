// Prints the functions with the most self and total time in a .cpuprofile file.
// Usage: npx bun bench/summarize-profile.ts FILE [COUNT]
import { summarizeProfile } from "./cpuprofile.ts";
import { ROOT } from "./setup.ts";

const [file, countText] = process.argv.slice(2);
if (file === undefined) {
  console.error("usage: bun bench/summarize-profile.ts FILE.cpuprofile [COUNT]");
  process.exit(2);
}
const summary = summarizeProfile(file, ROOT, Number(countText ?? 20));
console.log(`${(summary.sampledMs / 1000).toFixed(1)} s sampled, ${summary.idlePercent.toFixed(1)}% idle`);
for (const [title, list] of [["by self time", summary.bySelf], ["by total time", summary.byTotal]] as const) {
  console.log(`\n${title}:\n   self   total  function`);
  for (const entry of list) {
    console.log(`${entry.selfPercent.toFixed(1).padStart(6)}% ${entry.totalPercent.toFixed(1).padStart(6)}%  ${entry.function}`);
  }
}
