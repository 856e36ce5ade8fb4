import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  extractHashKey,
  formatHashKey,
  type HashKeyRequest,
  parseHashKey,
} from "../../../src/upstream/hash-key.ts";

function request(
  headers: Record<string, string>,
  extra: Partial<HashKeyRequest> = {},
): HashKeyRequest {
  return {
    header: (name) => headers[name],
    path: "/cart/items",
    clientAddress: "192.0.2.7",
    ...extra,
  };
}

describe("parseHashKey", () => {
  test("accepts every kind", () => {
    assert.deepEqual(parseHashKey("header:X-User"), {
      ok: true,
      value: { kind: "header", name: "x-user" },
    });
    assert.deepEqual(parseHashKey("cookie:Session"), {
      ok: true,
      value: { kind: "cookie", name: "Session" },
    });
    assert.deepEqual(parseHashKey("client_address"), {
      ok: true,
      value: { kind: "client_address" },
    });
    assert.deepEqual(parseHashKey("path"), { ok: true, value: { kind: "path" } });
  });

  test("rejects unknown kinds and names", () => {
    const cases: [string, RegExp][] = [
      ["query:id", /invalid hash key "query:id": use header:x-user/],
      ["header", /no header name/],
      ["header:", /no header name/],
      ["cookie:a b", /"a b" is not a valid cookie name/],
      ["Path", /invalid hash key "Path"/],
      ["", /invalid hash key ""/],
    ];
    for (const [text, message] of cases) {
      const result = parseHashKey(text);
      assert.equal(result.ok, false, text);
      assert.match(result.ok ? "" : result.message, message);
    }
  });

  test("formats back to config form", () => {
    for (const text of ["header:x-user", "cookie:session", "client_address", "path"]) {
      const result = parseHashKey(text);
      assert.ok(result.ok);
      assert.equal(formatHashKey(result.value), text);
    }
  });
});

describe("extractHashKey", () => {
  test("reads a header", () => {
    const key = extractHashKey({ kind: "header", name: "x-user" }, request({ "x-user": "alice" }));
    assert.equal(key, "alice");
  });

  test("missing header gives undefined", () => {
    assert.equal(extractHashKey({ kind: "header", name: "x-user" }, request({})), undefined);
  });

  test("reads a cookie", () => {
    const source = { kind: "cookie", name: "session" } as const;
    assert.equal(
      extractHashKey(source, request({ cookie: "theme=dark; session=abc123; x=1" })),
      "abc123",
    );
    assert.equal(
      extractHashKey(source, request({ cookie: "session=first;session=second" })),
      "first",
    );
    assert.equal(extractHashKey(source, request({ cookie: 'session="quoted"' })), '"quoted"');
    assert.equal(extractHashKey(source, request({ cookie: "session=" })), "");
  });

  test("cookie names are case-sensitive", () => {
    const source = { kind: "cookie", name: "session" } as const;
    assert.equal(extractHashKey(source, request({ cookie: "Session=abc" })), undefined);
    assert.equal(extractHashKey(source, request({ cookie: "xsession=abc; flag" })), undefined);
    assert.equal(extractHashKey(source, request({})), undefined);
  });

  test("reads the client address and path", () => {
    assert.equal(extractHashKey({ kind: "client_address" }, request({})), "192.0.2.7");
    assert.equal(extractHashKey({ kind: "path" }, request({})), "/cart/items");
  });
});
