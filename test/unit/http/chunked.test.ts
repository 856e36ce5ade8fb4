import { describe, test } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  type ChunkedLimits,
  concatBytes,
  DEFAULT_CHUNKED_LIMITS,
  encodeChunk,
  lastChunk,
  type ParseErrorCode,
} from "../../../src/http/mod.ts";
import { chunkedDecoder, chunkedOf, chunkedRejection } from "./consumers.ts";
import { bytesOf, deliver, piecesAt, textOf } from "./split.ts";

const SMALL_LIMITS: ChunkedLimits = {
  maxChunkLineBytes: 16,
  maxTrailerBytes: 32,
  maxTrailerCount: 2,
  maxBodyBytes: 10,
};

function limits(overrides: Partial<ChunkedLimits>): ChunkedLimits {
  return { ...DEFAULT_CHUNKED_LIMITS, ...overrides };
}

describe("ChunkedDecoder valid bodies", () => {
  test("decodes one chunk", () => {
    const input = "5\r\nhello\r\n0\r\n\r\n";
    const result = chunkedOf(input);
    assert.equal(result.body, "hello");
    assert.deepEqual(result.trailers, []);
    assert.equal(result.done, true);
    assert.equal(result.end, input.length);
  });

  test("decodes several chunks", () => {
    assert.equal(chunkedOf("3\r\nabc\r\n1\r\nd\r\n2\r\nef\r\n0\r\n\r\n").body, "abcdef");
  });

  test("decodes empty body", () => {
    const result = chunkedOf("0\r\n\r\n");
    assert.equal(result.body, "");
    assert.equal(result.end, 5);
  });

  test("reads hex sizes in both cases", () => {
    const data = "0123456789abcdef";
    assert.equal(chunkedOf(`A\r\n${data.slice(0, 10)}\r\n0\r\n\r\n`).body, data.slice(0, 10));
    assert.equal(chunkedOf(`b\r\n${data.slice(0, 11)}\r\n0\r\n\r\n`).body, data.slice(0, 11));
    assert.equal(chunkedOf(`10\r\n${data}\r\n0\r\n\r\n`).body, data);
  });

  test("accepts leading zeros in size", () => {
    assert.equal(chunkedOf("0005\r\nhello\r\n000\r\n\r\n").body, "hello");
  });

  test("keeps CRLF inside chunk data", () => {
    const data = "GET /x HTTP/1.1\r\nHost: p.test\r\n\r\n";
    assert.equal(chunkedOf(`21\r\n${data}\r\n0\r\n\r\n`).body, data);
  });

  test("keeps every byte value in data", () => {
    const data = textOf(Uint8Array.from({ length: 256 }, (_, i) => i));
    assert.equal(chunkedOf(`100\r\n${data}\r\n0\r\n\r\n`).body, data);
  });

  test("leaves bytes after last chunk", () => {
    const message = "5\r\nhello\r\n0\r\n\r\n";
    const result = chunkedOf(message + "GET / HTTP/1.1\r\n");
    assert.equal(result.body, "hello");
    assert.equal(result.end, message.length);
  });

  test("leaves bytes after trailers", () => {
    const message = "5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n";
    const result = chunkedOf(message + "HTTP/1.1 200 OK\r\n");
    assert.equal(result.end, message.length);
    assert.deepEqual(result.trailers, ["X-Sum", "42"]);
  });

  test("waits for rest of truncated body", () => {
    for (
      const input of ["a\r\n01234", "4\r", "5\r\nhello\r\n0\r\n", "5\r\nhello\r\n0\r\nX: 1\r\n"]
    ) {
      const result = chunkedOf(input);
      assert.equal(result.done, false, input);
      assert.equal(result.end, -1, input);
    }
  });

  test("passes data of truncated chunk", () => {
    assert.equal(chunkedOf("a\r\n01234").body, "01234");
  });
});

