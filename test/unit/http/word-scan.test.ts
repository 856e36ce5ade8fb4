import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  FIELD_VALUE,
  fieldNameEquals,
  findLineEnds,
  HeadScanner,
  HttpParseError,
  parseFields,
  parseRequestHead,
  parseResponseHead,
  skipAsciiFieldValue,
  skipFieldValue,
  skipToken,
  TOKEN,
  wordViewOf,
} from "../../../src/http/mod.ts";
import { bytesOf, textOf } from "./split.ts";

/** Copies `bytes` into a larger buffer at `offset`, so scans start at every word alignment. */
function placedAt(bytes: Uint8Array, offset: number): Uint8Array {
  const buffer = new Uint8Array(offset + bytes.length + 5).fill(0x41);
  buffer.set(bytes, offset);
  return buffer.subarray(offset, offset + bytes.length);
}

/** Returns random bytes: mostly letters, with token and value bytes, HTAB, CR, LF, DEL and obs-text. */
function randomBytes(length: number, random: () => number): Uint8Array {
  const alphabet = bytesOf("aZ09-!:; \t\r\n\x7f\x00\x80\xff\"(");
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    const letter = 0x61 + Math.floor(random() * 26);
    bytes[i] = random() < 0.8 ? letter : alphabet[Math.floor(random() * alphabet.length)];
  }
  return bytes;
}

