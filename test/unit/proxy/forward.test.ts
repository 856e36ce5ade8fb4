import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { analyzeRequest } from "../../../src/http/framing.ts";
import type { FieldList, RequestHead, ResponseHead } from "../../../src/http/head-parser.ts";
import { ProxyError } from "../../../src/proxy/errors.ts";
import {
  checkForwarding,
  clientRequestId,
  decrementDigits,
  downstreamFraming,
  downstreamResponseFields,
  relayedResponseFields,
  upstreamRequestFields,
  viaNamesPseudonym,
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

  test("names the origin's transfer codings", () => {
    const head = response(200, ["Date", "d", "Transfer-Encoding", "gzip, chunked"]);
    const fields = pairs(downstreamResponseFields(head, { kind: "chunked", codings: ["gzip"] }, "chunked", false));
    assert.deepEqual(fields, [["Date", "d"], ["Transfer-Encoding", "gzip, chunked"]]);
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

describe("checkForwarding", () => {
  function decide(method: string, fields: FieldList): string {
    try {
      return checkForwarding({ method, target: "/", versionMinor: 1, fields: ["Host", "p.test", ...fields] });
    } catch (error) {
      assert.ok(error instanceof ProxyError);
      return String(error.status);
    }
  }

  test("answers OPTIONS with Max-Forwards 0", () => {
    assert.equal(decide("OPTIONS", ["Max-Forwards", "0"]), "answer");
    assert.equal(decide("OPTIONS", ["Max-Forwards", "000"]), "answer");
    assert.equal(decide("OPTIONS", ["Max-Forwards", "1"]), "forward");
    assert.equal(decide("OPTIONS", []), "forward");
  });

  test("ignores Max-Forwards of other methods", () => {
    assert.equal(decide("GET", ["Max-Forwards", "0"]), "forward");
    assert.equal(decide("GET", ["Max-Forwards", "x"]), "forward");
  });

  test("rejects invalid Max-Forwards of OPTIONS", () => {
    for (const value of ["", "-1", "1a", "1, 2", "+1"]) {
      assert.equal(decide("OPTIONS", ["Max-Forwards", value]), "400", JSON.stringify(value));
    }
    assert.equal(decide("OPTIONS", ["Max-Forwards", "1", "Max-Forwards", "1"]), "400");
  });

  test("rejects TRACE", () => {
    assert.equal(decide("TRACE", []), "405");
  });

  test("rejects a request that names Cairn in Via", () => {
    assert.equal(decide("GET", ["Via", "1.1 cairn"]), "508");
    assert.equal(decide("GET", ["Via", "1.0 fred", "Via", "1.1 Cairn"]), "508");
    assert.equal(decide("GET", ["Via", "1.1 fred"]), "forward");
  });
});

describe("viaNamesPseudonym", () => {
  test("reads received-by, not comments or protocols", () => {
    assert.equal(viaNamesPseudonym(["1.0 fred, 1.1 cairn (Cairn/0.1)"], "cairn"), true);
    assert.equal(viaNamesPseudonym(["1.1\tcairn"], "cairn"), true);
    assert.equal(viaNamesPseudonym(["1.1 fred (via 1.1 cairn, test)"], "cairn"), false);
    assert.equal(viaNamesPseudonym(["1.1 fred (a (1.1 cairn) b), 1.0 joe"], "cairn"), false);
    assert.equal(viaNamesPseudonym(["cairn/1.1 fred"], "cairn"), false);
    assert.equal(viaNamesPseudonym(["1.1 cairn.example:8080"], "cairn"), false);
  });
});

describe("decrementDigits", () => {
  test("subtracts one from any length", () => {
    const cases: [string, string][] = [
      ["1", "0"],
      ["10", "9"],
      ["012", "11"],
      ["100", "99"],
      ["940", "939"],
      ["123456789012345678901", "123456789012345678900"],
      ["100000000000000000000", "99999999999999999999"],
    ];
    for (const [digits, expected] of cases) assert.equal(decrementDigits(digits), expected, digits);
  });
});

describe("upstreamRequestFields and forwarding rules", () => {
  test("decrements Max-Forwards of OPTIONS only", () => {
    const options = { ...request(["Host", "p.test", "Max-Forwards", "012"]), method: "OPTIONS" };
    assert.deepEqual(pairs(forward(options)).filter(([name]) => name === "Max-Forwards"), [["Max-Forwards", "11"]]);
    const get = request(["Host", "p.test", "Max-Forwards", "012"]);
    assert.deepEqual(pairs(forward(get)).filter(([name]) => name === "Max-Forwards"), [["Max-Forwards", "012"]]);
  });

  test("drops Expect of an HTTP/1.0 request", () => {
    const names = (versionMinor: number) =>
      pairs(forward(request(["Host", "p.test", "Expect", "100-continue"], versionMinor))).map(([name]) => name);
    assert.equal(names(0).includes("Expect"), false);
    assert.equal(names(1).includes("Expect"), true);
  });
});

describe("clientRequestId", () => {
  test("keeps a valid id", () => {
    const ids = ["abc", "0f8fad5b-d9cb-469f-a165-70867728950e", "dGVzdA==", "urn:id:a/b@c", "x".repeat(128)];
    for (const id of ids) assert.equal(clientRequestId(["X-Request-Id", id]), id, id);
  });

  test("ignores an invalid or repeated id", () => {
    const cases: [string, FieldList][] = [
      ["missing", ["Host", "p.test"]],
      ["empty", ["X-Request-Id", ""]],
      ["too long", ["X-Request-Id", "x".repeat(129)]],
      ["space", ["X-Request-Id", "a b"]],
      ["quote", ["X-Request-Id", 'a"b']],
      ["backslash", ["X-Request-Id", "a\\b"]],
      ["comma", ["X-Request-Id", "a,b"]],
      ["non-ASCII", ["X-Request-Id", "caf\u00e9"]],
      ["repeated", ["X-Request-Id", "a", "x-request-id", "b"]],
    ];
    for (const [label, fields] of cases) assert.equal(clientRequestId(fields), undefined, label);
  });
});

describe("upstreamRequestFields and X-Request-Id", () => {
  const requestIds = (fields: FieldList) => pairs(fields).filter(([name]) => name.toLowerCase() === "x-request-id");

  test("sends the request id once", () => {
    const head = request(["Host", "p.test", "X-Request-Id", "bad id", "x-request-id", "other"]);
    assert.deepEqual(requestIds(forward(head, { requestId: "id-1" })), [["X-Request-Id", "id-1"]]);
  });

  test("adds the request id when missing", () => {
    assert.deepEqual(requestIds(forward(request(["Host", "p.test"]), { requestId: "id-2" })), [["X-Request-Id", "id-2"]]);
  });

  test("leaves the fields alone without a request id", () => {
    const head = request(["Host", "p.test", "X-Request-Id", "client"]);
    assert.deepEqual(requestIds(forward(head)), [["X-Request-Id", "client"]]);
  });

  test("lets route field rules win", () => {
    const head = request(["Host", "p.test", "X-Request-Id", "client"]);
    const removed = forward(head, { requestId: "id-3", removeFields: new Set(["x-request-id"]) });
    assert.deepEqual(requestIds(removed), []);
    const setFields = new Map([["x-request-id", { name: "X-Request-Id", value: "fixed" }]]);
    assert.deepEqual(requestIds(forward(head, { requestId: "id-3", setFields })), [["X-Request-Id", "fixed"]]);
  });
});
