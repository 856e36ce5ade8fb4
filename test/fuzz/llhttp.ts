// Node's own HTTP parser, llhttp, in its default strict mode, as an oracle for the fuzzer. It is
// reachable only on Node, through the `_http_common` module that node:http is built on.
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);

interface NodeHttpParser {
  initialize(kind: number, resource: object, maxHeaderSize: number, lenient: number): void;
  execute(data: Uint8Array): number | Error;
  finish(): number | Error | undefined;
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

const { HTTPParser } = require("_http_common") as { HTTPParser: NodeHttpParserClass };

/** What llhttp made of the first message in an input. */
export type OracleResult =
  | { kind: "complete"; body: Uint8Array }
  | { kind: "error"; code: string }
  | { kind: "incomplete" };

/**
 * Parses `input` with llhttp and reports the first message: complete with its decoded body, an
 * error before it completed, or incomplete. `closed` marks the end of input as a close, which
 * ends a close-delimited response.
 */
export function parseWithLlhttp(input: Uint8Array, kind: "request" | "response", closed = false): OracleResult {
  const parser = new HTTPParser();
  parser.initialize(kind === "request" ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, 0, 0);
  const parts: Uint8Array[] = [];
  let complete = false;
  parser[HTTPParser.kOnHeadersComplete] = () => 0;
  parser[HTTPParser.kOnBody] = (chunk: Uint8Array) => {
    if (!complete) parts.push(Uint8Array.from(chunk));
  };
  parser[HTTPParser.kOnMessageComplete] = () => {
    complete = true;
  };
  const result = parser.execute(input);
  if (!complete && closed) {
    const finished = parser.finish();
    if (finished instanceof Error && !complete) return { kind: "error", code: errorCode(finished) };
  }
  if (complete) return { kind: "complete", body: join(parts) };
  if (result instanceof Error) return { kind: "error", code: errorCode(result) };
  return { kind: "incomplete" };
}

function errorCode(error: Error): string {
  return (error as Error & { code?: string }).code ?? error.message;
}

function join(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}
