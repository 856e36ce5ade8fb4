import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import type { Listener } from "../../../src/net/types.ts";
import {
  type CheckTarget,
  HealthChecker,
  type HttpCheckSettings,
  runHttpCheck,
  runTcpCheck,
} from "../../../src/upstream/health-check.ts";
import { type HealthEvent, HealthRegistry } from "../../../src/upstream/health.ts";

type OriginMode = "ok" | "error" | "silent" | "interim" | "garbage" | "close" | "no-content";

interface ScriptedOrigin {
  listener: Listener;
  /** What the origin does with the next requests. */
  mode: OriginMode;
  /** Request heads received, as text. */
  requests: string[];
  /** Connections accepted and connections closed. */
  accepted: number;
  closed: number;
}

const RESPONSES: Record<Exclude<OriginMode, "silent" | "close">, string> = {
  "ok": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
  "error": "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
  "interim": "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
  "garbage": "NOT HTTP AT ALL\r\n\r\n",
  "no-content": "HTTP/1.1 204 No Content\r\n\r\n",
};

/** Starts a memory-network origin whose response the test switches between modes. */
async function startOrigin(network: MemoryNetwork, port: number): Promise<ScriptedOrigin> {
  const origin = { mode: "ok", requests: [], accepted: 0, closed: 0 } as unknown as ScriptedOrigin;
  origin.listener = await network.listen({ hostname: "127.0.0.1", port }, (connection) => {
    origin.accepted++;
    let received = "";
    return {
      data(chunk) {
        received += new TextDecoder().decode(chunk);
        if (!received.includes("\r\n\r\n")) return;
        origin.requests.push(received);
        const mode = origin.mode;
        if (mode === "silent") return;
        if (mode === "close") {
          connection.end();
          return;
        }
        connection.write(new TextEncoder().encode(RESPONSES[mode]));
      },
      drain() {},
      end() {
        connection.end();
      },
      close() {
        origin.closed++;
      },
    };
  });
  return origin;
}

function target(port: number): CheckTarget {
  return { hostname: "127.0.0.1", port, authority: `app.internal:${port}` };
}

function httpSettings(overrides: Partial<HttpCheckSettings> = {}): HttpCheckSettings {
  return {
    type: "http",
    path: "/healthz",
    expectedStatuses: [{ min: 200, max: 399 }],
    intervalMs: 20,
    timeoutMs: 100,
    ...overrides,
  };
}

function settle(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("runHttpCheck", () => {
  test("passes on 200 and sends a clean request", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    const result = await runHttpCheck(network, target(9001), httpSettings());
    assert.deepEqual(result, { passed: true, detail: "status 200" });
    const lines = origin.requests[0].split("\r\n");
    assert.equal(lines[0], "GET /healthz HTTP/1.1");
    assert.ok(lines.includes("Host: app.internal:9001"), origin.requests[0]);
    assert.ok(lines.includes("Connection: close"), origin.requests[0]);
    assert.ok(lines.some((line) => line.startsWith("User-Agent: cairn-health-check/")));
    await settle();
    assert.equal(origin.closed, origin.accepted, "the check closed its connection");
    await origin.listener.close();
  });

  test("fails on 500", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    origin.mode = "error";
    const result = await runHttpCheck(network, target(9001), httpSettings());
    assert.deepEqual(result, { passed: false, detail: "status 500" });
    await origin.listener.close();
  });

  test("times out when the origin is silent", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    origin.mode = "silent";
    const started = Date.now();
    const result = await runHttpCheck(network, target(9001), httpSettings({ timeoutMs: 50 }));
    assert.deepEqual(result, { passed: false, detail: "timed out after 50 ms" });
    assert.ok(Date.now() - started >= 40);
    await settle();
    assert.equal(origin.closed, 1, "the timed-out connection was closed");
    await origin.listener.close();
  });

  test("skips interim responses", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    origin.mode = "interim";
    assert.deepEqual(await runHttpCheck(network, target(9001), httpSettings()), {
      passed: true,
      detail: "status 200",
    });
    await origin.listener.close();
  });

  test("matches a status list", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    origin.mode = "no-content";
    const only200 = httpSettings({ expectedStatuses: [{ min: 200, max: 200 }] });
    assert.equal((await runHttpCheck(network, target(9001), only200)).passed, false);
    const with204 = httpSettings({
      expectedStatuses: [{ min: 200, max: 200 }, { min: 204, max: 204 }],
    });
    assert.equal((await runHttpCheck(network, target(9001), with204)).passed, true);
    await origin.listener.close();
  });

  test("fails on an invalid response", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    origin.mode = "garbage";
    const result = await runHttpCheck(network, target(9001), httpSettings());
    assert.equal(result.passed, false);
    assert.match(result.detail, /^invalid response: /);
    await origin.listener.close();
  });

  test("fails when the origin closes first", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    origin.mode = "close";
    const result = await runHttpCheck(network, target(9001), httpSettings());
    assert.deepEqual(result, {
      passed: false,
      detail: "connection closed before the response head",
    });
    await origin.listener.close();
  });

  test("fails when the connect is refused", async () => {
    const network = new MemoryNetwork();
    const result = await runHttpCheck(network, target(9009), httpSettings());
    assert.equal(result.passed, false);
    assert.match(result.detail, /^connect failed \(ECONNREFUSED\): /);
  });
});

