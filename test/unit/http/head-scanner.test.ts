import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type HeadLimits, HeadScanner } from "../../../src/http/mod.ts";
import { headScanner, WIDE_LIMITS } from "./consumers.ts";
import {
  bytesOf,
  outcomeOfEverySplit,
  rejectionOfEverySplit,
  type StreamConsumer,
  textOf,
  valueOfEverySplit,
} from "./split.ts";

const GET = "GET /a HTTP/1.1\r\nHost: p.test\r\n\r\n";

function limits(overrides: Partial<HeadLimits>): HeadLimits {
  return { ...WIDE_LIMITS, ...overrides };
}

describe("HeadScanner heads", () => {
  test("finds end of request head", () => {
    const scanned = valueOfEverySplit(GET, headScanner("request"));
    assert.deepEqual(scanned.messages, [GET]);
    assert.equal(scanned.unfinished, false);
  });

  test("scans pipelined heads from an offset", () => {
    const second = "GET /b HTTP/1.1\r\nHost: p.test\r\n\r\n";
    const scanned = valueOfEverySplit(GET + second + "GET /c", headScanner("request"));
    assert.deepEqual(scanned.messages, [GET, second]);
    assert.equal(scanned.unfinished, true);
  });

  test("reports an unfinished head", () => {
    const scanned = valueOfEverySplit(
      "GET /a HTTP/1.1\r\nHost: p.test\r\n\r",
      headScanner("request"),
    );
    assert.deepEqual(scanned.messages, []);
    assert.equal(scanned.unfinished, true);
  });

  test("skips empty lines before request-line", () => {
    const scanned = valueOfEverySplit("\r\n\r\n" + GET, headScanner("request"));
    assert.deepEqual(scanned.messages, [GET]);
  });

  test("skips empty lines between pipelined requests", () => {
    const scanned = valueOfEverySplit(GET + "\r\n" + GET, headScanner("request"));
    assert.deepEqual(scanned.messages, [GET, GET]);
  });

  test("finds end of response head", () => {
    const head = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n";
    const scanned = valueOfEverySplit(head, headScanner("response"));
    assert.deepEqual(scanned.messages, [head]);
  });

  test("rejects empty line before status line", () => {
    const rejection = rejectionOfEverySplit("\r\nHTTP/1.1 200 OK\r\n\r\n", headScanner("response"));
    assert.deepEqual(rejection, { code: "INVALID_STATUS", status: 400 });
  });

  test("ends empty trailer section at first CRLF", () => {
    const scanned = valueOfEverySplit("\r\n", headScanner("trailer"));
    assert.deepEqual(scanned.messages, ["\r\n"]);
  });

  test("finds end of trailer section", () => {
    const trailer = "X-Sum: 42\r\nX-Other: 1\r\n\r\n";
    const scanned = valueOfEverySplit(trailer, headScanner("trailer"));
    assert.deepEqual(scanned.messages, [trailer]);
  });

  test("leaves bare CR to line parsers", () => {
    const head = "GET /a\rb HTTP/1.1\r\nX-A: q\rTransfer-Encoding: chunked\r\n\r\n";
    const scanned = valueOfEverySplit(head, headScanner("request"));
    assert.deepEqual(scanned.messages, [head]);
  });

  test("does not end head at CR LF CR junk", () => {
    const input =
      "GET /a HTTP/1.1\r\nHost: p.test\r\n\rXGET /evil HTTP/1.1\r\nHost: p.test\r\n\r\n";
    const scanned = valueOfEverySplit(input, headScanner("request"));
    assert.deepEqual(scanned.messages, [input]);
  });

  test("forgets partial head on reset", () => {
    const scanner = new HeadScanner("request", WIDE_LIMITS);
    scanner.push(bytesOf("POST /junk HTTP/1.1\r\nX: "), 0);
    assert.equal(scanner.started, true);
    assert.equal(scanner.consumedBytes, 24);
    scanner.reset();
    assert.equal(scanner.started, false);
    assert.equal(scanner.consumedBytes, 0);
  });

  test("scans new head after reset", () => {
    const create = (): StreamConsumer<string[]> => {
      const scanner = new HeadScanner("request", WIDE_LIMITS);
      scanner.push(bytesOf("POST /junk HTTP/1.1\r\nX: "), 0);
      scanner.reset();
      const heads: string[] = [];
      return {
        push(piece) {
          const result = scanner.push(piece, 0);
          if (result !== undefined) heads.push(textOf(result.head));
        },
        finish: () => heads,
      };
    };
    assert.deepEqual(valueOfEverySplit(GET, create), [GET]);
  });
});

