import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyzeRequest } from "../../../src/http/framing.ts";
import type { FieldList, RequestHead, ResponseHead } from "../../../src/http/head-parser.ts";
import {
  downstreamFraming,
  downstreamResponseFields,
  relayedResponseFields,
  upstreamRequestFields,
} from "../../../src/proxy/forward.ts";

function request(fields: FieldList, versionMinor = 1, target = "/"): RequestHead {
  return { method: "GET", target, versionMinor, fields };
}

function forward(head: RequestHead, extra: Partial<Parameters<typeof upstreamRequestFields>[2]> = {}): FieldList {
  const info = analyzeRequest(head, 1_000_000);
  return upstreamRequestFields(head, info, {
    clientAddress: "203.0.113.9",
    protocol: "http",
    peerAuthority: "10.0.0.1:8080",
    ...extra,
  });
}

function pairs(fields: FieldList): [string, string][] {
  const result: [string, string][] = [];
  for (let i = 0; i < fields.length; i += 2) result.push([fields[i], fields[i + 1]]);
  return result;
}

describe("upstreamRequestFields", () => {
  test("removes hop-by-hop and nominated fields", () => {
    const fields = forward(request([
      "Host", "p.test",
      "Connection", "keep-alive, X-Hop ,, x-other",
      "X-Hop", "1",
      "X-Other", "2",
      "Keep-Alive", "timeout=5",
      "Proxy-Connection", "keep-alive",
      "TE", "trailers",
      "Upgrade", "h2c",
      "X-End", "3",
    ]));
    const names = pairs(fields).map(([name]) => name.toLowerCase());
    for (const removed of ["connection", "x-hop", "x-other", "keep-alive", "proxy-connection", "te", "upgrade"]) {
      assert.equal(names.includes(removed), false, `${removed} is removed`);
    }
    assert.ok(names.includes("x-end"));
  });

  test("keeps Host even when Connection names it", () => {
    const fields = forward(request(["Host", "p.test", "Connection", "host"]));
    assert.deepEqual(pairs(fields)[0], ["Host", "p.test"]);
  });

  test("adds forwarding fields", () => {
    const fields = pairs(forward(request([
      "Host", "p.test",
      "X-Forwarded-For", "192.0.2.1",
      "X-Forwarded-For", "192.0.2.2",
      "X-Forwarded-Proto", "https",
      "X-Forwarded-Host", "evil.test",
      "Via", "1.0 fred",
    ])));
    assert.deepEqual(fields, [
      ["Host", "p.test"],
      ["X-Forwarded-For", "192.0.2.1, 192.0.2.2, 203.0.113.9"],
      ["X-Forwarded-Proto", "http"],
      ["X-Forwarded-Host", "p.test"],
      ["Via", "1.0 fred, 1.1 cairn"],
    ]);
  });

  test("uses the absolute-form authority as Host", () => {
    const fields = pairs(forward(request(["Host", "a.test"], 1, "http://b.test/x?y=1")));
    assert.deepEqual(fields[0], ["Host", "b.test"]);
  });

  test("generates Host for HTTP/1.0 without one", () => {
    const fields = pairs(forward(request(["Accept", "*/*"], 0)));
    assert.deepEqual(fields[0], ["Host", "10.0.0.1:8080"]);
    assert.deepEqual(fields.at(-1), ["Via", "1.0 cairn"]);
  });

  test("applies route rewrites", () => {
    const fields = pairs(forward(request(["Host", "p.test", "X-Debug", "1", "X-Env", "dev"]), {
      hostRewrite: "app.internal",
      setFields: new Map([["x-env", { name: "x-env", value: "prod" }]]),
      removeFields: new Set(["x-debug"]),
    }));
    assert.deepEqual(fields.slice(0, 2), [["Host", "app.internal"], ["x-env", "prod"]]);
    assert.equal(fields.some(([name]) => name === "X-Debug"), false);
  });

  test("writes one framing field", () => {
    const withLength = pairs(forward({ method: "POST", target: "/", versionMinor: 1, fields: ["Host", "p", "Content-Length", "005"] }));
    assert.deepEqual(withLength.filter(([name]) => /content-length|transfer-encoding/i.test(name)), [["Content-Length", "5"]]);
    const chunked = pairs(forward({ method: "POST", target: "/", versionMinor: 1, fields: ["Host", "p", "Transfer-Encoding", "chunked"] }));
    assert.deepEqual(chunked.filter(([name]) => /content-length|transfer-encoding/i.test(name)), [["Transfer-Encoding", "chunked"]]);
  });
});

function response(status: number, fields: FieldList): ResponseHead {
  return { versionMinor: 1, status, reason: "", fields };
}

describe("downstreamResponseFields", () => {
  test("removes hop-by-hop and nominated fields", () => {
    const head = response(200, ["Connection", "X-R", "X-R", "s", "X-Keep", "k", "Keep-Alive", "timeout=9", "Date", "d", "Content-Length", "2"]);
    const fields = pairs(downstreamResponseFields(head, { kind: "length", length: 2 }, "length", false));
    assert.deepEqual(fields, [["X-Keep", "k"], ["Date", "d"], ["Content-Length", "2"]]);
  });

  test("adds Date and Connection close", () => {
    const fields = pairs(downstreamResponseFields(response(200, []), { kind: "close" }, "chunked", true));
    assert.equal(fields[0][0], "Date");
    assert.match(fields[0][1], /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    assert.deepEqual(fields.slice(1), [["Transfer-Encoding", "chunked"], ["Connection", "close"]]);
  });

  test("keeps the length of a HEAD or 304 response", () => {
    const head = response(304, ["Date", "d", "Content-Length", "10", "Transfer-Encoding", "chunked"]);
    assert.deepEqual(pairs(downstreamResponseFields(head, { kind: "none" }, "none", false)), [["Date", "d"], ["Content-Length", "10"]]);
  });

  test("drops the length of a 204 response", () => {
    const head = response(204, ["Date", "d", "Content-Length", "0"]);
    assert.deepEqual(pairs(downstreamResponseFields(head, { kind: "none" }, "none", false)), [["Date", "d"]]);
  });

  test("relays interim fields without hop-by-hop ones", () => {
    const head = response(103, ["Link", "</s.css>; rel=preload", "Connection", "X-Nom", "X-Nom", "1", "Keep-Alive", "timeout=5"]);
    assert.deepEqual(pairs(relayedResponseFields(head)), [["Link", "</s.css>; rel=preload"]]);
  });
});

describe("downstreamFraming", () => {
  test("chooses framing per client version", () => {
    assert.equal(downstreamFraming({ kind: "length", length: 3 }, 0), "length");
    assert.equal(downstreamFraming({ kind: "chunked" }, 1), "chunked");
    assert.equal(downstreamFraming({ kind: "chunked" }, 0), "close");
    assert.equal(downstreamFraming({ kind: "close" }, 1), "chunked");
    assert.equal(downstreamFraming({ kind: "close" }, 0), "close");
    assert.equal(downstreamFraming({ kind: "none" }, 1), "none");
  });
});