/** A small deterministic generator (mulberry32), so that a failure can be rerun. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function skipBytes(bytes: Uint8Array, from: number, accepts: (byte: number) => boolean): number {
  let i = from;
  while (i < bytes.length && accepts(bytes[i])) i++;
  return i;
}

function rejectionOf(parse: () => unknown): { code: string; offset: number } {
  try {
    parse();
  } catch (error) {
    if (error instanceof HttpParseError) return { code: error.code, offset: error.offset };
    throw error;
  }
  assert.fail("expected an HttpParseError");
}

describe("word-at-a-time scans", () => {
  test("match byte loops at every alignment", () => {
    const random = seeded(7);
    for (let round = 0; round < 300; round++) {
      const input = randomBytes(1 + Math.floor(random() * 40), random);
      for (let offset = 0; offset < 8; offset++) {
        const bytes = placedAt(input, offset);
        // 0 makes even these short inputs take the word path, which the parser uses from 256 bytes.
        const view = wordViewOf(bytes, 0);
        for (let from = 0; from <= bytes.length; from++) {
          const context = `${JSON.stringify(textOf(input))} at offset ${offset} from ${from}`;
          assert.equal(
            skipFieldValue(bytes, view, from),
            skipBytes(bytes, from, (byte) => FIELD_VALUE[byte] === 1),
            `skipFieldValue ${context}`,
          );
          assert.equal(
            skipAsciiFieldValue(bytes, view, from),
            skipBytes(bytes, from, (byte) => byte < 0x80 && FIELD_VALUE[byte] === 1),
            `skipAsciiFieldValue ${context}`,
          );
          assert.equal(
            skipToken(bytes, view, from),
            skipBytes(bytes, from, (byte) => TOKEN[byte] === 1),
            `skipToken ${context}`,
          );
        }
      }
    }
  });

  test("findLineEnds stops at possible head ends", () => {
    const lineEnds = new Int32Array(32);
    const cases: [string, number[]][] = [
      ["A: 1\r\nB: 2\r\n\r\nbody\r\n", [5, 11, 13]],
      ["A: 1\nB: 2\r\n", [4]],
      ["\r\nA: 1\r\n", [1]],
      ["A: 1\r\nB: 2", [5]],
      ["no line end", []],
    ];
    for (const [text, expected] of cases) {
      for (let offset = 0; offset < 8; offset++) {
        const bytes = placedAt(bytesOf(text), offset);
        const found = findLineEnds(bytes, wordViewOf(bytes, 0), 0, lineEnds);
        const context = `${JSON.stringify(text)} at offset ${offset}`;
        assert.deepEqual([...lineEnds.subarray(0, found)], expected, context);
      }
    }
  });

  test("findLineEnds stops when the output is full", () => {
    const bytes = bytesOf("A: 1\r\n".repeat(5));
    const found = findLineEnds(bytes, wordViewOf(bytes, 0), 0, new Int32Array(2));
    assert.equal(found, 2);
  });

  test("wordViewOf follows a resized buffer", () => {
    const buffer = new ArrayBuffer(8, { maxByteLength: 64 });
    const bytes = new Uint8Array(buffer);
    bytes.set(bytesOf("A: 1\r\n\r\n"));
    assert.equal(skipAsciiFieldValue(bytes, wordViewOf(bytes, 0), 3), 4);
    buffer.resize(64);
    bytes.fill(0x61, 8);
    bytes[60] = 0x0d;
    assert.equal(bytes.length, 64);
    assert.equal(skipAsciiFieldValue(bytes, wordViewOf(bytes, 0), 8), 60);
  });
});

describe("head parsing at every alignment", () => {
  // Longer than 256 bytes, so that the parser and scanner take the word path.
  const head = "GET /a?b=%41 HTTP/1.1\r\nHost: p.test\r\nUser-Agent: agent/1.0 (x; y)\r\n" +
    `X-Long: ${"v".repeat(150)}\r\n` +
    "X-Tab:\tv1\tv2 \t\r\nX-Obs: caf\xe9 \x80\x9f\r\nX-Empty:\r\n\r\n";

  test("parses the same head", () => {
    const expected = parseRequestHead(bytesOf(head));
    assert.deepEqual(expected.fields, [
      "Host",
      "p.test",
      "User-Agent",
      "agent/1.0 (x; y)",
      "X-Long",
      "v".repeat(150),
      "X-Tab",
      "v1\tv2",
      "X-Obs",
      "caf\xe9 \x80\x9f",
      "X-Empty",
      "",
    ]);
    for (let offset = 0; offset < 8; offset++) {
      const parsed = parseRequestHead(placedAt(bytesOf(head), offset));
      assert.deepEqual(parsed, expected, `offset ${offset}`);
    }
  });

  test("rejects a bad value byte at every position", () => {
    // The long value too, where whole words are skipped.
    const positions: number[] = [];
    for (const valueStart of [head.indexOf("agent/"), head.indexOf("vvv")]) {
      const valueEnd = head.indexOf("\r\n", valueStart);
      for (let position = valueStart; position < valueEnd; position++) positions.push(position);
    }
    for (const bad of [0x00, 0x0b, 0x7f]) {
      for (const position of positions) {
        const bytes = bytesOf(head);
        bytes[position] = bad;
        const expected = { code: "INVALID_FIELD_VALUE", offset: position };
        for (let offset = 0; offset < 8; offset++) {
          const rejection = rejectionOf(() => parseRequestHead(placedAt(bytes, offset)));
          assert.deepEqual(rejection, expected, `byte ${bad} at ${position}, offset ${offset}`);
        }
      }
    }
  });

  test("decodes an obs-text reason as Latin-1", () => {
    const bytes = bytesOf("HTTP/1.1 200 \x80k\xff\r\nA: b\r\n\r\n");
    for (let offset = 0; offset < 8; offset++) {
      const parsed = parseResponseHead(placedAt(bytes, offset));
      assert.equal(parsed.reason, "\x80k\xff");
      assert.deepEqual(parsed.fields, ["A", "b"]);
    }
  });

  test("scanner returns the same head", () => {
    const bytes = bytesOf(head + "body");
    for (let offset = 0; offset < 8; offset++) {
      const scanned = new HeadScanner("request", {
        maxStartLineBytes: 8192,
        maxHeadBytes: 65536,
        maxFieldCount: 100,
      }).push(placedAt(bytes, offset), 0);
      assert.ok(scanned !== undefined, `offset ${offset}`);
      assert.equal(scanned.end, head.length, `offset ${offset}`);
      assert.equal(textOf(scanned.head), head);
    }
  });
});

describe("fieldNameEquals", () => {
  test("ignores the case of ASCII letters", () => {
    assert.equal(fieldNameEquals("Content-Length", "content-length"), true);
    assert.equal(fieldNameEquals("CONTENT-LENGTH", "content-length"), true);
    assert.equal(fieldNameEquals("content-length", "content-length"), true);
  });

  test("rejects other names", () => {
    assert.equal(fieldNameEquals("Content-Lengt", "content-length"), false);
    assert.equal(fieldNameEquals("Content_Length", "content-length"), false);
    assert.equal(fieldNameEquals("Hos@", "host"), false);
    assert.equal(fieldNameEquals("\u212Aeep-Alive", "keep-alive"), false);
  });
});

describe("parseFields from an offset", () => {
  test("slices ASCII fields after obs-text", () => {
    const bytes = bytesOf("\xc3\xa9\xffA: 1\r\nB: 2\r\n\r\n");
    assert.deepEqual(parseFields(bytes, 3, false), ["A", "1", "B", "2"]);
  });
});
