import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatSocketAddress, isLoopbackHost } from "../../../src/net/ip-address.ts";

describe("isLoopbackHost", () => {
  const cases: [string, boolean][] = [
    ["127.0.0.1", true],
    ["127.10.0.3", true],
    ["localhost", true],
    ["LOCALHOST", true],
    ["::1", true],
    ["0:0:0:0:0:0:0:1", true],
    ["0.0.0.0", false],
    ["::", false],
    ["10.0.0.1", false],
    ["128.0.0.1", false],
    ["::ffff:127.0.0.1", false],
    ["example.com", false],
    ["127.example.com", false],
  ];
  for (const [hostname, expected] of cases) {
    test(`${hostname} is ${expected ? "" : "not "}loopback`, () => {
      assert.equal(isLoopbackHost(hostname), expected);
    });
  }
});

describe("formatSocketAddress", () => {
  test("brackets IPv6", () => {
    assert.equal(formatSocketAddress({ hostname: "::1", port: 80, family: "IPv6" }), "[::1]:80");
  });

  test("IPv4 and Unix paths", () => {
    assert.equal(formatSocketAddress({ hostname: "127.0.0.1", port: 80, family: "IPv4" }), "127.0.0.1:80");
    assert.equal(formatSocketAddress({ hostname: "/tmp/s", port: 0, family: "unix" }), "/tmp/s");
  });
});