describe("ChunkedDecoder extensions", () => {
  const valid = [
    '5;name=value;flag;q="a \\"b\\""\r\nhello\r\n0;end=1\r\n\r\n',
    "5;flag\r\nhello\r\n0\r\n\r\n",
    "5;a=1;b=2;c\r\nhello\r\n0\r\n\r\n",
    '5;q=""\r\nhello\r\n0\r\n\r\n',
    '5;q="\tx y\xff"\r\nhello\r\n0\r\n\r\n',
    '5;q="\\\\"\r\nhello\r\n0\r\n\r\n',
    "5;!#$%&'*+-.^_`|~=!#$%&'*+-.^_`|~\r\nhello\r\n0\r\n\r\n",
  ];
  for (const input of valid) {
    test(`drops extension ${JSON.stringify(input.slice(1, input.indexOf("\r")))}`, () => {
      assert.equal(chunkedOf(input).body, "hello");
    });
  }

  const invalid: [name: string, input: string, code: ParseErrorCode, caseId?: string][] = [
    ["empty name", "5;\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_EXTENSION", "CH-06"],
    ["value without name", "5;=v\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_EXTENSION", "CH-06"],
    ["empty value", "5;a=\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_EXTENSION"],
    ["unclosed quote", '5;a="open\r\nhello\r\n0\r\n\r\n', "INVALID_CHUNK_EXTENSION", "CH-06"],
    ["DEL in quoted value", '5;a="\x7f"\r\nhello\r\n0\r\n\r\n', "INVALID_CHUNK_EXTENSION"],
    ["escaped NUL", '5;a="\\\x00"\r\nhello\r\n0\r\n\r\n', "INVALID_CHUNK_EXTENSION"],
    ["two semicolons", "5;a;;b\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_EXTENSION"],
    ["quote inside token value", '5;a=b"c"\r\nhello\r\n0\r\n\r\n', "INVALID_CHUNK_SIZE"],
    ["byte after quoted value", '5;a="x"y\r\nhello\r\n0\r\n\r\n', "INVALID_CHUNK_SIZE"],
    ["second equals sign", "5;a=b=c\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE"],
    ["NUL in name", "5;a\x00\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-06"],
    ["extension without semicolon", "5 ext\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-06"],
    ["space before semicolon", "5 ; name\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-06"],
    ["space after semicolon", "5; name\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_EXTENSION"],
    ["space around equals", "5;a = b\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE"],
    ["trailing spaces", "5   \r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-06"],
    ["on last chunk", "0;\r\n\r\n", "INVALID_CHUNK_EXTENSION"],
  ];
  for (const [name, input, code] of invalid) {
    test(`rejects extension ${name}`, () => {
      assert.deepEqual(chunkedRejection(input), { code, status: 400 });
    });
  }
});

