// Cairn's head parser against Node's llhttp on the same bytes. Runs on Node only, because llhttp
// is reached through Node's internal `_http_common` module; `npm run bench:micro` bundles it.
import { do_not_optimize, bench, run } from "mitata";
import { createRequire } from "node:module";
import {
  analyzeRequest,
  HeadScanner,
  type HeadLimits,
  parseRequestHead,
  parseResponseHead,
  responseFraming,
  responseKeepsAlive,
} from "../../src/http/mod.ts";
import { API_REQUEST, BROWSER_GET, RESPONSE_HEAD } from "./inputs.ts";
import { JSON_MARKER, rowsFromMitata } from "./report.ts";

interface NodeHttpParser {
  initialize(kind: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Uint8Array): number | Error;
  [key: number]: unknown;
}

interface NodeHttpParserClass {
  new (): NodeHttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
}

const { HTTPParser } = createRequire(import.meta.url)("_http_common") as { HTTPParser: NodeHttpParserClass };

/** Cairn's default limits for a request head (config/README.md). */
const LIMITS: HeadLimits = { maxStartLineBytes: 8192, maxHeadBytes: 65536, maxFieldCount: 100 };
const MAX_BODY_BYTES = 2 ** 30;

/**
 * Creates an llhttp parser that is reused across messages, as Node reuses one per connection.
 * The headers-complete callback makes Node's binding build the URL and header strings, as
 * Cairn's parser does. Without a callback the binding returns early and skips that work
 * (`on_headers_complete` in Node's src/node_http_parser.cc).
 */
function llhttpParser(kind: "request" | "response"): { parse(bytes: Uint8Array): number; completed(): number } {
  const parser = new HTTPParser();
  parser.initialize(kind === "request" ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, 0, 0);
  let completed = 0;
  let fieldCount = 0;
  parser[HTTPParser.kOnHeadersComplete] = (_major: number, _minor: number, headers: string[]) => {
    fieldCount = headers.length / 2;
    return 0;
  };
  parser[HTTPParser.kOnBody] = () => {};
  parser[HTTPParser.kOnMessageComplete] = () => {
    completed++;
  };
  return {
    parse(bytes) {
      const result = parser.execute(bytes);
      if (result instanceof Error) throw result;
      return fieldCount;
    },
    completed: () => completed,
  };
}

function cairnRequest(analyze: boolean): (bytes: Uint8Array) => number {
  const scanner = new HeadScanner("request", LIMITS);
  return (bytes) => {
    const scanned = scanner.push(bytes, 0);
    if (scanned === undefined) throw new Error("the scanner found no complete head");
    const head = parseRequestHead(scanned.head);
    if (analyze) do_not_optimize(analyzeRequest(head, MAX_BODY_BYTES));
    return head.fields.length / 2;
  };
}

function cairnResponse(analyze: boolean): (bytes: Uint8Array) => number {
  const scanner = new HeadScanner("response", LIMITS);
  return (bytes) => {
    const scanned = scanner.push(bytes, 0);
    if (scanned === undefined) throw new Error("the scanner found no complete head");
    const head = parseResponseHead(scanned.head);
    if (analyze) {
      do_not_optimize(responseFraming(head, "GET"));
      do_not_optimize(responseKeepsAlive(head));
    }
    return head.fields.length / 2;
  };
}

const CASES = [
  { group: "browser GET, 10 fields", kind: "request" as const, bytes: BROWSER_GET, fields: 11 },
  { group: "API request, 20 fields", kind: "request" as const, bytes: API_REQUEST, fields: 20 },
  { group: "response head, 10 fields", kind: "response" as const, bytes: RESPONSE_HEAD, fields: 10 },
];

for (const { group, kind, bytes, fields } of CASES) {
  const contenders = {
    "cairn": kind === "request" ? cairnRequest(true) : cairnResponse(true),
    "cairn, scan and parse only": kind === "request" ? cairnRequest(false) : cairnResponse(false),
  };
  const llhttp = llhttpParser(kind);
  // Each parser must read every field of the input, or the comparison means nothing.
  for (const [name, parse] of Object.entries({ ...contenders, llhttp: llhttp.parse })) {
    const count = parse(bytes);
    if (count !== fields) throw new Error(`${group}: ${name} read ${count} fields, expected ${fields}`);
  }
  if (llhttp.completed() !== 1) throw new Error(`${group}: llhttp completed ${llhttp.completed()} messages, expected 1`);

  for (const [name, parse] of Object.entries(contenders)) {
    bench(`${group}|${name}`, () => do_not_optimize(parse(bytes)));
  }
  bench(`${group}|llhttp`, () => do_not_optimize(llhttp.parse(bytes)));
}

const results = await run({ format: "quiet" });
console.log(JSON_MARKER + JSON.stringify(rowsFromMitata(results, `node ${process.versions.node}`)));
