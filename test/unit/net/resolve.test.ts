import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ipAddressFamily } from "../../../src/net/ip-address.ts";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import { NetworkError } from "../../../src/net/types.ts";

async function assertNotFound(promise: Promise<unknown>, hostname: string): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof NetworkError);
    assert.equal(error.code, "ENOTFOUND");
    assert.equal(error.message, `host not found: ${hostname}`);
    return true;
  });
}

describe("ipAddressFamily", () => {
  test("recognises IP literals", () => {
    const cases: [string, "IPv4" | "IPv6" | undefined][] = [
      ["127.0.0.1", "IPv4"],
      ["0.0.0.0", "IPv4"],
      ["255.255.255.255", "IPv4"],
      ["::1", "IPv6"],
      ["2001:db8::8a2e:370:7334", "IPv6"],
      ["::ffff:192.0.2.1", "IPv6"],
      ["256.0.0.1", undefined],
      ["01.2.3.4", undefined],
      ["1.2.3", undefined],
      ["[::1]", undefined],
      ["::1]:80", undefined],
      ["fe80::1%eth0", undefined],
      ["localhost", undefined],
      ["app.internal", undefined],
      ["", undefined],
    ];
    for (const [text, family] of cases) {
      assert.equal(ipAddressFamily(text), family, text);
    }
  });
});

describe("MemoryNetwork.resolve", () => {
  test("reads the host table", async () => {
    const network = new MemoryNetwork({ hosts: { "App.Internal": ["10.0.0.1", "10.0.0.2"] } });
    assert.deepEqual(await network.resolve("app.internal"), ["10.0.0.1", "10.0.0.2"]);
    assert.deepEqual(await network.resolve("APP.internal."), ["10.0.0.1", "10.0.0.2"]);
  });

  test("setHost replaces and removeHost deletes", async () => {
    const network = new MemoryNetwork();
    network.setHost("api", ["10.0.0.1", "10.0.0.1", "::1"]);
    assert.deepEqual(await network.resolve("api"), ["10.0.0.1", "::1"]);
    network.setHost("api", ["10.0.0.9"]);
    assert.deepEqual(await network.resolve("api"), ["10.0.0.9"]);
    network.removeHost("api");
    await assertNotFound(network.resolve("api"), "api");
  });

  test("an empty entry is not found", async () => {
    const network = new MemoryNetwork();
    network.setHost("api", []);
    await assertNotFound(network.resolve("api"), "api");
  });

  test("unknown names are not found", async () => {
    await assertNotFound(new MemoryNetwork().resolve("nowhere.test"), "nowhere.test");
  });

  test("localhost defaults to loopback", async () => {
    assert.deepEqual(await new MemoryNetwork().resolve("localhost"), ["127.0.0.1"]);
    const network = new MemoryNetwork({ hosts: { localhost: ["127.0.0.1", "::1"] } });
    assert.deepEqual(await network.resolve("localhost"), ["127.0.0.1", "::1"]);
  });

  test("returned lists are copies", async () => {
    const network = new MemoryNetwork({ hosts: { api: ["10.0.0.1"] } });
    (await network.resolve("api")).push("10.0.0.2");
    assert.deepEqual(await network.resolve("api"), ["10.0.0.1"]);
  });

  test("setHost rejects non-addresses", () => {
    assert.throws(
      () => new MemoryNetwork().setHost("api", ["db.internal"]),
      /"db.internal" is not an IP address/,
    );
  });
});
