import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ParseErrorCode, responseKeepsAlive } from "../../../src/http/mod.ts";
import {
  requestOf,
  requestReader,
  requestRejection,
  responseHeadOf,
  responseOf,
  responseReader,
  responseRejection,
} from "./consumers.ts";
import { valueOfEverySplit } from "./split.ts";

/** Builds a POST to `/a` on `p.test` with `fields` (each ending in CRLF), then `body`. */
function post(fields: string, body = "", version = "HTTP/1.1"): string {
  return `POST /a ${version}\r\nHost: p.test\r\n${fields}\r\n${body}`;
}

const CHUNKED_HELLO = "5\r\nhello\r\n0\r\n\r\n";

/** A rejected input, its expected error, and the id of the proxy conformance case, if any. */
type RejectionCase = [
  name: string,
  input: string,
  code: ParseErrorCode,
  status: number,
  caseId?: string,
];

function testRejections(cases: RejectionCase[], options = {}): void {
  for (const [name, input, code, status] of cases) {
    test(`rejects ${name} with ${status}`, () => {
      assert.deepEqual(requestRejection(input, options), { code, status });
    });
  }
}

describe("analyzeRequest Content-Length and Transfer-Encoding together", () => {
  testRejections([
    [
      "CL then TE",
      post(
        "Content-Length: 26\r\nTransfer-Encoding: chunked\r\n",
        "0\r\n\r\nGET /x HTTP/1.1\r\nX: y",
      ),
      "CONFLICTING_FRAMING",
      400,
      "FR-01",
    ],
    [
      "TE then CL",
      post(
        "Transfer-Encoding: chunked\r\nContent-Length: 4\r\n",
        "1e\r\nGET /y HTTP/1.1\r\nHost: p.t\r\n\r\n\r\n0\r\n\r\n",
      ),
      "CONFLICTING_FRAMING",
      400,
      "FR-02",
    ],
    [
      "TE with trailing tab and CL",
      post("Transfer-Encoding: chunked\t\r\nContent-Length: 3\r\n"),
      "INVALID_TRANSFER_ENCODING",
      400,
      "FR-12a",
    ],
    [
      "TE with spaces and CL",
      post("Transfer-Encoding:   chunked  \r\nContent-Length: 3\r\n"),
      "CONFLICTING_FRAMING",
      400,
      "FR-12b",
    ],
    [
      "upper-case TE and CL",
      post("Transfer-Encoding: CHUNKED\r\nContent-Length: 3\r\n"),
      "CONFLICTING_FRAMING",
      400,
      "FR-12c",
    ],
    [
      "TE with obs-text and CL",
      post("Transfer-Encoding: \xa0chunked\r\nContent-Length: 3\r\n"),
      "CONFLICTING_FRAMING",
      400,
      "FR-12g",
    ],
    [
      "unknown TE and CL",
      post("Transfer-Encoding: gzip\r\nContent-Length: 3\r\n"),
      "CONFLICTING_FRAMING",
      400,
    ],
  ]);
});