describe("HeadScanner bare LF", () => {
  const cases: [string, string][] = [
    ["request-line", "GET /a HTTP/1.1\nHost: p.test\r\n\r\n"],
    ["field line", "POST /a HTTP/1.1\r\nHost: p.test\r\nX-A: v\nContent-Length: 5\r\n\r\nhello"],
    ["empty line", "GET /a HTTP/1.1\r\nHost: p.test\r\n\n"],
    ["LF only", "GET /a HTTP/1.1\nHost: p.test\n\n"],
    ["inside field name", "GET /a HTTP/1.1\r\nX-Te\nst: 1\r\n\r\n"],
    ["leading empty line", "\nGET /a HTTP/1.1\r\n\r\n"],
  ];
  for (const [name, input] of cases) {
    test(`rejects LF without CR in ${name}`, () => {
      const rejection = rejectionOfEverySplit(input, headScanner("request"));
      assert.deepEqual(rejection, { code: "BARE_LF", status: 400 });
    });
  }

  test("rejects LF without CR in trailer", () => {
    const rejection = rejectionOfEverySplit("X-A: 1\nX-B: 2\r\n\r\n", headScanner("trailer"));
    assert.deepEqual(rejection, { code: "BARE_LF", status: 400 });
  });

  test("rejects LF without CR in status line", () => {
    const rejection = rejectionOfEverySplit("HTTP/1.1 200 OK\n\r\n", headScanner("response"));
    assert.deepEqual(rejection, { code: "BARE_LF", status: 400 });
  });
});

