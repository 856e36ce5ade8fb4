import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  requestHeadOf,
  requestHeadParser,
  requestHeadRejection,
  responseHeadOf,
  responseHeadRejection,
} from "./consumers.ts";
import type { ParseErrorCode } from "../../../src/http/mod.ts";
import { valueOfEverySplit } from "./split.ts";

const HOST = "Host: p.test\r\n";

/** Builds a request head from `requestLine`, the Host field and `fields`. */
function request(requestLine: string, fields = ""): string {
  return requestLine + "\r\n" + HOST + fields + "\r\n";
}

/** Builds a request head for `/a` with the Host field and `fields`, each ending in CRLF. */
function withFields(fields: string): string {
  return request("GET /a HTTP/1.1", fields);
}

describe("parseRequestHead request-line", () => {
  test("parses method, target and version", () => {
    const head = requestHeadOf(request("POST /a/b?c=d HTTP/1.1"));
    assert.equal(head.method, "POST");
    assert.equal(head.target, "/a/b?c=d");
    assert.equal(head.versionMinor, 1);
    assert.deepEqual(head.fields, ["Host", "p.test"]);
  });

  for (
    const method of [
      "GET",
      "HEAD",
      "OPTIONS",
      "DELETE",
      "BREW",
      "M-SEARCH",
      "get",
      "!#$%&'*+-.^_`|~09aZ",
    ]
  ) {
    test(`keeps method ${method}`, () => {
      assert.equal(requestHeadOf(request(`${method} /a HTTP/1.1`)).method, method);
    });
  }

  const targets = [
    "*",
    "/",
    "http://b.test/x?y=1",
    "p.test:80",
    "/a%0d%0aX-Inj:%201",
    "/%7E;a=b,c/@!$&'()*+[]:?q=/?",
  ];
  for (const target of targets) {
    test(`keeps target ${target}`, () => {
      assert.equal(requestHeadOf(request(`GET ${target} HTTP/1.1`)).target, target);
    });
  }

  const versions: [string, number][] = [["HTTP/1.0", 0], ["HTTP/1.1", 1], ["HTTP/1.2", 1], [
    "HTTP/1.9",
    1,
  ]];
  for (const [version, minor] of versions) {
    test(`reads ${version} as minor ${minor}`, () => {
      assert.equal(requestHeadOf(request(`GET /a ${version}`)).versionMinor, minor);
    });
  }

  test("skips leading empty lines", () => {
    const head = requestHeadOf("\r\n\r\n" + request("GET /a HTTP/1.1"));
    assert.equal(head.method, "GET");
    assert.equal(head.target, "/a");
  });

  test("parses pipelined heads", () => {
    const input = request("GET /1 HTTP/1.1") + request("HEAD /2 HTTP/1.0");
    const parsed = valueOfEverySplit(input, requestHeadParser());
    assert.deepEqual(parsed.messages.map((head) => head.target), ["/1", "/2"]);
    assert.deepEqual(parsed.messages.map((head) => head.versionMinor), [1, 0]);
  });
});

