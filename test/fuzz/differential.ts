import { parseWithCairn } from "./cairn-parse.ts";
import { parseWithLlhttp } from "./llhttp.ts";
import { latin1Bytes, mutate, random, REQUEST_SEEDS, RESPONSE_SEEDS } from "./mutate.ts";

export interface FuzzReport {
  inputs: number;
  /** Inputs both parsers accepted, with the same body. */
  bothAccepted: number;
  /** Inputs Cairn rejected or found incomplete that llhttp accepted: Cairn is stricter there. */
  cairnStricter: number;
  /** Inputs Cairn accepted that llhttp rejected, or accepted with another body. */
  failures: { input: string; kind: "request" | "response"; detail: string }[];
}

const KNOWN_METHOD = /^(GET|HEAD|POST|PUT|DELETE|OPTIONS|PATCH|TRACE) /;

/** Time one input may take before the run counts it as a hang. */
const SLOW_INPUT_MS = 250;

/**
 * Feeds `count` mutated requests and responses to Cairn and to llhttp. A failure is any input
 * where Cairn accepts framing that llhttp rejects or reads a different body, Cairn throws
 * anything but its own parse error, or one input takes longer than SLOW_INPUT_MS.
 */
export function runDifferentialFuzz(count: number, seed: number, maxFailures = 20): FuzzReport {
  const next = random(seed);
  const report: FuzzReport = { inputs: 0, bothAccepted: 0, cairnStricter: 0, failures: [] };
  for (let i = 0; i < count && report.failures.length < maxFailures; i++) {
    const kind = i % 3 === 2 ? "response" : "request";
    const seeds = kind === "request" ? REQUEST_SEEDS : RESPONSE_SEEDS;
    let text = mutate(seeds[Math.floor(next() * seeds.length)], next);
    // llhttp knows a fixed list of methods, while any token is a valid method (RFC 9110 §9.1)
    // that Cairn forwards. Such inputs are compared with a method both parsers know.
    if (kind === "request" && !KNOWN_METHOD.test(text)) text = text.replace(/^[^ ]*/, "POST");
    // Cairn answers HTTP/1.2 to 1.9 as 1.1 (RFC 9110 §6.2), which llhttp rejects.
    text = text.replace(/^([^\r\n]*HTTP\/1\.)[2-9]/, "$11");
    // In a response, a proxy removes whitespace before a colon (RFC 9112 §5.1), which llhttp
    // rejects; Cairn rejects it on framing fields, which the unit tests cover.
    if (kind === "response") text = text.replace(/^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]+:/gm, "$1:");
    const input = latin1Bytes(text);
    const closed = kind === "response";
    report.inputs++;
    const started = performance.now();
    let cairn;
    try {
      cairn = parseWithCairn(input, kind, closed);
    } catch (error) {
      report.failures.push({ input: text, kind, detail: `Cairn threw ${String(error)}` });
      continue;
    }
    const elapsed = performance.now() - started;
    if (elapsed > SLOW_INPUT_MS) {
      report.failures.push({ input: text, kind, detail: `Cairn took ${elapsed.toFixed(0)} ms` });
      continue;
    }
    const oracle = parseWithLlhttp(input, kind, closed);
    if (cairn.kind === "complete") {
      if (oracle.kind !== "complete") {
        report.failures.push({ input: text, kind, detail: `Cairn accepted, llhttp: ${oracle.kind === "error" ? oracle.code : "incomplete"}` });
      } else if (!sameBytes(cairn.body, oracle.body)) {
        report.failures.push({ input: text, kind, detail: `bodies differ: Cairn ${cairn.body.length} bytes, llhttp ${oracle.body.length}` });
      } else {
        report.bothAccepted++;
      }
    } else if (oracle.kind === "complete") {
      report.cairnStricter++;
    }
  }
  return report;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
