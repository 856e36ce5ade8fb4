import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import type { Connection, Listener } from "../../../src/net/types.ts";
import { NetworkError } from "../../../src/net/types.ts";
import {
  ConnectionPool,
  type PeerTarget,
  PoolError,
  type PoolErrorCode,
  type UpstreamOwner,
} from "../../../src/pool/pool.ts";

interface OriginSide {
  connections: Connection[];
  closed: number;
  listener: Listener;
}

/** A memory-network origin that records its accepted connections. */
async function startOrigin(network: MemoryNetwork, port: number): Promise<OriginSide> {
  const side = { connections: [] as Connection[], closed: 0 };
  const listener = await network.listen({ hostname: "127.0.0.1", port }, (connection) => {
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
  return Object.assign(side, { listener });
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
    assert.deepEqual(pool.stats(), {
      connected: 1,
      idle: 0,
      inUse: 1,
      connecting: 0,
      queued: 0,
      reused: 1,
      opened: 1,
    });
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

async function assertPoolError(promise: Promise<unknown>, code: PoolErrorCode, message?: RegExp) {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof PoolError, `expected a PoolError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message) assert.match(error.message, message);
    return true;
  });
}

describe("ConnectionPool.acquire", () => {
  test("takes an idle connection first", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const first = await pool.acquire(target(8001), recordingOwner());
    pool.release(first);
    const owner = recordingOwner();
    const again = await pool.acquire(target(8001), owner);
    assert.equal(again, first);
    assert.equal(again.owner, owner);
    assert.equal(origin.connections.length, 1);
    pool.close();
    again.destroy();
  });

  test("connects while under the cap", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 2 }));
    const [one, two] = await Promise.all([
      pool.acquire(target(8001), recordingOwner()),
      pool.acquire(target(8001), recordingOwner()),
    ]);
    assert.notEqual(one, two);
    assert.equal(origin.connections.length, 2);
    assert.deepEqual(pool.peerStats(target(8001).key), {
      connected: 2,
      idle: 0,
      connecting: 0,
      queued: 0,
    });
    one.destroy();
    two.destroy();
  });

  test("counts connects under way against the cap", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const first = pool.acquire(target(8001), recordingOwner());
    const second = pool.acquire(target(8001), recordingOwner());
    assert.equal(pool.stats().queued, 1, "the second waits while the first connects");
    const upstream = await first;
    pool.release(upstream);
    assert.equal(await second, upstream);
    assert.equal(origin.connections.length, 1);
    upstream.destroy();
  });

  test("waiter gets a released connection", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(
      network,
      options({ maxConnectionsPerPeer: 1, maxIdlePerPeer: 0 }),
    );
    const busy = await pool.acquire(target(8001), recordingOwner());
    const owner = recordingOwner();
    const waiting = pool.acquire(target(8001), owner);
    assert.deepEqual(pool.stats().queued, 1);
    pool.release(busy);
    const handed = await waiting;
    assert.equal(handed, busy, "handed over even though no idle connection is kept");
    assert.equal(handed.owner, owner);
    assert.equal(handed.reused, true);
    assert.equal(pool.stats().queued, 0);
    assert.equal(pool.stats().reused, 1);
    handed.destroy();
  });

  test("waiter connects when a connection closes", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const busy = await pool.acquire(target(8001), recordingOwner());
    const waiting = pool.acquire(target(8001), recordingOwner());
    busy.destroy();
    const fresh = await waiting;
    assert.notEqual(fresh, busy);
    assert.equal(fresh.reused, false);
    assert.equal(origin.connections.length, 2);
    fresh.destroy();
  });

  test("waiters are served in order", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const busy = await pool.acquire(target(8001), recordingOwner());
    const order: string[] = [];
    const first = pool.acquire(target(8001), recordingOwner()).then((upstream) => {
      order.push("first");
      return upstream;
    });
    const second = pool.acquire(target(8001), recordingOwner()).then((upstream) => {
      order.push("second");
      return upstream;
    });
    pool.release(busy);
    pool.release(await first);
    (await second).destroy();
    assert.deepEqual(order, ["first", "second"]);
  });

  test("full queue rejects at once", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1, maxQueue: 1 }));
    const busy = await pool.acquire(target(8001), recordingOwner());
    const waiting = pool.acquire(target(8001), recordingOwner());
    await assertPoolError(
      pool.acquire(target(8001), recordingOwner()),
      "QUEUE_FULL",
      /no connection to http:\/\/127.0.0.1:8001 is free and 1 requests already wait/,
    );
    pool.release(busy);
    (await waiting).destroy();
  });

  test("zero queue rejects beyond the cap", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1, maxQueue: 0 }));
    const busy = await pool.acquire(target(8001), recordingOwner());
    await assertPoolError(pool.acquire(target(8001), recordingOwner()), "QUEUE_FULL");
    busy.destroy();
  });

  test("wait times out", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(
      network,
      options({ maxConnectionsPerPeer: 1, queueTimeoutMs: 40 }),
    );
    const busy = await pool.acquire(target(8001), recordingOwner());
    const started = Date.now();
    await assertPoolError(
      pool.acquire(target(8001), recordingOwner()),
      "QUEUE_TIMEOUT",
      /became free within 40 ms: all 1 \(pool.maxConnectionsPerPeer\) are in use/,
    );
    assert.ok(Date.now() - started >= 30);
    assert.equal(pool.stats().queued, 0);
    busy.destroy();
  });

  test("abort leaves the queue", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const busy = await pool.acquire(target(8001), recordingOwner());
    const abort = new AbortController();
    const waiting = pool.acquire(target(8001), recordingOwner(), { signal: abort.signal });
    abort.abort();
    await assertPoolError(waiting, "ABORTED");
    assert.equal(pool.stats().queued, 0);
    pool.release(busy);
    assert.equal(pool.stats().idle, 1, "the aborted call did not get the released connection");
    pool.close();
  });

  test("connection opened after abort is pooled", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const abort = new AbortController();
    const acquiring = pool.acquire(target(8001), recordingOwner(), { signal: abort.signal });
    abort.abort();
    await assertPoolError(acquiring, "ABORTED");
    assert.equal(pool.stats().idle, 1);
    const next = await pool.acquire(target(8001), recordingOwner());
    assert.equal(origin.connections.length, 1, "the next call reused it");
    next.destroy();
  });

  test("waiter gets the connect error", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const busy = await pool.acquire(target(8001), recordingOwner());
    const waiting = pool.acquire(target(8001), recordingOwner());
    await origin.listener.close();
    busy.destroy();
    await assert.rejects(waiting, (error: unknown) => {
      assert.ok(error instanceof NetworkError);
      assert.equal(error.code, "ECONNREFUSED");
      return true;
    });
  });

  test("close rejects waiters", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const busy = await pool.acquire(target(8001), recordingOwner());
    const waiting = pool.acquire(target(8001), recordingOwner());
    pool.close();
    await assertPoolError(waiting, "POOL_CLOSED");
    await assertPoolError(pool.acquire(target(8001), recordingOwner()), "POOL_CLOSED");
    busy.destroy();
  });

  test("fresh skips idle connections", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const pooled = await pool.acquire(target(8001), recordingOwner());
    pool.release(pooled);
    const fresh = await pool.acquire(target(8001), recordingOwner(), { fresh: true });
    assert.notEqual(fresh, pooled);
    assert.equal(fresh.reused, false);
    assert.equal(origin.connections.length, 2);
    assert.equal(pool.stats().idle, 1, "the idle connection stays pooled");
    pool.close();
    fresh.destroy();
  });

  test("fresh at the cap closes an idle connection", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const pooled = await pool.acquire(target(8001), recordingOwner());
    pool.release(pooled);
    const fresh = await pool.acquire(target(8001), recordingOwner(), { fresh: true });
    assert.notEqual(fresh, pooled);
    assert.equal(pooled.closed, true, "the idle connection made room");
    assert.equal(origin.connections.length, 2);
    fresh.destroy();
  });

  test("caps each peer separately", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    await startOrigin(network, 8002);
    const pool = new ConnectionPool(network, options({ maxConnectionsPerPeer: 1 }));
    const one = await pool.acquire(target(8001), recordingOwner());
    const two = await pool.acquire(target(8002), recordingOwner());
    assert.equal(pool.stats().queued, 0);
    one.destroy();
    two.destroy();
  });
});

describe("ConnectionPool connection limits", () => {
  test("honours the origin's keep-alive timeout", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ keepAliveMarginMs: 1_000 }));
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream, { keepAliveTimeoutMs: 1_040 });
    assert.equal(pool.stats().idle, 1);
    await settle(100);
    assert.equal(upstream.closed, true, "closed 40 ms after release, well before idleTimeoutMs");
  });

  test("too short a keep-alive is not pooled", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options());
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream, { keepAliveTimeoutMs: 1_000 });
    assert.equal(pool.stats().idle, 0, "1 s minus the default 1 s margin leaves nothing");
    await settle();
    assert.equal(upstream.closed, true);
  });

  test("closes after the maximum requests", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxRequestsPerConnection: 2 }));
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream);
    assert.equal(pool.takeIdle(target(8001), recordingOwner()), upstream);
    pool.release(upstream);
    assert.equal(pool.stats().idle, 0);
    await settle();
    assert.equal(upstream.closed, true);
  });

  test("closes after the maximum age", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionAgeMs: 50 }));
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream);
    assert.equal(pool.stats().idle, 1, "young enough to pool");
    await settle(100);
    assert.equal(upstream.closed, true, "the idle timer stops at the maximum age");

    const old = await pool.connect(target(8001), recordingOwner());
    await settle(60);
    pool.release(old);
    assert.equal(pool.stats().idle, 0, "too old to pool");
  });

  test("takeIdle skips connections past the maximum age", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    const pool = new ConnectionPool(network, options({ maxConnectionAgeMs: 30 }));
    const upstream = await pool.connect(target(8001), recordingOwner());
    pool.release(upstream);
    // Timers may fire late, so takeIdle checks the age itself. Clear the timer to prove it.
    upstream.stopIdleTimer();
    await settle(50);
    assert.equal(pool.takeIdle(target(8001), recordingOwner()), undefined);
  });

  test("closeIdle closes one peer's idle connections", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, 8001);
    await startOrigin(network, 8002);
    const pool = new ConnectionPool(network, options());
    const one = await pool.connect(target(8001), recordingOwner());
    const two = await pool.connect(target(8002), recordingOwner());
    pool.release(one);
    pool.release(two);
    pool.closeIdle(target(8001).key);
    await settle();
    assert.equal(one.closed, true);
    assert.equal(two.closed, false);
    assert.deepEqual(pool.peerStats(target(8001).key), {
      connected: 0,
      idle: 0,
      connecting: 0,
      queued: 0,
    });
    pool.close();
  });
});
