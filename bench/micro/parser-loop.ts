// Parses the browser GET head of inputs.ts COUNT times (default 1,000,000) with the same steps as
// the parser micro-benchmark, for a CPU profile of the parser alone:
//   npx bun build bench/micro/parser-loop.ts --target=node --outfile=dist/bench/parser-loop.js
//   node --cpu-prof --cpu-prof-dir=dist/bench/profiles dist/bench/parser-loop.js
//   npx bun bench/summarize-profile.ts dist/bench/profiles/*.cpuprofile
import { analyzeRequest, HeadScanner, parseRequestHead } from "../../src/http/mod.ts";
import { BROWSER_GET } from "./inputs.ts";

const count = Number(process.argv[2] ?? 1_000_000);
const scanner = new HeadScanner("request", { maxStartLineBytes: 8192, maxHeadBytes: 65536, maxFieldCount: 100 });
let fields = 0;
const started = performance.now();
for (let i = 0; i < count; i++) {
  const scanned = scanner.push(BROWSER_GET, 0);
  if (scanned === undefined) throw new Error("the scanner found no complete head");
  const head = parseRequestHead(scanned.head);
  analyzeRequest(head, 2 ** 30);
  fields += head.fields.length;
}
const seconds = (performance.now() - started) / 1000;
console.log(`${count} heads in ${seconds.toFixed(2)} s: ${Math.round(count / seconds)} per second (${fields / count / 2} fields each)`);
