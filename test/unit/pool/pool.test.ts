import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import type { Connection } from "../../../src/net/types.ts";
import { NetworkError } from "../../../src/net/types.ts";
import { ConnectionPool, type PeerTarget, type UpstreamOwner } from "../../../src/pool/pool.ts";

interface OriginSide {
  connections: Connection[];
  closed: number;
}

/** A memory-network origin that records its accepted connections. */
async function startOrigin(network: MemoryNetwork, port: number): Promise<OriginSide> {
  const side: OriginSide = { connections: [], closed: 0 };
  await network.listen({ hostname: "127.0.0.1", port }, (connection) => {
    side.connections.push(connection);
    return {
      data() {},
      drain() {},
      end() {
        connection.end();
      },
      close() {
        side.closed++;
      },
    };
  });
  return side;
}

function target(port: number, extra: Partial<PeerTarget> = {}): PeerTarget {
  return { key: `http://127.0.0.1:${port}`, hostname: "127.0.0.1", port, ...extra };
}

function recordingOwner(): UpstreamOwner & { events: string[] } {
  const events: string[] = [];
  return {
    events,
    onUpstreamData: (chunk) => events.push(`data:${new TextDecoder().decode(chunk)}`),
    onUpstreamDrain: () => events.push("drain"),
    onUpstreamEnd: () => events.push("end"),
    onUpstreamClose: () => events.push("close"),
  };
}

function options(overrides: Partial<ConstructorParameters<typeof ConnectionPool>[1]> = {}) {
  return { maxIdlePerPeer: 4, idleTimeoutMs: 60_000, connectTimeoutMs: 1_000, ...overrides };
}

function settle(ms = 20): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("ConnectionPool", () => {
  test("reuses a released connection", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const first = await pool.connect(target(8001), recordingOwner());
    pool.release(first);
    const again = pool.takeIdle(target(8001), recordingOwner());
    assert.equal(again, first);
    assert.equal(again!.reused, true);
    assert.equal(origin.connections.length, 1);
    assert.deepEqual(pool.stats(), { connected: 1, idle: 0, inUse: 1, connecting: 0, reused: 1, opened: 1 });
    pool.close();
    again!.destroy();
  });

  test("keeps connections of different keys apart", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const plain = await pool.connect(target(8001), recordingOwner());
    pool.release(plain);
    const other = target(8001, { key: "http://127.0.0.1:8001|other" });
    assert.equal(pool.takeIdle(other, recordingOwner()), undefined);
    pool.close();
  });

  test("discards an idle connection that receives bytes", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream);
    await settle();
    origin.connections[0].write(new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n"));
    await settle();
    assert.equal(upstream.closed, true);
    assert.equal(pool.takeIdle(target(8001), recordingOwner()), undefined);
    assert.equal(pool.stats().connected, 0);
  });

  test("discards an idle connection the origin ends", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream);
    origin.connections[0].end();
    await settle();
    assert.equal(upstream.closed, true);
    assert.equal(pool.takeIdle(target(8001), recordingOwner()), undefined);
  });

  test("caps idle connections per peer", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxIdlePerPeer: 2 }));
    const connections = [];
    for (let i = 0; i < 3; i++) connections.push(await pool.connect(target(8001), recordingOwner()));
    for (const upstream of connections) pool.release(upstream);
    await settle();
    assert.equal(pool.stats().idle, 2);
    assert.equal(connections[0].closed, true, "the oldest idle connection makes room");
    assert.equal(origin.closed, 1);
    pool.close();
  });

  test("closes every connection when the cap is zero", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxIdlePerPeer: 0 }));
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream);
    await settle();
    assert.equal(upstream.closed, true);
    assert.equal(pool.stats().idle, 0);
  });

  test("closes idle connections after the idle timeout", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ idleTimeoutMs: 30 }));
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream);
    await settle(80);
    assert.equal(upstream.closed, true);
    assert.equal(pool.stats().connected, 0);
  });

  test("hands out the most recent idle connection", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const older = await pool.connect(target(8001), recordingOwner());
    const newer = await pool.connect(target(8001), recordingOwner());
    pool.release(older);
    pool.release(newer);
    assert.equal(pool.takeIdle(target(8001), recordingOwner()), newer);
    pool.close();
    newer.destroy();
  });

  test("routes events to the owner", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const owner = recordingOwner();
    const upstream = await pool.connect(target(8001), owner);
    origin.connections[0].write(new TextEncoder().encode("hi"));
    origin.connections[0].end();
    await settle();
    assert.deepEqual(owner.events.slice(0, 2), ["data:hi", "end"]);
    upstream.destroy();
    await settle();
    assert.equal(owner.events.includes("close"), false, "a destroyed connection no longer reports to its owner");
  });

  test("rejects a refused connect", async () => {
    const network = new MemoryNetwork();
    const pool = new ConnectionPool(network, options());
    await assert.rejects(pool.connect(target(8009), recordingOwner()), (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      assert.equal(error.code, "ECONNREFUSED");
      return true;
    });
    assert.equal(pool.stats().connecting, 0);
  });

  test("times out a connect that does not finish", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ connectTimeoutMs: 50 }));
    // A TLS client reaching a plain memory listener never finishes its handshake.
    const stuck = target(8001, { key: "https://127.0.0.1:8001", tls: { verify: false } });
    const started = Date.now();
    await assert.rejects(pool.connect(stuck, recordingOwner()), (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      assert.equal(error.code, "ETIMEDOUT");
      return true;
    });
    assert.ok(Date.now() - started >= 40);
  });

  test("close destroys idle connections and refuses new ones", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream);
    pool.close();
    await settle();
    assert.equal(upstream.closed, true);
    await assert.rejects(pool.connect(target(8001), recordingOwner()));
  });
});