describe("parseRequestHead rejected request-line", () => {
  const cases: [string, string, ParseErrorCode, number?][] = [
    ["two spaces before target", "GET  /a HTTP/1.1", "INVALID_TARGET"],
    ["tab after method", "GET\t/a HTTP/1.1", "INVALID_METHOD"],
    ["NUL in method", "G\x00T /a HTTP/1.1", "INVALID_METHOD"],
    ["separators in method", 'G=":<>(e) /a HTTP/1.1', "INVALID_METHOD"],
    ["colon before method", ":GET /a HTTP/1.1", "INVALID_METHOD"],
    ["empty method", " /a HTTP/1.1", "INVALID_METHOD"],
    ["fragment in target", "GET /admin#x HTTP/1.1", "INVALID_TARGET"],
    ["less-than in target", "GET /a<b HTTP/1.1", "INVALID_TARGET"],
    ["greater-than in target", "GET /a>b HTTP/1.1", "INVALID_TARGET"],
    ["DEL in target", "GET /a\x7fb HTTP/1.1", "INVALID_TARGET"],
    ["tab in target", "GET /a\tb HTTP/1.1", "INVALID_TARGET"],
    ["UTF-8 in target", "GET /caf\xc3\xa9 HTTP/1.1", "INVALID_TARGET"],
    ["backslash in target", "GET /a\\b HTTP/1.1", "INVALID_TARGET"],
    ["quote in target", 'GET /a"b HTTP/1.1', "INVALID_TARGET"],
    ["braces in target", "GET /a{b} HTTP/1.1", "INVALID_TARGET"],
    ["caret in target", "GET /a^b HTTP/1.1", "INVALID_TARGET"],
    ["NUL in target", "GET /a\x00b HTTP/1.1", "INVALID_TARGET"],
    ["percent without digits", "GET /a% HTTP/1.1", "INVALID_TARGET"],
    ["percent with one digit", "GET /a%4 HTTP/1.1", "INVALID_TARGET"],
    ["percent with non-hex", "GET /a%zz HTTP/1.1", "INVALID_TARGET"],
    ["percent with one non-hex", "GET /a%4g HTTP/1.1", "INVALID_TARGET"],
    ["bare CR in target", "GET /a\rb HTTP/1.1", "BARE_CR"],
    ["bare CR in method", "G\rET /a HTTP/1.1", "BARE_CR"],
    ["bare CR after version", "GET /a HTTP/1.1\r", "BARE_CR"],
    ["two-digit minor version", "GET /a HTTP/1.32", "INVALID_VERSION"],
    ["lower-case version", "GET /a http/1.1", "INVALID_VERSION"],
    ["space after version", "GET /a HTTP/1.1 ", "INVALID_VERSION"],
    ["CR inside version", "GET /a HTTP/\r\r1.1", "INVALID_VERSION"],
    ["version without minor", "GET /a HTTP/1", "INVALID_VERSION"],
    ["version 11", "GET /a HTTP/11", "INVALID_VERSION"],
    ["HTTP/0.9 version", "GET /a HTTP/0.9", "INVALID_VERSION"],
    ["no version", "GET /a", "INVALID_VERSION"],
    ["HTTP/2.0", "GET /a HTTP/2.0", "UNSUPPORTED_VERSION", 505],
    ["HTTP/3.0", "GET /a HTTP/3.0", "UNSUPPORTED_VERSION", 505],
  ];
  for (const [name, requestLine, code, status = 400] of cases) {
    test(`rejects ${name}`, () => {
      assert.deepEqual(requestHeadRejection(request(requestLine)), { code, status });
    });
  }

  test("rejects HTTP/0.9 request", () => {
    assert.deepEqual(requestHeadRejection("GET /\r\n\r\n"), {
      code: "INVALID_VERSION",
      status: 400,
    });
  });

  test("rejects LF in request-line", () => {
    const rejection = requestHeadRejection("GET /a\nHTTP/1.1\r\n\r\n");
    assert.deepEqual(rejection, { code: "BARE_LF", status: 400 });
  });
});

describe("parseRequestHead fields", () => {
  test("keeps field order and name case", () => {
    const head = requestHeadOf(
      withFields("x-lower: 1\r\nX-UPPER: 2\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n"),
    );
    assert.deepEqual(head.fields, [
      "Host",
      "p.test",
      "x-lower",
      "1",
      "X-UPPER",
      "2",
      "Set-Cookie",
      "a=1",
      "set-cookie",
      "b=2",
    ]);
  });

  test("trims whitespace around value", () => {
    const head = requestHeadOf(withFields("X-A: \t v \t \r\nX-B:v\r\n"));
    assert.deepEqual(head.fields.slice(2), ["X-A", "v", "X-B", "v"]);
  });

  test("keeps whitespace inside value", () => {
    const head = requestHeadOf(withFields("X-A: a  b\r\nX-E: a\tb\r\n"));
    assert.deepEqual(head.fields.slice(2), ["X-A", "a  b", "X-E", "a\tb"]);
  });

  test("keeps empty value", () => {
    const head = requestHeadOf(withFields("X-Empty:\r\nX-Blank: \t \r\n"));
    assert.deepEqual(head.fields.slice(2), ["X-Empty", "", "X-Blank", ""]);
  });

  test("keeps obs-text bytes exactly", () => {
    const value = "caf\xc3\xa9 \x80\x9f\xa0\xff";
    const head = requestHeadOf(withFields(`X-Text: ${value}\r\n`));
    assert.equal(head.fields[3], value);
  });

  test("keeps underscore names apart", () => {
    const head = requestHeadOf(withFields("Content_Length: 99\r\nTransfer_Encoding: chunked\r\n"));
    assert.deepEqual(head.fields.slice(2), [
      "Content_Length",
      "99",
      "Transfer_Encoding",
      "chunked",
    ]);
  });

  test("keeps colons in value", () => {
    const head = requestHeadOf(withFields("X:GET /admin HTTP/1.1\r\n"));
    assert.deepEqual(head.fields.slice(2), ["X", "GET /admin HTTP/1.1"]);
  });

  test("parses head without fields", () => {
    assert.deepEqual(requestHeadOf("GET /a HTTP/1.0\r\n\r\n").fields, []);
  });
});