describe("runTcpCheck", () => {
  test("passes when a connection opens", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    assert.deepEqual(await runTcpCheck(network, target(9001), { timeoutMs: 100 }), {
      passed: true,
      detail: "connected",
    });
    await settle();
    assert.equal(origin.closed, 1);
    assert.deepEqual(origin.requests, [], "a TCP check sends nothing");
    await origin.listener.close();
  });

  test("fails on a closed port", async () => {
    const network = new MemoryNetwork();
    const result = await runTcpCheck(network, target(9009), { timeoutMs: 100 });
    assert.equal(result.passed, false);
    assert.match(result.detail, /ECONNREFUSED/);
  });

  test("times out a handshake that never ends", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    // A TLS client reaching a plain memory listener never finishes its handshake.
    const stuck = { ...target(9001), tls: { verify: false } };
    const result = await runTcpCheck(network, stuck, { timeoutMs: 30 });
    assert.deepEqual(result, { passed: false, detail: "timed out after 30 ms" });
    await origin.listener.close();
  });
});

describe("HealthChecker", () => {
  interface Peer {
    name: string;
    port: number;
  }

  function checkerFor(
    network: MemoryNetwork,
    peers: Peer[],
    thresholds = { healthy: 2, unhealthy: 2 },
  ) {
    const events: string[] = [];
    const registry = new HealthRegistry(peers, {
      healthyThreshold: thresholds.healthy,
      unhealthyThreshold: thresholds.unhealthy,
      onChange: (event: HealthEvent<Peer>) => events.push(`${event.kind}:${event.peer.name}`),
    });
    const checker = new HealthChecker(network, {
      settings: httpSettings({ timeoutMs: 40 }),
      registry,
      target: (peer) => target(peer.port),
    });
    return { checker, events, registry };
  }

  test("origin answering 200 then 500 then nothing", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    const peer = { name: "a", port: 9001 };
    const { checker, events, registry } = checkerFor(network, [peer]);

    await checker.checkNow();
    assert.equal(registry.isAvailable(peer), true);

    origin.mode = "error";
    await checker.checkNow();
    assert.equal(registry.isAvailable(peer), true, "one failure is below the threshold");
    await checker.checkNow();
    assert.equal(registry.isAvailable(peer), false);
    assert.equal(registry.stats(peer)?.lastCheckFailure, "status 500");

    origin.mode = "ok";
    await checker.checkNow();
    assert.equal(registry.isAvailable(peer), false, "one pass is below the threshold");
    await checker.checkNow();
    assert.equal(registry.isAvailable(peer), true);

    origin.mode = "silent";
    await checker.checkNow();
    await checker.checkNow();
    assert.equal(registry.isAvailable(peer), false);
    assert.equal(registry.stats(peer)?.lastCheckFailure, "timed out after 40 ms");
    assert.deepEqual(events, ["unhealthy:a", "healthy:a", "unhealthy:a"]);
    await settle();
    assert.equal(origin.closed, origin.accepted, "every check closed its connection");
    await origin.listener.close();
  });

  test("checks every peer in a round", async () => {
    const network = new MemoryNetwork();
    const up = await startOrigin(network, 9001);
    const peers = [{ name: "up", port: 9001 }, { name: "down", port: 9002 }];
    const { checker, registry } = checkerFor(network, peers, { healthy: 1, unhealthy: 1 });
    await checker.checkNow();
    assert.equal(registry.isAvailable(peers[0]), true);
    assert.equal(registry.isAvailable(peers[1]), false);
    assert.equal(up.requests.length, 1);
    await up.listener.close();
  });

  test("runs rounds on the interval until stopped", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 9001);
    const { checker } = checkerFor(network, [{ name: "a", port: 9001 }]);
    checker.start();
    assert.equal(checker.running, true);
    const deadline = Date.now() + 2_000;
    while (origin.requests.length < 3 && Date.now() < deadline) await settle(5);
    assert.ok(origin.requests.length >= 3, `only ${origin.requests.length} checks in 2 s`);
    await checker.stop();
    assert.equal(checker.running, false);
    const count = origin.requests.length;
    await settle(80);
    assert.equal(origin.requests.length, count, "no check after stop");
    await origin.listener.close();
  });

  test("rejects a zero interval", () => {
    const registry = new HealthRegistry<{ port: number }>([]);
    assert.throws(
      () =>
        new HealthChecker(new MemoryNetwork(), {
          settings: httpSettings({ intervalMs: 0 }),
          registry,
          target: (peer) => target(peer.port),
        }),
      /at least 1 ms/,
    );
  });
});