describe("analyzeRequest Content-Length", () => {
  test("frames body by Content-Length", () => {
    const message = requestOf(post("Content-Length: 5\r\n", "hello"));
    assert.deepEqual(message.info.framing, { kind: "length", length: 5 });
    assert.equal(message.body, "hello");
  });

  test("reads no body for Content-Length 0", () => {
    const message = requestOf(post("Content-Length: 0\r\n"));
    assert.deepEqual(message.info.framing, { kind: "none" });
    assert.equal(message.body, "");
  });

  const accepted: [name: string, fields: string, caseId?: string][] = [
    ["leading tab and trailing space", "Content-Length: \t5 \r\n"],
    ["leading zeros", "Content-Length: 005\r\n"],
    ["twenty digits of leading zeros", "Content-Length: 000000000000000000005\r\n"],
  ];
  for (const [name, fields] of accepted) {
    test(`accepts ${name} as one length`, () => {
      const message = requestOf(post(fields, "hello"));
      assert.deepEqual(message.info.framing, { kind: "length", length: 5 });
      assert.equal(message.body, "hello");
    });
  }

  const cl = (value: string) => post(`Content-Length: ${value}\r\n`, "hello");
  testRejections([
    [
      "differing values",
      post("Content-Length: 0\r\nContent-Length: 19\r\n", "GET /z HTTP/1.1\r\n\r\n"),
      "INVALID_CONTENT_LENGTH",
      400,
      "FR-03",
    ],
    [
      "differing values reversed",
      post("Content-Length: 19\r\nContent-Length: 0\r\n", "GET /z HTTP/1.1\r\n\r\n"),
      "INVALID_CONTENT_LENGTH",
      400,
      "FR-03",
    ],
    // RFC 9110 §8.6 allows accepting repeated equal values; llhttp rejects them, and so does
    // Cairn, so that no origin behind it can read the message differently.
    [
      "repeated equal field",
      post("Content-Length: 5\r\nContent-Length: 5\r\n", "hello"),
      "INVALID_CONTENT_LENGTH",
      400,
      "FR-04a",
    ],
    ["list of equal values", cl("5, 5"), "INVALID_CONTENT_LENGTH", 400, "FR-04b"],
    ["list without spaces", cl("5,5,5"), "INVALID_CONTENT_LENGTH", 400],
    ["equal values with other leading zeros", cl("5, 05"), "INVALID_CONTENT_LENGTH", 400],
    ["tabs around value", cl("\t5 \t"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["list with other value", cl("5, 5, 6"), "INVALID_CONTENT_LENGTH", 400, "FR-04c"],
    ["trailing comma", cl("5,"), "INVALID_CONTENT_LENGTH", 400, "FR-04"],
    ["leading comma", cl(",5"), "INVALID_CONTENT_LENGTH", 400],
    ["empty value", post("Content-Length: \r\n"), "INVALID_CONTENT_LENGTH", 400, "FR-05a"],
    [
      "empty value before real one",
      post(
        "Content-Length: \r\nContent-Length: 37\r\n",
        "GET /admin HTTP/1.1\r\nHost: p.test\r\n\r\n",
      ),
      "INVALID_CONTENT_LENGTH",
      400,
      "FR-05b",
    ],
    ["plus sign", cl("+5"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["minus sign", cl("-5"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["minus zero", cl("-0"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["hexadecimal", cl("0x5"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["underscore", cl("5_0"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["inner space", cl("4 2"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["decimal point", cl("5.0"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["exponent", cl("1e3"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["fullwidth digit", cl("\xef\xbc\x95"), "INVALID_CONTENT_LENGTH", 400, "FR-06"],
    ["vertical tab", cl("5\x0b"), "INVALID_FIELD_VALUE", 400, "FR-06"],
    ["NUL", cl("5\x00"), "INVALID_FIELD_VALUE", 400, "FR-06"],
  ]);
});

describe("analyzeRequest large Content-Length", () => {
  const huge = (value: string) => post(`Content-Length: ${value}\r\n`);
  testRejections([
    ["2^64", huge("18446744073709551616"), "BODY_TOO_LARGE", 413, "FR-07"],
    ["2^53+1", huge("9007199254740993"), "BODY_TOO_LARGE", 413, "FR-07"],
    ["thirty digits", huge("1".repeat(30)), "BODY_TOO_LARGE", 413, "FR-07"],
    [
      "2^53+1 next to 2^53",
      huge("9007199254740993, 9007199254740992"),
      "INVALID_CONTENT_LENGTH",
      400,
    ],
    ["twenty digits next to 5", huge("10000000000000000005, 5"), "INVALID_CONTENT_LENGTH", 400],
    ["5 next to twenty digits", huge("5, 10000000000000000005"), "INVALID_CONTENT_LENGTH", 400],
  ]);

  test("rejects repeated twenty-digit length with 400", () => {
    const rejection = requestRejection(huge("10000000000000000005, 10000000000000000005"));
    assert.deepEqual(rejection, { code: "INVALID_CONTENT_LENGTH", status: 400 });
  });

  test("keeps fifteen-digit length exact", () => {
    const read = valueOfEverySplit(huge("999999999999999"), requestReader());
    assert.equal(read.messages.length, 0);
    assert.equal(read.unfinished, true);
  });

  test("accepts length at body limit", () => {
    const message = requestOf(post("Content-Length: 5\r\n", "hello"), { maxBodyBytes: 5 });
    assert.equal(message.body, "hello");
  });

  test("rejects length over body limit before body", () => {
    const rejection = requestRejection(post("Content-Length: 6\r\n"), { maxBodyBytes: 5 });
    assert.deepEqual(rejection, { code: "BODY_TOO_LARGE", status: 413 });
  });

  test("rejects ten-gigabyte length", () => {
    const rejection = requestRejection(post("Content-Length: 10000000000\r\n"), {
      maxBodyBytes: 1 << 20,
    });
    assert.deepEqual(rejection, { code: "BODY_TOO_LARGE", status: 413 });
  });
});

describe("analyzeRequest Transfer-Encoding", () => {
  const chunkedForms: [name: string, fields: string, caseId?: string][] = [
    ["chunked", "Transfer-Encoding: chunked\r\n"],
    ["leading tab", "Transfer-Encoding: \tchunked\r\n"],
    ["spaces", "Transfer-Encoding:   chunked  \r\n", "FR-12b"],
    ["upper case", "Transfer-Encoding: CHUNKED\r\n", "FR-12c"],
    ["lower-case name", "transfer-encoding: chunked\r\n"],
  ];
  for (const [name, fields] of chunkedForms) {
    test(`frames ${name} as chunked`, () => {
      const message = requestOf(post(fields, CHUNKED_HELLO));
      assert.deepEqual(message.info.framing, { kind: "chunked" });
      assert.equal(message.body, "hello");
    });
  }

  test("decodes chunked DELETE body", () => {
    const chunk = "GET /x HTTP/1.1\r\nHost: p.test\r\n\r\n";
    const input =
      `DELETE /r HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n21\r\n${chunk}\r\n0\r\n\r\n`;
    const message = requestOf(input);
    assert.equal(message.head.method, "DELETE");
    assert.equal(message.body, chunk);
  });

  const te = (value: string) => post(`Transfer-Encoding: ${value}\r\n`, CHUNKED_HELLO);
  testRejections([
    ["chunked before gzip", te("chunked, gzip"), "INVALID_TRANSFER_ENCODING", 400, "FR-09a"],
    [
      "chunked then identity lines",
      post("Transfer-Encoding: chunked\r\nTransfer-Encoding: identity\r\n", CHUNKED_HELLO),
      "INVALID_TRANSFER_ENCODING",
      400,
      "FR-09b",
    ],
    ["chunked twice in list", te("chunked, chunked"), "INVALID_TRANSFER_ENCODING", 400, "FR-11a"],
    [
      "chunked on two lines",
      post("Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n", CHUNKED_HELLO),
      "INVALID_TRANSFER_ENCODING",
      400,
      "FR-11b",
    ],
    ["gzip", te("gzip"), "UNSUPPORTED_TRANSFER_CODING", 501, "FR-10"],
    ["pigeons", te("pigeons"), "UNSUPPORTED_TRANSFER_CODING", 501, "FR-10"],
    ["xchunked", te("xchunked"), "UNSUPPORTED_TRANSFER_CODING", 501, "FR-10"],
    ["chunkedchunked", te("chunkedchunked"), "UNSUPPORTED_TRANSFER_CODING", 501, "FR-10"],
    ["identity", te("identity"), "UNSUPPORTED_TRANSFER_CODING", 501, "FR-10"],
    ["gzip before chunked", te("gzip, chunked"), "UNSUPPORTED_TRANSFER_CODING", 501],
    ["vertical tab", te("\x0bchunked"), "INVALID_FIELD_VALUE", 400, "FR-12d"],
    ["form feed", te("\x0cchunked"), "INVALID_FIELD_VALUE", 400, "FR-12e"],
    ["NUL", te("chunked\x00"), "INVALID_FIELD_VALUE", 400, "FR-12f"],
    ["no-break space", te("\xa0chunked"), "INVALID_TRANSFER_ENCODING", 400, "FR-12g"],
    ["0xFF bytes", te("\xffchunked\xff"), "INVALID_TRANSFER_ENCODING", 400, "FR-12h"],
    ["coding with parameter", te("chunked;q=1"), "INVALID_TRANSFER_ENCODING", 400],
    ["empty value", te(""), "INVALID_TRANSFER_ENCODING", 400],
    ["only commas", te(", ,"), "INVALID_TRANSFER_ENCODING", 400],
    [
      "TE in HTTP/1.0",
      post("Transfer-Encoding: chunked\r\n", CHUNKED_HELLO, "HTTP/1.0"),
      "INVALID_TRANSFER_ENCODING",
      400,
      "FR-14",
    ],
    [
      "TE and CL in HTTP/1.0",
      post(
        "Transfer-Encoding: chunked\r\nContent-Length: 34\r\n",
        CHUNKED_HELLO + "GET /n HTTP/1.0\r\n\r\n",
        "HTTP/1.0",
      ),
      "INVALID_TRANSFER_ENCODING",
      400,
      "FR-14",
    ],
  ]);
});

describe("analyzeRequest bodies and fields", () => {
  for (const method of ["GET", "HEAD", "OPTIONS"]) {
    test(`reads ${method} body by length`, () => {
      const input =
        `${method} /g HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\n\r\nhelloGET /h HTTP/1.1\r\nHost: p.test\r\n\r\n`;
      const read = valueOfEverySplit(input, requestReader());
      assert.deepEqual(read.messages.map((message) => message.body), ["hello", ""]);
      assert.deepEqual(read.messages.map((message) => message.head.target), ["/g", "/h"]);
      assert.equal(read.unfinished, false);
    });
  }

  test("reads pipelined requests", () => {
    const input = "GET /1 HTTP/1.1\r\nHost: p.test\r\n\r\n" +
      "POST /2 HTTP/1.1\r\nHost: p.test\r\nContent-Length: 3\r\n\r\nabc" +
      "GET /3 HTTP/1.1\r\nHost: p.test\r\n\r\n";
    const read = valueOfEverySplit(input, requestReader());
    assert.deepEqual(read.messages.map((message) => message.head.target), ["/1", "/2", "/3"]);
    assert.deepEqual(read.messages.map((message) => message.body), ["", "abc", ""]);
  });

  test("frames by Content-Length, not Content_Length", () => {
    const message = requestOf(post("Content-Length: 5\r\nContent_Length: 99\r\n", "hello"));
    assert.deepEqual(message.info.framing, { kind: "length", length: 5 });
    assert.deepEqual(message.head.fields.slice(4), ["Content_Length", "99"]);
  });

  test("ignores Transfer_Encoding for framing", () => {
    const message = requestOf(post("Transfer_Encoding: chunked\r\nContent-Length: 5\r\n", "hello"));
    assert.deepEqual(message.info.framing, { kind: "length", length: 5 });
    assert.equal(message.body, "hello");
  });

  test("reads chunked trailers", () => {
    const message = requestOf(
      post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n"),
    );
    assert.equal(message.body, "hello");
    assert.deepEqual(message.trailers, ["X-Sum", "42"]);
  });

  test("applies chunked body limit", () => {
    const input = post("Transfer-Encoding: chunked\r\n", "5\r\nhello\r\n1\r\nx\r\n0\r\n\r\n");
    const chunkedLimits = {
      maxChunkLineBytes: 64,
      maxTrailerBytes: 64,
      maxTrailerCount: 4,
      maxBodyBytes: 5,
    };
    assert.deepEqual(requestRejection(input, { chunkedLimits }), {
      code: "BODY_TOO_LARGE",
      status: 413,
    });
  });
});

describe("analyzeRequest Host and target", () => {
  const get = (target: string, fields: string, version = "HTTP/1.1") =>
    `GET ${target} ${version}\r\n${fields}\r\n`;

  test("routes on Host", () => {
    const info = requestOf(get("/a/b?q=1", "Host: p.test:8080\r\n")).info;
    assert.equal(info.authority, "p.test:8080");
    assert.equal(info.upstreamTarget, "/a/b?q=1");
    assert.equal(info.path, "/a/b");
  });

  const validHosts = [
    "p.test",
    "P.Test",
    "[::1]",
    "[2001:db8::1]:443",
    "127.0.0.1:80",
    "a_b.test",
    "p.test:",
    "",
  ];
  for (const host of validHosts) {
    test(`accepts Host "${host}"`, () => {
      assert.equal(requestOf(get("/", `Host: ${host}\r\n`)).info.authority, host);
    });
  }

  test("accepts HTTP/1.0 without Host", () => {
    const info = requestOf(get("/a", "", "HTTP/1.0")).info;
    assert.equal(info.authority, undefined);
    assert.equal(info.path, "/a");
  });

  test("replaces Host with absolute-form authority", () => {
    const info = requestOf(get("http://b.test/x?y=1", "Host: a.test\r\n")).info;
    assert.equal(info.authority, "b.test");
    assert.equal(info.upstreamTarget, "/x?y=1");
    assert.equal(info.path, "/x");
  });

  const absolute: [
    name: string,
    method: string,
    target: string,
    upstreamTarget: string,
    caseId?: string,
  ][] = [
    ["empty path", "GET", "http://b.test", "/", "RL-02b"],
    ["empty path with query", "GET", "http://b.test?q=1", "/?q=1"],
    ["https scheme", "GET", "https://b.test:8443/x", "/x"],
    ["upper-case scheme", "GET", "HTTP://b.test/x", "/x"],
    ["OPTIONS empty path", "OPTIONS", "http://b.test", "*", "RL-04f"],
    ["OPTIONS with path", "OPTIONS", "http://b.test/x", "/x"],
  ];
  for (const [name, method, target, upstreamTarget] of absolute) {
    test(`rewrites ${name} to ${upstreamTarget}`, () => {
      const input = `${method} ${target} HTTP/1.1\r\nHost: b.test\r\n\r\n`;
      assert.equal(requestOf(input).info.upstreamTarget, upstreamTarget);
    });
  }

  test("accepts OPTIONS asterisk", () => {
    const info = requestOf("OPTIONS * HTTP/1.1\r\nHost: p.test\r\n\r\n").info;
    assert.equal(info.upstreamTarget, "*");
    assert.equal(info.path, "*");
  });

  testRejections([
    ["missing Host", get("/a", ""), "INVALID_HOST", 400, "RL-01a"],
    ["two Hosts", get("/a", "Host: a.test\r\nHost: b.test\r\n"), "INVALID_HOST", 400, "RL-01b"],
    [
      "identical Hosts",
      get("/a", "Host: a.test\r\nHost: a.test\r\n"),
      "INVALID_HOST",
      400,
      "RL-01c",
    ],
    ["Host list", get("/a", "Host: a.test, b.test\r\n"), "INVALID_HOST", 400, "RL-01d"],
    ["Host with path", get("/a", "Host: a.test/x\r\n"), "INVALID_HOST", 400, "RL-01e"],
    ["Host with userinfo", get("/a", "Host: u@a.test\r\n"), "INVALID_HOST", 400, "RL-01f"],
    ["Host with six-digit port", get("/a", "Host: a.test:123456\r\n"), "INVALID_HOST", 400],
    ["Host with space", get("/a", "Host: a .test\r\n"), "INVALID_HOST", 400],
    [
      "two Hosts in HTTP/1.0",
      get("/a", "Host: a.test\r\nHost: a.test\r\n", "HTTP/1.0"),
      "INVALID_HOST",
      400,
    ],
    ["absolute-form without Host", get("http://b.test/x", ""), "INVALID_HOST", 400],
    [
      "absolute-form with invalid Host",
      get("http://b.test/x", "Host: a.test/x\r\n"),
      "INVALID_HOST",
      400,
    ],
    [
      "userinfo in target",
      get("http://u:pw@b.test/x", "Host: b.test\r\n"),
      "INVALID_TARGET",
      400,
      "RL-02c",
    ],
    ["ftp scheme", get("ftp://b.test/x", "Host: b.test\r\n"), "INVALID_TARGET", 400, "RL-02d"],
    ["empty authority", get("http:///x", "Host: b.test\r\n"), "INVALID_TARGET", 400],
    ["no leading slash", get("admin", "Host: p.test\r\n"), "INVALID_TARGET", 400, "RL-04a"],
    ["GET asterisk", get("*", "Host: p.test\r\n"), "INVALID_TARGET", 400, "RL-04b"],
    ["authority-form", get("p.test:80", "Host: p.test\r\n"), "INVALID_TARGET", 400, "RL-04d"],
    [
      "CONNECT",
      "CONNECT other.test:443 HTTP/1.1\r\nHost: other.test:443\r\n\r\n",
      "METHOD_NOT_ALLOWED",
      405,
      "RL-04e",
    ],
    ["CONNECT without Host", "CONNECT other.test:443 HTTP/1.1\r\n\r\n", "METHOD_NOT_ALLOWED", 405],
  ]);
});

describe("analyzeRequest connection and Expect", () => {
  const get = (fields: string, version = "HTTP/1.1") =>
    `GET /a ${version}\r\nHost: p.test\r\n${fields}\r\n`;
  const keepAliveCases: [
    name: string,
    fields: string,
    version: string,
    keepAlive: boolean,
    caseId?: string,
  ][] = [
    ["HTTP/1.1 by default", "", "HTTP/1.1", true],
    ["HTTP/1.1 with close", "Connection: close\r\n", "HTTP/1.1", false],
    ["close with tab", "Connection: close\t\r\n", "HTTP/1.1", false, "CM-02"],
    ["close in a list", "Connection: keep-alive, Close\r\n", "HTTP/1.1", false],
    ["close on second line", "Connection: te\r\nConnection: CLOSE\r\n", "HTTP/1.1", false],
    ["HTTP/1.0 by default", "", "HTTP/1.0", false],
    ["HTTP/1.0 with keep-alive", "Connection: keep-alive\r\n", "HTTP/1.0", false, "CM-03"],
  ];
  for (const [name, fields, version, keepAlive] of keepAliveCases) {
    test(`keeps alive ${name}: ${keepAlive}`, () => {
      assert.equal(requestOf(get(fields, version)).info.keepAlive, keepAlive);
    });
  }

  test("lower-cases Connection options", () => {
    const info = requestOf(get("Connection: Keep-Alive, X-Drop\r\nConnection: ,TE\r\n")).info;
    assert.deepEqual([...info.connection].sort(), ["keep-alive", "te", "x-drop"]);
  });

  const expectCases: [
    name: string,
    fields: string,
    version: string,
    expectContinue: boolean,
    caseId?: string,
  ][] = [
    ["100-continue", "Expect: 100-continue\r\n", "HTTP/1.1", true],
    ["mixed case", "Expect: 100-Continue\r\n", "HTTP/1.1", true],
    ["other expectation", "Expect: something\r\n", "HTTP/1.1", false],
    ["no Expect", "", "HTTP/1.1", false],
    ["HTTP/1.0", "Expect: 100-continue\r\n", "HTTP/1.0", false, "IX-04"],
  ];
  for (const [name, fields, version, expectContinue] of expectCases) {
    test(`reads Expect ${name}: ${expectContinue}`, () => {
      assert.equal(requestOf(get(fields, version)).info.expectContinue, expectContinue);
    });
  }
});

describe("responseFraming", () => {
  test("frames by Content-Length", () => {
    const message = responseOf("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    assert.deepEqual(message.framing, { kind: "length", length: 2 });
    assert.equal(message.body, "ok");
  });

  test("reads no body for Content-Length 0", () => {
    assert.deepEqual(responseOf("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").framing, {
      kind: "none",
    });
  });

  test("rejects Content-Length list with 502", () => {
    const rejection = responseRejection("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok");
    assert.deepEqual(rejection, { code: "INVALID_CONTENT_LENGTH", status: 502 });
  });

  test("checks the framing of a response without body", () => {
    const rejection = responseRejection(
      "HTTP/1.1 204 No Content\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    assert.deepEqual(rejection, { code: "CONFLICTING_FRAMING", status: 502 });
    const invalidLength = responseRejection("HTTP/1.1 304 Not Modified\r\nContent-Length: 1x\r\n\r\n");
    assert.deepEqual(invalidLength, { code: "INVALID_CONTENT_LENGTH", status: 502 });
  });

  test("stops body at its length", () => {
    const read = valueOfEverySplit(
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA",
      responseReader(),
    );
    assert.deepEqual(read.messages.map((message) => message.body), ["ok"]);
    assert.equal(read.unfinished, true);
  });

  test("reads body until close", () => {
    const message = responseOf("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world");
    assert.deepEqual(message.framing, { kind: "close" });
    assert.equal(message.body, "hello world");
  });

  test("reads HTTP/1.0 body until close", () => {
    assert.equal(responseOf("HTTP/1.0 200 OK\r\n\r\nbody").body, "body");
  });

  test("decodes chunked body and trailers", () => {
    const input =
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const read = valueOfEverySplit(input, responseReader());
    assert.deepEqual(read.messages.map((message) => message.framing.kind), ["chunked", "length"]);
    assert.deepEqual(read.messages.map((message) => message.body), ["ok", "ok"]);
    assert.deepEqual(read.messages[0].trailers, ["X-T", "1"]);
    assert.equal(read.unfinished, false);
  });

  test("frames gzip then chunked as chunked", () => {
    const message = responseOf(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n${CHUNKED_HELLO}`,
    );
    assert.deepEqual(message.framing, { kind: "chunked", codings: ["gzip"] });
    assert.equal(message.body, "hello");
  });

  test("reads chunked then identity until close", () => {
    const message = responseOf(
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\nWorld",
    );
    assert.deepEqual(message.framing, { kind: "close" });
    assert.equal(message.body, "World");
  });

  test("reads chunkedchunked until close", () => {
    const body = "2\r\nOK\r\n0\r\n\r\n";
    const message = responseOf(
      `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedchunked\r\n\r\n${body}`,
    );
    assert.deepEqual(message.framing, { kind: "close", codings: ["chunkedchunked"] });
    assert.equal(message.body, body);
  });

  test("reads HEAD response without body", () => {
    const input = "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/html\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    const read = valueOfEverySplit(input, responseReader(["HEAD", "GET"]));
    assert.deepEqual(read.messages.map((message) => message.framing.kind), ["none", "length"]);
    assert.deepEqual(read.messages.map((message) => message.body), ["", "ok"]);
  });

  test("reads chunked HEAD response without body", () => {
    const message = responseOf("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD");
    assert.deepEqual(message.framing, { kind: "none" });
  });

  const noBody: [name: string, head: string, caseId?: string][] = [
    [
      "304 with Content-Length",
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: "x"\r\n\r\n',
      "RS-06a",
    ],
    [
      "304 with chunked",
      "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
      "RS-06b",
    ],
    ["204 with Content-Length", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", "RS-06c"],
    ["100 Continue", "HTTP/1.1 100 Continue\r\n\r\n"],
    ["103 with Content-Length", "HTTP/1.1 103 Early Hints\r\nContent-Length: 5\r\n\r\n"],
    ["101 Switching Protocols", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"],
  ];
  for (const [name, head] of noBody) {
    test(`reads ${name} without body`, () => {
      const next = `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_HELLO}`;
      const read = valueOfEverySplit(head + next, responseReader());
      assert.deepEqual(read.messages.map((message) => message.framing.kind), ["none", "chunked"]);
      assert.deepEqual(read.messages.map((message) => message.body), ["", "hello"]);
      assert.equal(read.unfinished, false);
    });
  }

  test("leaves truncated bodies unfinished", () => {
    for (
      const input of [
        "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n01234",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01234",
      ]
    ) {
      const read = valueOfEverySplit(input, responseReader());
      assert.deepEqual(read.messages, [], input);
      assert.equal(read.unfinished, true, input);
    }
  });

  const rejected: RejectionCase[] = [
    [
      "CL and TE",
      "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n",
      "CONFLICTING_FRAMING",
      502,
      "RS-01",
    ],
    [
      "TE and CL",
      "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n",
      "CONFLICTING_FRAMING",
      502,
    ],
    [
      "differing CLs",
      "Content-Length: 2\r\nContent-Length: 4\r\n",
      "INVALID_CONTENT_LENGTH",
      502,
      "RS-02a",
    ],
    ["negative CL", "Content-Length: -1\r\n", "INVALID_CONTENT_LENGTH", 502, "RS-02b"],
    ["CL with letter", "Content-Length: 2a\r\n", "INVALID_CONTENT_LENGTH", 502, "RS-02c"],
    ["empty CL", "Content-Length: \r\n", "INVALID_CONTENT_LENGTH", 502],
    ["twenty-digit CL", "Content-Length: 18446744073709551616\r\n", "INVALID_CONTENT_LENGTH", 502],
    ["chunked twice", "Transfer-Encoding: chunked, chunked\r\n", "INVALID_TRANSFER_ENCODING", 502],
    ["TE with obs-text", "Transfer-Encoding: \xffchunked\r\n", "INVALID_TRANSFER_ENCODING", 502],
    ["empty TE", "Transfer-Encoding: \r\n", "INVALID_TRANSFER_ENCODING", 502],
  ];
  for (const [name, fields, code, status] of rejected) {
    test(`rejects ${name} with ${status}`, () => {
      const rejection = responseRejection(`HTTP/1.1 200 OK\r\n${fields}\r\n${CHUNKED_HELLO}`);
      assert.deepEqual(rejection, { code, status });
    });
  }

  test("rejects TE in HTTP/1.0 response with 502", () => {
    const rejection = responseRejection(
      `HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${CHUNKED_HELLO}`,
    );
    assert.deepEqual(rejection, { code: "INVALID_TRANSFER_ENCODING", status: 502 });
  });

  test("removes whitespace before colon", () => {
    const message = responseOf("HTTP/1.1 200 OK\r\nX-B : 1\r\nContent-Length: 2\r\n\r\nok");
    assert.deepEqual(message.head.fields, ["X-B", "1", "Content-Length", "2"]);
    assert.equal(message.body, "ok");
  });

  test("rejects space before Content-Length colon", () => {
    const rejection = responseRejection("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok");
    assert.equal(rejection.code, "WHITESPACE_BEFORE_COLON");
  });

  test("rejects obs-fold", () => {
    const rejection = responseRejection(
      "HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok",
    );
    assert.equal(rejection.code, "OBS_FOLD");
  });
});

describe("responseKeepsAlive", () => {
  const cases: [string, string, boolean][] = [
    ["HTTP/1.1", "HTTP/1.1 200 OK\r\n\r\n", true],
    ["HTTP/1.1 with close", "HTTP/1.1 200 OK\r\nConnection: Close\r\n\r\n", false],
    ["close in a list", "HTTP/1.1 200 OK\r\nConnection: upgrade, close\r\n\r\n", false],
    ["HTTP/1.0", "HTTP/1.0 200 OK\r\n\r\n", false],
    ["HTTP/1.0 with keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n\r\n", false],
  ];
  for (const [name, head, keepsAlive] of cases) {
    test(`returns ${keepsAlive} for ${name}`, () => {
      assert.equal(responseKeepsAlive(responseHeadOf(head)), keepsAlive);
    });
  }
});