describe("parseRequestHead rejected fields", () => {
  const cases: [string, string, ParseErrorCode][] = [
    ["bare CR in value", "X-A: q\rTransfer-Encoding: chunked\r\nContent-Length: 5\r\n", "BARE_CR"],
    ["bare CR in name", "Content\rLength: 5\r\n", "BARE_CR"],
    ["bare CR as value", "X-A:\rContent-Length: 40\r\n", "BARE_CR"],
    ["CR LF CR junk", "\rXGET /evil HTTP/1.1\r\nHost: p.test\r\n", "BARE_CR"],
    ["obs-fold", "X-A: b\r\n Content-Length: 35\r\n", "OBS_FOLD"],
    ["obs-fold with tab", "Transfer-Encoding: chunked\r\n\t, identity\r\n", "OBS_FOLD"],
    [
      "space before colon in Transfer-Encoding",
      "Transfer-Encoding : chunked\r\n",
      "WHITESPACE_BEFORE_COLON",
    ],
    ["tab before colon", "Content-Length\t: 5\r\n", "WHITESPACE_BEFORE_COLON"],
    ["space before colon in Host", "Host : p.test\r\n", "WHITESPACE_BEFORE_COLON"],
    ["two spaces before colon", "X-A  : 1\r\n", "WHITESPACE_BEFORE_COLON"],
    ["space inside name", "X A: 1\r\n", "WHITESPACE_BEFORE_COLON"],
    ["space instead of colon", "Content-Length 5\r\n", "WHITESPACE_BEFORE_COLON"],
    ["missing colon", "X-Bad\r\n", "MISSING_COLON"],
    ["name split over lines", "Transfer-\r\nEncoding: chunked\r\n", "MISSING_COLON"],
    ["empty name", ": x\r\n", "INVALID_FIELD_NAME"],
    ["lone colon", ":\r\nContent-Length: 5\r\n", "INVALID_FIELD_NAME"],
    ["obs-text in name", "Content-Length\x85: 5\r\n", "INVALID_FIELD_NAME"],
    ["obs-text before name", "\xefX-A: 1\r\n", "INVALID_FIELD_NAME"],
    ["braces in name", "X{A}: 1\r\n", "INVALID_FIELD_NAME"],
    ["NUL in name", "X\x00A: 1\r\n", "INVALID_FIELD_NAME"],
    ["DEL in name", "X\x7fA: 1\r\n", "INVALID_FIELD_NAME"],
    ["NUL inside value", "X-A: ab\x00cd\r\n", "INVALID_FIELD_VALUE"],
    ["NUL ending value", "X-A: ab\x00\r\n", "INVALID_FIELD_VALUE"],
    ["DEL in value", "X-B: a\x7fb\r\n", "INVALID_FIELD_VALUE"],
    ["SOH in value", "X-C: a\x01b\r\n", "INVALID_FIELD_VALUE"],
    ["ESC in value", "X-D: a\x1bb\r\n", "INVALID_FIELD_VALUE"],
    ["vertical tab in value", "Transfer-Encoding: \x0bchunked\r\n", "INVALID_FIELD_VALUE"],
    ["form feed in value", "Transfer-Encoding: \x0cchunked\r\n", "INVALID_FIELD_VALUE"],
  ];
  for (const [name, fields, code] of cases) {
    test(`rejects ${name}`, () => {
      assert.deepEqual(requestHeadRejection(withFields(fields)), { code, status: 400 });
    });
  }

  test("rejects NUL in Host value", () => {
    const rejection = requestHeadRejection(
      "GET /a HTTP/1.1\r\nHost: p.test\x00.other.test\r\n\r\n",
    );
    assert.deepEqual(rejection, { code: "INVALID_FIELD_VALUE", status: 400 });
  });

  test("rejects obs-fold as first field line", () => {
    const rejection = requestHeadRejection("GET /a HTTP/1.1\r\n Host: p.test\r\n\r\n");
    assert.deepEqual(rejection, { code: "OBS_FOLD", status: 400 });
  });
});