describe("ChunkedDecoder rejected sizes and framing", () => {
  const cases: [name: string, input: string, code: ParseErrorCode, caseId?: string][] = [
    ["0x prefix", "0x5\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["plus sign", "+5\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["minus sign", "-5\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["leading space", " 5\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["trailing space", "5 \r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["trailing tab", "5\t\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["underscore", "5_0\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["letter after size", "5z\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["words after size", "5these-are-not-hex\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    [
      "0x prefix on second chunk",
      "3\r\nabc\r\n0x5\r\nhello\r\n0\r\n\r\n",
      "INVALID_CHUNK_SIZE",
      "CH-01",
    ],
    ["NUL after size", "10\x00\r\n", "INVALID_CHUNK_SIZE", "CH-01"],
    ["2^64", "10000000000000000\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-02"],
    ["seventeen f", "fffffffffffffffff\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-02"],
    ["2^53+1", "20000000000001\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-02"],
    ["2^53", "20000000000000\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-02"],
    ["hundred digits", "9".repeat(100) + "\r\nhello\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-02"],
    ["data longer than size", "3\r\nabcde\r\n0\r\n\r\n", "INVALID_CHUNK_END", "CH-03a"],
    ["data shorter than size", "5\r\nabc\r\n0\r\n\r\n", "INVALID_CHUNK_END", "CH-03b"],
    ["junk instead of CRLF", "3\r\nabc__\r\n0\r\n\r\n", "INVALID_CHUNK_END", "CH-03c"],
    ["CR without LF after data", "3\r\nabc\r_0\r\n\r\n", "INVALID_CHUNK_END"],
    ["LF after size", "5\nhello\r\n0\r\n\r\n", "BARE_LF", "CH-04a"],
    ["LF after data", "5\r\nhello\n0\r\n\r\n", "INVALID_CHUNK_END", "CH-04b"],
    ["LF after last chunk", "5\r\nhello\r\n0\n\r\n", "BARE_LF", "CH-04c"],
    ["LF ending trailer section", "5\r\nhello\r\n0\r\n\n", "BARE_LF", "CH-04d"],
    ["LF after extension", "5;e=v\nhello\r\n0\r\n\r\n", "BARE_LF", "CH-04e"],
    ["LF after flag extension", "5;e\nhello\r\n0\r\n\r\n", "BARE_LF"],
    ["LF after quoted extension", '5;e="v"\nhello\r\n0\r\n\r\n', "BARE_LF"],
    ["LF in trailer line", "0\r\nX: 1\n\r\n", "BARE_LF"],
    ["CR without LF after size", "5\rhello\r\n0\r\n\r\n", "BARE_CR"],
    ["empty size line", "3\r\nabc\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-08a"],
    ["extra CRLF before last chunk", "3\r\nabc\r\n\r\n0\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-08b"],
    ["empty lines only", "\r\n\r\n", "INVALID_CHUNK_SIZE", "CH-08c"],
    ["LF only", "\n", "INVALID_CHUNK_SIZE"],
    ["semicolon without size", ";a\r\n", "INVALID_CHUNK_SIZE"],
  ];
  for (const [name, input, code] of cases) {
    test(`rejects ${name}`, () => {
      assert.deepEqual(chunkedRejection(input), { code, status: 400 });
    });
  }

  test("accepts largest exact size", () => {
    const result = chunkedOf("1fffffffffffff\r\nabc");
    assert.equal(result.done, false);
    assert.equal(result.body, "abc");
  });
});

describe("ChunkedDecoder limits", () => {
  test("accepts chunk line at limit", () => {
    const line = "5;" + "e".repeat(14);
    assert.equal(chunkedOf(`${line}\r\nhello\r\n0\r\n\r\n`, SMALL_LIMITS).body, "hello");
  });

  test("rejects chunk line over limit", () => {
    const input = "2;" + "e".repeat(15) + "\r\nhi\r\n0\r\n\r\n";
    assert.deepEqual(chunkedRejection(input, SMALL_LIMITS), {
      code: "CHUNK_EXTENSION_TOO_LARGE",
      status: 400,
    });
  });

  test("rejects long unterminated extension", () => {
    const input = "2;" + "e".repeat(100);
    assert.deepEqual(chunkedRejection(input, SMALL_LIMITS), {
      code: "CHUNK_EXTENSION_TOO_LARGE",
      status: 400,
    });
  });

  test("counts leading zeros toward line limit", () => {
    const input = "0".repeat(16) + "5\r\nhello\r\n0\r\n\r\n";
    assert.deepEqual(chunkedRejection(input, SMALL_LIMITS), {
      code: "CHUNK_EXTENSION_TOO_LARGE",
      status: 400,
    });
  });

  test("rejects extension over default limit", () => {
    const input = "2;" + "e".repeat(16 * 1024) + "\r\nhi\r\n0\r\n\r\n";
    assert.deepEqual(chunkedRejection(input), { code: "CHUNK_EXTENSION_TOO_LARGE", status: 400 });
  });

  test("accepts body at limit", () => {
    assert.equal(
      chunkedOf("5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", SMALL_LIMITS).body,
      "helloworld",
    );
  });

  test("rejects declared chunk over limit before data", () => {
    assert.deepEqual(chunkedRejection("b\r\n", SMALL_LIMITS), {
      code: "BODY_TOO_LARGE",
      status: 413,
    });
  });

  test("rejects sum of chunks over limit", () => {
    const input = "5\r\nhello\r\n6\r\n";
    assert.deepEqual(chunkedRejection(input, SMALL_LIMITS), {
      code: "BODY_TOO_LARGE",
      status: 413,
    });
  });

  test("rejects largest exact size over limit", () => {
    const input = "1fffffffffffff\r\n";
    assert.deepEqual(chunkedRejection(input, limits({ maxBodyBytes: 1 << 20 })), {
      code: "BODY_TOO_LARGE",
      status: 413,
    });
  });

  test("limits trailer bytes", () => {
    const input = "0\r\nX-Long: " + "v".repeat(40) + "\r\n\r\n";
    assert.deepEqual(chunkedRejection(input, SMALL_LIMITS), {
      code: "HEAD_TOO_LARGE",
      status: 431,
    });
  });

  test("limits trailer count", () => {
    const input = "0\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    assert.deepEqual(chunkedRejection(input, SMALL_LIMITS), {
      code: "TOO_MANY_FIELDS",
      status: 431,
    });
  });
});

describe("ChunkedDecoder trailers", () => {
  test("parses trailer field", () => {
    const result = chunkedOf("5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n");
    assert.equal(result.body, "hello");
    assert.deepEqual(result.trailers, ["X-Sum", "42"]);
  });

  test("rejects framing fields in trailers", () => {
    for (const field of ["Content-Length: 50", "Transfer-Encoding: chunked"]) {
      const rejection = chunkedRejection(`5\r\nhello\r\n0\r\n${field}\r\n\r\n`);
      assert.equal(rejection.code, "INVALID_TRAILER", field);
      assert.equal(rejection.status, 400, field);
    }
  });

  test("keeps routing fields as trailers", () => {
    const result = chunkedOf("5\r\nhello\r\n0\r\nHost: other.test\r\n\r\n");
    assert.equal(result.body, "hello");
    assert.deepEqual(result.trailers, ["Host", "other.test"]);
  });

  test("keeps request-line value in trailer", () => {
    const input = "0\r\nX:GET /admin HTTP/1.1\r\n\r\n";
    const result = chunkedOf(input);
    assert.deepEqual(result.trailers, ["X", "GET /admin HTTP/1.1"]);
    assert.equal(result.end, input.length);
  });

  const invalid: [name: string, input: string, code: ParseErrorCode, caseId?: string][] = [
    ["line without colon", "5\r\nhello\r\n0\r\nX-Bad\r\n\r\n", "MISSING_COLON", "CH-09c"],
    ["LF between fields", "5\r\nhello\r\n0\r\nX-A: 1\nX-B: 2\r\n\r\n", "BARE_LF", "CH-09c"],
    ["obs-fold", "5\r\nhello\r\n0\r\n X-F: 1\r\n\r\n", "OBS_FOLD", "CH-09c"],
    ["whitespace before colon", "0\r\nX-A : 1\r\n\r\n", "WHITESPACE_BEFORE_COLON"],
    ["NUL in value", "0\r\nX-A: a\x00b\r\n\r\n", "INVALID_FIELD_VALUE"],
    ["CR without LF", "0\r\nX-A: a\rb\r\n\r\n", "BARE_CR"],
    ["CR LF CR junk", "0\r\nX-A: 1\r\n\rX\r\n\r\n", "BARE_CR"],
  ];
  for (const [name, input, code] of invalid) {
    test(`rejects trailer ${name}`, () => {
      assert.deepEqual(chunkedRejection(input), { code, status: 400 });
    });
  }
});

describe("encodeChunk and lastChunk", () => {
  test("encodes size in lower-case hex", () => {
    assert.equal(textOf(encodeChunk(bytesOf("hello"))), "5\r\nhello\r\n");
    assert.equal(textOf(encodeChunk(new Uint8Array(255))), "ff\r\n" + "\x00".repeat(255) + "\r\n");
  });

  test("encodes empty data as no bytes", () => {
    assert.equal(encodeChunk(new Uint8Array(0)).length, 0);
  });

  test("encodes last chunk", () => {
    assert.equal(textOf(lastChunk()), "0\r\n\r\n");
  });

  test("returns a new last chunk each call", () => {
    const first = lastChunk();
    first[0] = 0x39;
    assert.equal(textOf(lastChunk()), "0\r\n\r\n");
  });

  test("round trips through decoder", () => {
    const parts = ["GET / HTTP/1.1\r\n", "", "x".repeat(300), "\r\n0\r\n\r\n"].map(bytesOf);
    const encoded = concatBytes([...parts.map(encodeChunk), lastChunk()]);
    const result = chunkedOf(encoded);
    assert.equal(result.body, parts.map(textOf).join(""));
    assert.equal(result.end, encoded.length);
  });

  test("round trips random bodies split anywhere", () => {
    const body = fc.uint8Array({ maxLength: 400 });
    const cuts = fc.array(fc.nat(), { maxLength: 12 });
    fc.assert(
      fc.property(
        body,
        cuts,
        cuts,
        fc.uint8Array({ maxLength: 20 }),
        (data, chunkCuts, splitCuts, next) => {
          const chunks = piecesAt(data, chunkCuts);
          const encoded = concatBytes([...chunks.map(encodeChunk), lastChunk()]);
          const input = concatBytes([encoded, next]);
          const outcome = deliver(chunkedDecoder(), piecesAt(input, splitCuts));
          assert.deepEqual(outcome, {
            ok: true,
            value: { body: textOf(data), trailers: [], done: true, end: encoded.length },
          });
        },
      ),
      { numRuns: 2000 },
    );
  });
});
