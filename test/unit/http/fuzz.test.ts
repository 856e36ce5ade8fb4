import { describe, test } from "node:test";
import fc from "fast-check";
import type { ChunkedLimits, HeadKind, HeadLimits } from "../../../src/http/mod.ts";
import {
  chunkedDecoder,
  headScanner,
  requestReader,
  responseReader,
  WIDE_LIMITS,
} from "./consumers.ts";
import {
  bytesOf,
  type Delivery,
  outcomeOfDeliveries,
  outcomeOfEverySplit,
  piecesAt,
  type StreamConsumer,
} from "./split.ts";

// A property fails on any error other than HttpParseError, on a delivery whose outcome differs
// from the whole input's, and on a consumer call that consumes nothing (which would loop).
const RUNS = { numRuns: 2000 };

/** Offsets for `piecesAt`: up to six cuts, so up to seven pieces, some maybe empty. */
const cuts = fc.array(fc.nat(), { minLength: 1, maxLength: 6 });

/**
 * Asserts that `input` has one outcome delivered whole, one byte at a time and cut at `offsets`.
 * The longer mutated messages use this in place of a split at every offset, which would cost
 * one full parse per byte of each input.
 */
function assertSameOutcome<T>(
  input: Uint8Array,
  create: () => StreamConsumer<T>,
  offsets: number[],
): void {
  const ways: Delivery[] = [
    { name: "whole", pieces: [input] },
    { name: "one byte at a time", pieces: piecesAt(input, Array.from(input, (_, i) => i)) },
    { name: `cut at ${offsets.join(", ")}`, pieces: piecesAt(input, offsets) },
  ];
  outcomeOfDeliveries(input, create, ways);
}

/** Bytes that delimit or break HTTP/1.1 syntax, drawn more often than the rest. */
// deno-fmt-ignore
const SYNTAX_BYTES = [
  0x00, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x20, 0x22, 0x2c, 0x30, 0x3a, 0x3b, 0x3d, 0x5c, 0x7f, 0x80,
  0xff,
];

const anyByte = fc.oneof(fc.constantFrom(...SYNTAX_BYTES), fc.integer({ min: 0, max: 255 }));

const randomBytes = fc.array(anyByte, { maxLength: 120 }).map((bytes) => Uint8Array.from(bytes));

const smallHeadLimits: fc.Arbitrary<HeadLimits> = fc.oneof(
  fc.constant(WIDE_LIMITS),
  fc.record({
    maxStartLineBytes: fc.integer({ min: 0, max: 48 }),
    maxHeadBytes: fc.integer({ min: 0, max: 160 }),
    maxFieldCount: fc.integer({ min: 0, max: 6 }),
  }),
);

const smallChunkedLimits: fc.Arbitrary<ChunkedLimits> = fc.record({
  maxChunkLineBytes: fc.integer({ min: 1, max: 32 }),
  maxTrailerBytes: fc.integer({ min: 0, max: 48 }),
  maxTrailerCount: fc.integer({ min: 0, max: 4 }),
  maxBodyBytes: fc.integer({ min: 0, max: 64 }),
});

interface Mutation {
  kind: "insert" | "delete" | "replace" | "duplicate";
  at: number;
  byte: number;
  length: number;
}

const mutations = fc.array(
  fc.record({
    kind: fc.constantFrom("insert", "delete", "replace", "duplicate") as fc.Arbitrary<
      Mutation["kind"]
    >,
    at: fc.nat(),
    byte: anyByte,
    length: fc.integer({ min: 1, max: 8 }),
  }),
  { maxLength: 3 },
);

/** Applies each mutation in turn at its offset, taken modulo the current length. */
function mutate(input: Uint8Array, changes: readonly Mutation[]): Uint8Array {
  let bytes = Array.from(input);
  for (const change of changes) {
    const at = change.at % (bytes.length + 1);
    switch (change.kind) {
      case "insert":
        bytes.splice(at, 0, change.byte);
        break;
      case "delete":
        bytes.splice(at, change.length);
        break;
      case "replace":
        if (at < bytes.length) bytes[at] = change.byte;
        break;
      case "duplicate":
        bytes = [...bytes.slice(0, at + change.length), ...bytes.slice(at)];
        break;
    }
  }
  return Uint8Array.from(bytes);
}

/** Chunk data, extensions and trailers, framed as RFC 9112 §7.1 describes. */
const chunkedBody = fc
  .record({
    chunks: fc.array(
      fc.record({
        data: fc.string({ minLength: 1, maxLength: 12 }),
        extension: fc.constantFrom("", ";a", ";a=b", ';q="x\\"y"'),
      }),
      { maxLength: 3 },
    ),
    trailers: fc.constantFrom("", "X-Sum: 42\r\n", "A: 1\r\nB: 2\r\n"),
  })
  .map(({ chunks, trailers }) => {
    const encoded = chunks.map(({ data, extension }) =>
      `${data.length.toString(16)}${extension}\r\n${data}\r\n`
    );
    return `${encoded.join("")}0\r\n${trailers}\r\n`;
  });

/** Framing fields and a body that matches them. */
const framedBody = fc.oneof(
  fc.constant({ framing: [] as string[], body: "" }),
  fc.string({ maxLength: 12 }).map((body) => ({
    framing: [`Content-Length: ${body.length}`],
    body,
  })),
  chunkedBody.map((body) => ({ framing: ["Transfer-Encoding: chunked"], body })),
);

