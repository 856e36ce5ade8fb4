import { createBodyDecoder } from "../../src/http/body.ts";
import { analyzeRequest, responseFraming } from "../../src/http/framing.ts";
import { parseRequestHead, parseResponseHead } from "../../src/http/head-parser.ts";
import { HeadScanner } from "../../src/http/head-scanner.ts";
import { HttpParseError } from "../../src/http/parse-error.ts";

/** What Cairn made of the first message in an input. */
export type CairnResult =
  | { kind: "complete"; body: Uint8Array }
  | { kind: "error"; code: string }
  | { kind: "incomplete" };

const LIMITS = { maxStartLineBytes: 8192, maxHeadBytes: 65536, maxFieldCount: 100 };

/** Body limit for requests: far above any generated body, so framing alone decides. */
const MAX_BODY_BYTES = 2 ** 40;

/**
 * Runs Cairn's scanner, head parser, framing rules and body decoder over `input` as one
 * delivery. Anything thrown other than HttpParseError propagates, so the fuzzer sees it.
 */
export function parseWithCairn(input: Uint8Array, kind: "request" | "response", closed = false): CairnResult {
  try {
    const scanner = new HeadScanner(kind, LIMITS);
    const found = scanner.push(input, 0);
    if (found === undefined) return { kind: "incomplete" };
    let framing;
    if (kind === "request") {
      framing = analyzeRequest(parseRequestHead(found.head), MAX_BODY_BYTES).framing;
    } else {
      const head = parseResponseHead(found.head);
      if (head.status < 200) return { kind: "error", code: "INTERIM_RESPONSE" };
      framing = responseFraming(head, "GET");
    }
    const decoder = createBodyDecoder(framing, {
      maxChunkLineBytes: 16384,
      maxTrailerBytes: 65536,
      maxTrailerCount: 100,
      maxBodyBytes: MAX_BODY_BYTES,
    });
    const parts: Uint8Array[] = [];
    if (!decoder.done) decoder.decode(input, found.end, (data) => parts.push(data.slice()));
    if (!decoder.done && framing.kind === "close" && closed) {
      return { kind: "complete", body: concat(parts) };
    }
    if (!decoder.done) return { kind: "incomplete" };
    return { kind: "complete", body: concat(parts) };
  } catch (error) {
    if (error instanceof HttpParseError) return { kind: "error", code: error.code };
    throw error;
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const total = parts.reduce((sum, part) => sum + part.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    result.set(part, offset);
    offset += part.length;
  }
  return result;
}