describe("parseResponseHead", () => {
  test("parses status line", () => {
    const head = responseHeadOf("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    assert.equal(head.versionMinor, 1);
    assert.equal(head.status, 200);
    assert.equal(head.reason, "OK");
    assert.deepEqual(head.fields, ["Content-Length", "2"]);
  });

  test("keeps reason with spaces", () => {
    const head = responseHeadOf("HTTP/1.0 404 Not Found\r\n\r\n");
    assert.equal(head.versionMinor, 0);
    assert.equal(head.status, 404);
    assert.equal(head.reason, "Not Found");
  });

  test("keeps obs-text and tab in reason", () => {
    assert.equal(responseHeadOf("HTTP/1.1 200 \xd6K\tfine\r\n\r\n").reason, "\xd6K\tfine");
  });

  test("accepts status without reason", () => {
    const head = responseHeadOf("HTTP/1.1 200\r\n\r\n");
    assert.equal(head.status, 200);
    assert.equal(head.reason, "");
  });

  test("accepts empty reason", () => {
    assert.equal(responseHeadOf("HTTP/1.1 204 \r\n\r\n").reason, "");
  });

  test("reads HTTP/1.2 as 1.1", () => {
    assert.equal(responseHeadOf("HTTP/1.2 200 OK\r\n\r\n").versionMinor, 1);
  });

  for (const status of [100, 101, 199, 599]) {
    test(`accepts status ${status}`, () => {
      assert.equal(responseHeadOf(`HTTP/1.1 ${status} X\r\n\r\n`).status, status);
    });
  }

  test("removes whitespace before colon", () => {
    const head = responseHeadOf(
      "HTTP/1.1 200 OK\r\nX-B : 1\r\nX-C\t\t: 2\r\nContent-Length: 2\r\n\r\n",
    );
    assert.deepEqual(head.fields, ["X-B", "1", "X-C", "2", "Content-Length", "2"]);
  });

  const rejected: [string, string, ParseErrorCode][] = [
    ["four-digit status", "HTTP/1.1 2000 OK", "INVALID_STATUS"],
    ["two-digit status", "HTTP/1.1 20 OK", "INVALID_STATUS"],
    ["two spaces before status", "HTTP/1.1  200 OK", "INVALID_STATUS"],
    ["tab before status", "HTTP/1.1\t200 OK", "INVALID_STATUS"],
    ["NUL in reason", "HTTP/1.1 200 OK\x00x", "INVALID_STATUS"],
    ["DEL in reason", "HTTP/1.1 200 O\x7fK", "INVALID_STATUS"],
    ["bare CR in reason", "HTTP/1.1 200 O\rK", "BARE_CR"],
    ["status 600", "HTTP/1.1 600 Odd", "INVALID_STATUS"],
    ["status 099", "HTTP/1.1 099 Odd", "INVALID_STATUS"],
    ["letter in status", "HTTP/1.1 2x0 OK", "INVALID_STATUS"],
    ["two-digit minor version", "HTTP/1.10 200 OK", "INVALID_STATUS"],
    ["two-digit major version", "HTTP/11.1 200 OK", "INVALID_VERSION"],
    ["lower-case version", "http/1.1 200 OK", "INVALID_VERSION"],
    ["HTTP/0.9 version", "HTTP/0.9 200 OK", "INVALID_VERSION"],
    ["HTTP/2.0", "HTTP/2.0 200 OK", "UNSUPPORTED_VERSION"],
    ["body without status line", "hello", "INVALID_VERSION"],
  ];
  for (const [name, statusLine, code] of rejected) {
    test(`rejects ${name}`, () => {
      assert.equal(responseHeadRejection(statusLine + "\r\n\r\n").code, code);
    });
  }

  const rejectedFields: [string, string, ParseErrorCode][] = [
    ["obs-fold", "X-A: 1\r\n 2\r\n", "OBS_FOLD"],
    ["space before colon in Content-Length", "Content-Length : 2\r\n", "WHITESPACE_BEFORE_COLON"],
    ["tab before colon in content-length", "content-length\t: 2\r\n", "WHITESPACE_BEFORE_COLON"],
    [
      "space before colon in Transfer-Encoding",
      "Transfer-Encoding : chunked\r\n",
      "WHITESPACE_BEFORE_COLON",
    ],
    ["space inside name", "X B: 1\r\n", "WHITESPACE_BEFORE_COLON"],
    ["missing colon", "X-Bad\r\n", "MISSING_COLON"],
    ["NUL in value", "X-A: a\x00b\r\n", "INVALID_FIELD_VALUE"],
    ["bare CR in value", "X-A: a\rb\r\n", "BARE_CR"],
  ];
  for (const [name, fields, code] of rejectedFields) {
    test(`rejects ${name}`, () => {
      assert.equal(responseHeadRejection("HTTP/1.1 200 OK\r\n" + fields + "\r\n").code, code);
    });
  }
});