/** Fields that change how a message is read, some of them invalid or conflicting. */
const extraFields = fc.array(
  fc.constantFrom(
    "Connection: close",
    "Expect: 100-continue",
    "X-A: b\tc",
    "Content-Length: 5, 5",
    "Transfer-Encoding: gzip, chunked",
    "Host: b.test",
  ),
  { maxLength: 2 },
);

function fieldLines(fields: readonly string[]): string {
  return fields.map((field) => field + "\r\n").join("");
}

const requestText = fc
  .record({
    method: fc.constantFrom("GET", "POST", "HEAD", "OPTIONS", "DELETE", "CONNECT"),
    target: fc.constantFrom("/", "/a?b=c", "http://b.test/x", "/%41", "*"),
    version: fc.constantFrom("HTTP/1.1", "HTTP/1.0"),
    framed: framedBody,
    extra: fc.oneof({ weight: 3, arbitrary: fc.constant([]) }, {
      weight: 1,
      arbitrary: extraFields,
    }),
  })
  .map(({ method, target, version, framed, extra }) => {
    const fields = ["Host: p.test", ...framed.framing, ...extra];
    return `${method} ${target} ${version}\r\n${fieldLines(fields)}\r\n${framed.body}`;
  });

const responseText = fc
  .record({
    status: fc.constantFrom("200 OK", "204 No Content", "304 Not Modified", "100 Continue", "404"),
    version: fc.constantFrom("HTTP/1.1", "HTTP/1.0"),
    framed: framedBody,
    extra: fc.oneof(
      { weight: 3, arbitrary: fc.constant([]) },
      {
        weight: 1,
        arbitrary: fc.array(
          fc.constantFrom(
            "Transfer-Encoding: chunked, identity",
            "X-B : 1",
            "Content-Length: 2, 2",
          ),
        ),
      },
    ),
  })
  .map(({ status, version, framed, extra }) =>
    `${version} ${status}\r\n${fieldLines([...framed.framing, ...extra])}\r\n${framed.body}`
  );

/** A chunked body followed by the start of the next message or by nothing. */
const chunkedText = fc
  .tuple(chunkedBody, fc.constantFrom("", "GET / HTTP/1.1\r\n"))
  .map(([body, next]) => body + next);

/** One or two valid-looking messages back to back, with up to three byte-level mutations. */
function mutated(message: fc.Arbitrary<string>): fc.Arbitrary<Uint8Array> {
  return fc
    .tuple(fc.array(message, { minLength: 1, maxLength: 2 }), mutations)
    .map(([messages, changes]) => mutate(bytesOf(messages.join("")), changes));
}

describe("HTTP parser fuzzing", () => {
  test("scans random bytes consistently", () => {
    fc.assert(
      fc.property(
        randomBytes,
        smallHeadLimits,
        fc.constantFrom<HeadKind>("request", "response", "trailer"),
        (input, limits, kind) => {
          outcomeOfEverySplit(input, headScanner(kind, limits));
        },
      ),
      RUNS,
    );
  });

  test("reads random bytes as requests consistently", () => {
    fc.assert(
      fc.property(
        randomBytes,
        smallHeadLimits,
        smallChunkedLimits,
        (input, limits, chunkedLimits) => {
          outcomeOfEverySplit(input, requestReader({ limits, chunkedLimits, maxBodyBytes: 64 }));
        },
      ),
      RUNS,
    );
  });

  test("reads random bytes as responses consistently", () => {
    fc.assert(
      fc.property(
        randomBytes,
        smallHeadLimits,
        smallChunkedLimits,
        (input, limits, chunkedLimits) => {
          outcomeOfEverySplit(input, responseReader(["GET", "HEAD"], { limits, chunkedLimits }));
        },
      ),
      RUNS,
    );
  });

  test("decodes random bytes as chunked consistently", () => {
    fc.assert(
      fc.property(randomBytes, smallChunkedLimits, (input, limits) => {
        outcomeOfEverySplit(input, chunkedDecoder(limits));
      }),
      RUNS,
    );
  });

  test("reads mutated requests consistently", () => {
    fc.assert(
      fc.property(
        mutated(requestText),
        smallHeadLimits,
        smallChunkedLimits,
        cuts,
        (input, limits, chunkedLimits, offsets) => {
          assertSameOutcome(
            input,
            requestReader({ limits, chunkedLimits, maxBodyBytes: 64 }),
            offsets,
          );
        },
      ),
      RUNS,
    );
  });

  test("reads mutated responses consistently", () => {
    fc.assert(
      fc.property(
        mutated(responseText),
        fc.constantFrom("GET", "HEAD"),
        cuts,
        (input, method, offsets) => {
          assertSameOutcome(input, responseReader([method, "GET"]), offsets);
        },
      ),
      RUNS,
    );
  });

  test("decodes mutated chunked bodies consistently", () => {
    fc.assert(
      fc.property(mutated(chunkedText), smallChunkedLimits, cuts, (input, limits, offsets) => {
        assertSameOutcome(input, chunkedDecoder(limits), offsets);
      }),
      RUNS,
    );
  });
});