describe("HeadScanner limits", () => {
  const startLine = "GET /abc HTTP/1.1"; // 17 bytes

  test("accepts start line at limit", () => {
    const input = startLine + "\r\n\r\n";
    const scanned = valueOfEverySplit(
      input,
      headScanner("request", limits({ maxStartLineBytes: 17 })),
    );
    assert.deepEqual(scanned.messages, [input]);
  });

  test("rejects start line over limit with 414", () => {
    const input = startLine + "\r\n\r\n";
    const rejection = rejectionOfEverySplit(
      input,
      headScanner("request", limits({ maxStartLineBytes: 16 })),
    );
    assert.deepEqual(rejection, { code: "START_LINE_TOO_LONG", status: 414 });
  });

  test("rejects long start line before its end", () => {
    const input = "GET /" + "a".repeat(40);
    const rejection = rejectionOfEverySplit(
      input,
      headScanner("request", limits({ maxStartLineBytes: 16 })),
    );
    assert.deepEqual(rejection, { code: "START_LINE_TOO_LONG", status: 414 });
  });

  test("rejects long status line with 502", () => {
    const input = "HTTP/1.1 200 " + "a".repeat(40);
    const rejection = rejectionOfEverySplit(
      input,
      headScanner("response", limits({ maxStartLineBytes: 16 })),
    );
    assert.deepEqual(rejection, { code: "START_LINE_TOO_LONG", status: 502 });
  });

  test("does not apply start line limit to fields", () => {
    const input = "GET / HTTP/1.1\r\nX-Long: " + "v".repeat(40) + "\r\n\r\n";
    const scanned = valueOfEverySplit(
      input,
      headScanner("request", limits({ maxStartLineBytes: 16 })),
    );
    assert.deepEqual(scanned.messages, [input]);
  });

  test("accepts head at byte limit", () => {
    const scanned = valueOfEverySplit(
      GET,
      headScanner("request", limits({ maxHeadBytes: GET.length })),
    );
    assert.deepEqual(scanned.messages, [GET]);
  });

  test("counts final empty line in head limit", () => {
    const rejection = rejectionOfEverySplit(
      GET,
      headScanner("request", limits({ maxHeadBytes: GET.length - 1 })),
    );
    assert.deepEqual(rejection, { code: "HEAD_TOO_LARGE", status: 431 });
  });

  test("rejects large head before its end", () => {
    const input = "GET / HTTP/1.1\r\nX-Long: " + "v".repeat(100);
    const rejection = rejectionOfEverySplit(
      input,
      headScanner("request", limits({ maxHeadBytes: 64 })),
    );
    assert.deepEqual(rejection, { code: "HEAD_TOO_LARGE", status: 431 });
  });

  test("counts leading empty lines in head limit", () => {
    const input = "\r\n".repeat(40);
    const rejection = rejectionOfEverySplit(
      input,
      headScanner("request", limits({ maxHeadBytes: 64 })),
    );
    assert.deepEqual(rejection, { code: "HEAD_TOO_LARGE", status: 431 });
  });

  test("accepts field count at limit", () => {
    const input = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\n\r\n";
    const scanned = valueOfEverySplit(input, headScanner("request", limits({ maxFieldCount: 2 })));
    assert.deepEqual(scanned.messages, [input]);
  });

  test("rejects field count over limit", () => {
    const input = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
    const rejection = rejectionOfEverySplit(
      input,
      headScanner("request", limits({ maxFieldCount: 2 })),
    );
    assert.deepEqual(rejection, { code: "TOO_MANY_FIELDS", status: 431 });
  });

  test("limits trailer field count", () => {
    const rejection = rejectionOfEverySplit(
      "A: 1\r\nB: 2\r\n\r\n",
      headScanner("trailer", limits({ maxFieldCount: 1 })),
    );
    assert.deepEqual(rejection, { code: "TOO_MANY_FIELDS", status: 431 });
  });

  test("limits trailer bytes", () => {
    const rejection = rejectionOfEverySplit(
      "A: 1\r\nB: 2\r\n\r\n",
      headScanner("trailer", limits({ maxHeadBytes: 13 })),
    );
    assert.deepEqual(rejection, { code: "HEAD_TOO_LARGE", status: 431 });
  });

  test("does not apply start line limit to trailer", () => {
    const trailer = "X-Long: " + "v".repeat(40) + "\r\n\r\n";
    const scanned = valueOfEverySplit(
      trailer,
      headScanner("trailer", limits({ maxStartLineBytes: 0 })),
    );
    assert.deepEqual(scanned.messages, [trailer]);
  });

  test("locates first byte past head limit", () => {
    const input = "GET / HTTP/1.1\r\nX-Long: " + "v".repeat(100);
    const outcome = outcomeOfEverySplit(
      input,
      headScanner("request", limits({ maxHeadBytes: 64 })),
    );
    assert.deepEqual(outcome, { ok: false, code: "HEAD_TOO_LARGE", status: 431, offset: 64 });
  });

  test("locates first byte past start line limit", () => {
    const input = "\r\nGET /" + "a".repeat(40);
    const scanner = headScanner("request", limits({ maxStartLineBytes: 16 }));
    const outcome = outcomeOfEverySplit(input, scanner);
    assert.deepEqual(outcome, { ok: false, code: "START_LINE_TOO_LONG", status: 414, offset: 18 });
  });

  test("reports limit passed first", () => {
    // The head limit is passed inside the start line, 9 bytes before the start line limit.
    const input = "\r\n".repeat(6) + "GET /" + "a".repeat(30) + " HTTP/1.1\r\n\r\n";
    const scanner = headScanner("request", {
      maxStartLineBytes: 16,
      maxHeadBytes: 20,
      maxFieldCount: 10,
    });
    assert.deepEqual(rejectionOfEverySplit(input, scanner), {
      code: "HEAD_TOO_LARGE",
      status: 431,
    });
  });

  test("reports start line limit passed first", () => {
    const input = "GET /" + "a".repeat(30) + " HTTP/1.1\r\n\r\n";
    const scanner = headScanner("request", {
      maxStartLineBytes: 16,
      maxHeadBytes: 20,
      maxFieldCount: 10,
    });
    assert.deepEqual(rejectionOfEverySplit(input, scanner), {
      code: "START_LINE_TOO_LONG",
      status: 414,
    });
  });

  test("reports head limit before field count", () => {
    const input = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 33333333333\r\n\r\n";
    const scanner = headScanner("request", {
      maxStartLineBytes: 100,
      maxHeadBytes: 30,
      maxFieldCount: 2,
    });
    assert.deepEqual(rejectionOfEverySplit(input, scanner), {
      code: "HEAD_TOO_LARGE",
      status: 431,
    });
  });

  test("reports head limit before bare LF", () => {
    const input = "GET / HTTP/1.1\r\n" + "A".repeat(30) + "\n";
    const scanner = headScanner("request", {
      maxStartLineBytes: 100,
      maxHeadBytes: 30,
      maxFieldCount: 2,
    });
    assert.deepEqual(rejectionOfEverySplit(input, scanner), {
      code: "HEAD_TOO_LARGE",
      status: 431,
    });
  });
});
