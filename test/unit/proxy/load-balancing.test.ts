import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import type { ProxyServer } from "../../../src/proxy/server.ts";
import {
  connectClient,
  countResponses,
  Peer,
  PROXY_PORT,
  RecordingEvents,
  startProxyServer,
  until,
} from "./memory-fixture.ts";

/** An origin on the memory network that records request heads and responds to each. */
class Origin {
  readonly name: string;
  /** Request heads in arrival order, without the blank line. */
  readonly requests: string[] = [];
  readonly connections: Peer[] = [];
  /** Responds to one request head, by default with 200 and the origin's name as the body. */
  respond: (connection: Peer, head: string) => void;

  constructor(name: string) {
    this.name = name;
    this.respond = (connection) => connection.send(okFrom(name));
  }
}

function okFrom(name: string): string {
  return `HTTP/1.1 200 OK\r\nContent-Length: ${name.length}\r\n\r\n${name}`;
}

const SERVICE_UNAVAILABLE = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n";

async function startOrigin(
  network: MemoryNetwork,
  name: string,
  port: number,
  hostname = "127.0.0.1",
): Promise<Origin> {
  const origin = new Origin(name);
  await network.listen({ hostname, port }, (connection) => {
    const peer = new Peer();
    peer.connection = connection;
    origin.connections.push(peer);
    let parsed = 0;
    peer.onData = () => {
      let end = peer.text.indexOf("\r\n\r\n", parsed);
      while (end !== -1) {
        const head = peer.text.slice(parsed, end);
        parsed = end + 4;
        origin.requests.push(head);
        origin.respond(peer, head);
        end = peer.text.indexOf("\r\n\r\n", parsed);
      }
    };
    return peer.handlers();
  });
  return origin;
}

/** Builds a config with one listener, one route and the upstream `app` with settings `upstream`. */
function config(upstream: string): string {
  return `
listeners:
  - address: 127.0.0.1:${PROXY_PORT}
upstreams:
  app:
${upstream}
routes:
  - upstream: app
`;
}

/** Sends `head` (request line and fields) with `Connection: close` and returns the response. */
async function send(network: MemoryNetwork, head: string, body = ""): Promise<string> {
  const client = await connectClient(network);
  client.send(`${head}\r\nConnection: close\r\n\r\n${body}`);
  await until(() => client.finished);
  return client.text;
}

function get(network: MemoryNetwork, path = "/", fields = ""): Promise<string> {
  return send(network, `GET ${path} HTTP/1.1\r\nHost: p.test${fields}`);
}

/** Starts a GET that the origin leaves pending, and resolves once the origin has it. */
async function sendPendingGet(network: MemoryNetwork, origin: Origin, path: string): Promise<Peer> {
  const before = origin.requests.length;
  const client = await connectClient(network);
  client.send(`GET ${path} HTTP/1.1\r\nHost: p.test\r\n\r\n`);
  await until(() => origin.requests.length > before);
  return client;
}

function statusOf(response: string): number {
  return Number(response.slice(9, 12));
}

function bodyOf(response: string): string {
  return response.slice(response.indexOf("\r\n\r\n") + 4);
}

function fieldOf(response: string, name: string): string | undefined {
  const head = response.slice(0, response.indexOf("\r\n\r\n"));
  const match = new RegExp(`\r\n${name}: ([^\r]*)`, "i").exec(head);
  return match?.[1];
}

function isRequestFor(path: string): (connection: Peer, head: string) => boolean {
  return (_connection, head) => head.startsWith(`GET ${path} `);
}

describe("retries", () => {
  test("retries the next peer after a refused connect", async () => {
    const network = new MemoryNetwork();
    const live = await startOrigin(network, "live", 9002);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
`), events);

    for (let i = 0; i < 4; i++) {
      const response = await get(network);
      assert.equal(statusOf(response), 200, `request ${i}`);
      assert.equal(bodyOf(response), "live");
    }
    assert.equal(live.requests.length, 4);
    // Round robin puts the refusing peer first for every other request.
    assert.equal(events.retries.length, 2);
    for (const retry of events.retries) {
      assert.equal(retry.kind, "next_peer");
      assert.equal(retry.code, "CONNECT_FAILED");
      assert.equal(retry.from, "http://127.0.0.1:9001");
      assert.equal(retry.to, "http://127.0.0.1:9002");
      assert.equal(retry.attempt, 2);
    }
    await until(() => events.records.length === 4);
    assert.ok(events.records.every((record) => record.upstream === "http://127.0.0.1:9002"));
    await server.shutdown(100);
  });

  test("retries a POST after a refused connect", async () => {
    const network = new MemoryNetwork();
    const live = await startOrigin(network, "live", 9002);
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
`));

    const response = await send(network, "POST /pay HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5", "hello");
    assert.equal(statusOf(response), 200);
    assert.equal(live.requests.length, 1);
    assert.match(live.requests[0], /^POST \/pay /);
    await until(() => live.connections[0].text.endsWith("hello"));
    await server.shutdown(100);
  });

  test("does not retry a POST once bytes were sent", async () => {
    const network = new MemoryNetwork();
    const first = await startOrigin(network, "first", 9001);
    first.respond = (connection) => connection.connection.destroy();
    const second = await startOrigin(network, "second", 9002);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
    retries:
      attempts: 3
      onStatuses: [502, 503]
`), events);

    const response = await send(network, "POST /pay HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5", "hello");
    assert.equal(statusOf(response), 502);
    assert.equal(first.requests.length, 1);
    assert.equal(second.requests.length, 0);
    assert.equal(events.retries.length, 0);
    await server.shutdown(100);
  });

  test("retries a GET the origin dropped unanswered", async () => {
    const network = new MemoryNetwork();
    const dropping = await startOrigin(network, "dropping", 9001);
    dropping.respond = (connection) => connection.connection.destroy();
    const live = await startOrigin(network, "live", 9002);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
`), events);

    const response = await get(network);
    assert.equal(statusOf(response), 200);
    assert.equal(bodyOf(response), "live");
    assert.equal(dropping.requests.length, 1);
    assert.equal(events.retries.length, 1);
    assert.equal(events.retries[0].code, "UPSTREAM_CLOSED");
    await server.shutdown(100);
  });

  test("retries a GET on a configured status", async () => {
    const network = new MemoryNetwork();
    const failing = await startOrigin(network, "failing", 9001);
    failing.respond = (connection) => connection.send(SERVICE_UNAVAILABLE);
    const live = await startOrigin(network, "live", 9002);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
    retries:
      onStatuses: [503]
`), events);

    const response = await get(network);
    assert.equal(statusOf(response), 200);
    assert.equal(bodyOf(response), "live");
    assert.equal(failing.requests.length, 1);
    assert.equal(events.retries.length, 1);
    assert.equal(events.retries[0].reason, "status 503");
    assert.equal(events.retries[0].code, undefined);
    // The 503's connection is not reused, because its body was never read.
    await until(() => failing.connections[0].finished);
    await server.shutdown(100);
  });

  test("relays a configured status for a POST", async () => {
    const network = new MemoryNetwork();
    const failing = await startOrigin(network, "failing", 9001);
    failing.respond = (connection) => connection.send(SERVICE_UNAVAILABLE);
    const live = await startOrigin(network, "live", 9002);
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
    retries:
      onStatuses: [503]
`));

    const response = await send(network, "POST /pay HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5", "hello");
    assert.equal(statusOf(response), 503);
    assert.equal(live.requests.length, 0);
    await server.shutdown(100);
  });

  test("relays the last status when no peer is left", async () => {
    const network = new MemoryNetwork();
    const origins = [await startOrigin(network, "a", 9001), await startOrigin(network, "b", 9002)];
    for (const origin of origins) origin.respond = (connection) => connection.send(SERVICE_UNAVAILABLE);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
    retries:
      attempts: 5
      onStatuses: [503]
`), events);

    const response = await get(network);
    assert.equal(statusOf(response), 503);
    assert.equal(origins[0].requests.length, 1);
    assert.equal(origins[1].requests.length, 1);
    assert.equal(events.retries.length, 1);
    await server.shutdown(100);
  });

  test("stops retrying when the retry budget is used up", async () => {
    const network = new MemoryNetwork();
    const holding = await startOrigin(network, "holding", 9002);
    holding.respond = () => {};
    const events = new RecordingEvents();
    // least_requests puts the refusing peer first each time, because the pending requests
    // count in flight on the other one.
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
    balancing: least_requests
    retries:
      budget: 0%
`), events);

    // The budget always allows 3 retries in flight, whatever the percentage.
    const pending: Peer[] = [];
    for (let i = 0; i < 3; i++) pending.push(await sendPendingGet(network, holding, `/pending-${i}`));
    assert.equal(events.retries.length, 3);
    const response = await get(network, "/refused");
    assert.equal(statusOf(response), 502);
    assert.equal(events.retries.length, 3);
    assert.equal(server.groups.get("app")!.retryBudget.stats().rejectedRetries, 1);
    await until(() => events.errors.length === 1);
    assert.match(events.errors[0].message, /not retried: the retry budget of upstream app is used up/);
    for (const client of pending) client.connection.destroy();
    await server.shutdown(100);
  });
});

describe("peer availability", () => {
  test("responds 503 when every peer is disabled", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, "origin", 9001);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
`), events);
    const selector = server.groups.get("app")!.selector;
    const [peer] = selector.balancer.peers;

    selector.health.setEnabled(peer, false);
    const unavailable = await get(network);
    assert.equal(statusOf(unavailable), 503);
    assert.equal(fieldOf(unavailable, "Retry-After"), "1");
    assert.equal(origin.requests.length, 0);
    assert.deepEqual(events.healthChanges.map((change) => change.kind), ["disabled"]);
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].error, "NO_PEER");

    selector.health.setEnabled(peer, true);
    assert.equal(statusOf(await get(network)), 200);
    await server.shutdown(100);
  });

  test("responds 503 with the ejection time left", async () => {
    const network = new MemoryNetwork();
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
    passive:
      consecutiveFailures: 1
      baseEjection: 30s
      maxEjection: 1m
`), events);

    assert.equal(statusOf(await get(network)), 502);
    assert.equal(events.healthChanges.length, 1);
    assert.equal(events.healthChanges[0].kind, "ejected");
    assert.equal(events.healthChanges[0].durationMs, 30_000);
    const unavailable = await get(network);
    assert.equal(statusOf(unavailable), 503);
    assert.equal(fieldOf(unavailable, "Retry-After"), "30");
    await server.shutdown(100);
  });

  test("takes a peer out after failed health checks", async () => {
    const network = new MemoryNetwork();
    const checked = await startOrigin(network, "checked", 9001);
    let checkStatus = "500 Internal Server Error";
    checked.respond = (connection, head) => {
      if (head.startsWith("GET /health ")) {
        connection.send(`HTTP/1.1 ${checkStatus}\r\nContent-Length: 0\r\n\r\n`);
      } else {
        connection.send(okFrom("checked"));
      }
    };
    const other = await startOrigin(network, "other", 9002);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
    healthCheck:
      path: /health
      interval: 10ms
      timeout: 500ms
      healthyThreshold: 2
      unhealthyThreshold: 2
`), events);

    await until(() => events.healthChanges.some((change) => change.kind === "unhealthy"));
    const unhealthy = events.healthChanges.find((change) => change.kind === "unhealthy")!;
    assert.equal(unhealthy.peer, "http://127.0.0.1:9001");
    assert.equal(unhealthy.detail, "status 500");
    const before = checked.requests.filter((head) => !head.startsWith("GET /health ")).length;
    for (let i = 0; i < 4; i++) assert.equal(bodyOf(await get(network)), "other");
    const after = checked.requests.filter((head) => !head.startsWith("GET /health ")).length;
    assert.equal(after, before);
    assert.ok(other.requests.length >= 4);

    checkStatus = "200 OK";
    await until(() => events.healthChanges.some((change) => change.kind === "healthy"));
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add(bodyOf(await get(network)));
    assert.ok(bodies.has("checked"), "the peer is back in rotation");
    await server.shutdown(100);
  });
});

describe("connection pool limits", () => {
  const limited = `
    peers:
      - url: http://127.0.0.1:9001
    pool:
      maxConnectionsPerPeer: 1
      queueTimeout: 50ms
`;

  test("responds 503 when the queue wait times out", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, "origin", 9001);
    const isSlow = isRequestFor("/slow");
    origin.respond = (connection, head) => {
      if (!isSlow(connection, head)) connection.send(okFrom("origin"));
    };
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(limited), events);

    const slow = await sendPendingGet(network, origin, "/slow");
    const started = Date.now();
    const response = await get(network, "/queued");
    assert.equal(statusOf(response), 503);
    assert.equal(fieldOf(response, "Retry-After"), "1");
    assert.ok(Date.now() - started >= 45, "the request waited for the queue timeout");
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].error, "QUEUE_TIMEOUT");
    assert.equal(origin.requests.length, 1);

    origin.connections[0].send(okFrom("origin"));
    await until(() => countResponses(slow.text) === 1);
    assert.equal(statusOf(await get(network, "/after")), 200);
    slow.connection.destroy();
    await server.shutdown(100);
  });

  test("responds 503 at once when the queue is full", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, "origin", 9001);
    origin.respond = () => {};
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`${limited}      maxQueue: 0\n`), events);

    const slow = await sendPendingGet(network, origin, "/slow");
    const response = await get(network, "/queued");
    assert.equal(statusOf(response), 503);
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].error, "QUEUE_FULL");
    slow.connection.destroy();
    await server.shutdown(100);
  });

  test("tries the next peer when a queue is full", async () => {
    const network = new MemoryNetwork();
    const busy = await startOrigin(network, "busy", 9001);
    busy.respond = () => {};
    const free = await startOrigin(network, "free", 9002);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
    pool:
      maxConnectionsPerPeer: 1
      maxQueue: 0
`), events);

    // Round robin: the first request goes to the busy peer and stays pending there, the second
    // goes to the free peer, and the third finds the busy peer's queue full.
    const pending = await sendPendingGet(network, busy, "/slow");
    assert.equal(bodyOf(await get(network, "/second")), "free");
    assert.equal(bodyOf(await get(network, "/third")), "free");
    assert.equal(events.retries.length, 1);
    assert.equal(events.retries[0].code, "QUEUE_FULL");
    pending.connection.destroy();
    await server.shutdown(100);
  });

  test("closes a connection after maxRequestsPerConnection", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, "origin", 9001);
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
    pool:
      maxRequestsPerConnection: 2
`));

    for (let i = 0; i < 3; i++) assert.equal(statusOf(await get(network)), 200);
    assert.equal(origin.connections.length, 2);
    await server.shutdown(100);
  });

  test("closes a connection the origin's keep-alive timeout leaves no time", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, "origin", 9001);
    // With the default 1s keepAliveMargin, timeout=1 leaves 0 ms to reuse the connection.
    origin.respond = (connection) =>
      connection.send("HTTP/1.1 200 OK\r\nKeep-Alive: timeout=1\r\nContent-Length: 0\r\n\r\n");
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
`));

    for (let i = 0; i < 2; i++) assert.equal(statusOf(await get(network)), 200);
    assert.equal(origin.connections.length, 2);
    assert.ok(origin.connections[0].finished);
    await server.shutdown(100);
  });
});

describe("timeouts.total", () => {
  test("responds 504 when the exchange runs past it", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, "origin", 9001);
    origin.respond = () => {};
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
    timeouts:
      total: 50ms
`), events);

    const started = Date.now();
    const response = await get(network);
    assert.equal(statusOf(response), 504);
    assert.ok(Date.now() - started >= 45, "the deadline was waited for");
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].error, "TOTAL_TIMEOUT");
    await until(() => origin.connections[0].finished);
    // The deadline is not a failure of the peer, so it does not count against it.
    const stats = server.groups.get("app")!.selector.health.stats(
      server.groups.get("app")!.selector.balancer.peers[0],
    );
    assert.equal(stats?.consecutiveRequestFailures, 0);
    await server.shutdown(100);
  });
});

describe("balancing through the server", () => {
  test("least_requests avoids a busy peer", async () => {
    const network = new MemoryNetwork();
    const busy = await startOrigin(network, "busy", 9001);
    const isSlow = isRequestFor("/slow");
    busy.respond = (connection, head) => {
      if (!isSlow(connection, head)) connection.send(okFrom("busy"));
    };
    const idle = await startOrigin(network, "idle", 9002);
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
    balancing: least_requests
`));

    const pending = await sendPendingGet(network, busy, "/slow");
    for (let i = 0; i < 3; i++) assert.equal(bodyOf(await get(network, `/fast-${i}`)), "idle");
    assert.equal(busy.requests.length, 1);
    assert.equal(idle.requests.length, 3);
    pending.connection.destroy();
    await server.shutdown(100);
  });

  test("consistent_hash keeps each key on one peer", async () => {
    const network = new MemoryNetwork();
    for (let i = 0; i < 3; i++) await startOrigin(network, `origin-${i}`, 9001 + i);
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
      - url: http://127.0.0.1:9003
    balancing: consistent_hash
    hashKey: header:x-user
`));

    const owners = new Set<string>();
    for (let user = 0; user < 12; user++) {
      const bodies = new Set<string>();
      for (let i = 0; i < 3; i++) {
        bodies.add(bodyOf(await get(network, "/", `\r\nX-User: user-${user}`)));
      }
      assert.equal(bodies.size, 1, `user-${user} stayed on one peer`);
      owners.add([...bodies][0]);
    }
    assert.ok(owners.size >= 2, "the keys spread over more than one peer");
    await server.shutdown(100);
  });
});

describe("discovery through the server", () => {
  test("follows the addresses a peer name resolves to", async () => {
    const network = new MemoryNetwork({ hosts: { "app.internal": ["127.0.0.1", "127.0.0.2"] } });
    const first = await startOrigin(network, "first", 9001, "127.0.0.1");
    const second = await startOrigin(network, "second", 9001, "127.0.0.2");
    const events = new RecordingEvents();
    const server: ProxyServer = await startProxyServer(network, config(`
    peers:
      - url: http://app.internal:9001
    discovery:
      resolveInterval: 10ms
`), events);

    // The start waits for the first resolution, which replaced the name by its two addresses.
    assert.equal(events.discoveryChanges.length, 1);
    assert.deepEqual(events.discoveryChanges[0].added, [
      "http://app.internal:9001 (127.0.0.1)",
      "http://app.internal:9001 (127.0.0.2)",
    ]);
    for (let i = 0; i < 4; i++) assert.equal(statusOf(await get(network)), 200);
    assert.equal(first.requests.length, 2);
    assert.equal(second.requests.length, 2);

    network.setHost("app.internal", ["127.0.0.2"]);
    await until(() => events.discoveryChanges.length === 2);
    assert.deepEqual(events.discoveryChanges[1].removed, ["http://app.internal:9001 (127.0.0.1)"]);
    // The removed peer's idle connection is closed.
    await until(() => first.connections.every((connection) => connection.finished));
    for (let i = 0; i < 3; i++) assert.equal(bodyOf(await get(network)), "second");
    assert.equal(first.requests.length, 2);

    network.removeHost("app.internal");
    await until(() => events.discoveryErrors.length > 0);
    assert.equal(bodyOf(await get(network)), "second", "a failed resolution keeps the addresses");
    await server.shutdown(100);
  });

  test("sends the configured name for SNI", async () => {
    const network = new MemoryNetwork({ hosts: { "secure.internal": ["127.0.0.3"] } });
    const serverNames: (string | undefined)[] = [];
    await network.listen(
      { hostname: "127.0.0.3", port: 9443, tls: { cert: "test certificate", key: "test key" } },
      (connection) => {
        serverNames.push(connection.tls?.serverName);
        const peer = new Peer();
        peer.connection = connection;
        peer.onData = () => {
          if (peer.text.endsWith("\r\n\r\n")) peer.send(okFrom("secure"));
        };
        return peer.handlers();
      },
    );
    const server = await startProxyServer(network, config(`
    peers:
      - url: https://secure.internal:9443
    discovery:
      resolveInterval: 1m
`));

    assert.equal(bodyOf(await get(network)), "secure");
    assert.deepEqual(serverNames, ["secure.internal"]);
    await server.shutdown(100);
  });
});

/** Milliseconds the slow origins below wait before they respond. */
const SLOW_RESPONSE_MS = 150;

/**
 * Builds a config with the upstream `app` (one peer on port 9001) and two routes to it: `quick`
 * for paths under `/quick/` and `patient` for every other path. The arguments are the fields of
 * the `timeouts` maps of `quick` and of the upstream, such as `idle: 50ms`.
 */
function twoRoutes(quickTimeouts: string, upstreamTimeouts = ""): string {
  return `
listeners:
  - address: 127.0.0.1:${PROXY_PORT}
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:9001
    timeouts: { ${upstreamTimeouts} }
routes:
  - name: quick
    match: { pathPrefix: /quick/ }
    upstream: app
    timeouts: { ${quickTimeouts} }
  - name: patient
    upstream: app
`;
}

/** Starts an origin on port 9001 that sends each response `SLOW_RESPONSE_MS` after the head. */
async function startSlowOrigin(network: MemoryNetwork): Promise<Origin> {
  const origin = await startOrigin(network, "slow", 9001);
  origin.respond = (connection) => {
    setTimeout(() => {
      if (!connection.finished) connection.send(okFrom("slow"));
    }, SLOW_RESPONSE_MS);
  };
  return origin;
}

describe("route timeouts", () => {
  test("responseHeader applies to its route only", async () => {
    const network = new MemoryNetwork();
    await startSlowOrigin(network);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, twoRoutes("responseHeader: 50ms"), events);

    const started = Date.now();
    const quick = await get(network, "/quick/a");
    assert.equal(statusOf(quick), 504);
    assert.ok(Date.now() - started < SLOW_RESPONSE_MS, "the route's deadline came first");
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].route, "quick");
    assert.equal(events.records[0].error, "RESPONSE_TIMEOUT");

    const patient = await get(network, "/b");
    assert.equal(statusOf(patient), 200);
    assert.equal(bodyOf(patient), "slow");
    await server.shutdown(100);
  });

  test("total applies to its route only", async () => {
    const network = new MemoryNetwork();
    await startSlowOrigin(network);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, twoRoutes("total: 50ms"), events);

    const quick = await get(network, "/quick/a");
    assert.equal(statusOf(quick), 504);
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].route, "quick");
    assert.equal(events.records[0].error, "TOTAL_TIMEOUT");

    const patient = await get(network, "/b");
    assert.equal(statusOf(patient), 200);
    assert.equal(bodyOf(patient), "slow");
    await server.shutdown(100);
  });

  test("idle applies to its route only", async () => {
    const network = new MemoryNetwork();
    const origin = await startOrigin(network, "stalling", 9001);
    // The head and half the body at once, the rest after a pause.
    origin.respond = (connection) => {
      connection.send("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab");
      setTimeout(() => {
        if (!connection.finished) connection.send("cd");
      }, SLOW_RESPONSE_MS);
    };
    const events = new RecordingEvents();
    const server = await startProxyServer(network, twoRoutes("idle: 50ms"), events);

    const quick = await get(network, "/quick/a");
    assert.equal(statusOf(quick), 200);
    assert.equal(bodyOf(quick), "ab", "the response was cut short");
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].error, "UPSTREAM_IDLE_TIMEOUT");

    const patient = await get(network, "/b");
    assert.equal(bodyOf(patient), "abcd");
    await server.shutdown(100);
  });

  test("route raises the upstream's responseHeader", async () => {
    const network = new MemoryNetwork();
    await startSlowOrigin(network);
    const yaml = twoRoutes("responseHeader: 2s", "responseHeader: 50ms");
    const server = await startProxyServer(network, yaml);

    assert.equal(statusOf(await get(network, "/quick/a")), 200);
    assert.equal(statusOf(await get(network, "/b")), 504);
    await server.shutdown(100);
  });
});

describe("peer enabled in the config", () => {
  /** Finds the group's peer whose log label is `label`. */
  function peerOf(server: ProxyServer, label: string) {
    const selector = server.groups.get("app")!.selector;
    const peer = selector.balancer.peers.find((candidate) => candidate.label === label);
    assert.ok(peer !== undefined, `no peer ${label}`);
    return { peer, health: selector.health };
  }

  test("never sends requests to a disabled peer", async () => {
    const network = new MemoryNetwork();
    const enabled = await startOrigin(network, "enabled", 9001);
    const disabled = await startOrigin(network, "disabled", 9002);
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
        weight: 5
        enabled: false
`), events);

    for (let i = 0; i < 6; i++) assert.equal(bodyOf(await get(network)), "enabled", `request ${i}`);
    assert.equal(enabled.requests.length, 6);
    assert.equal(disabled.requests.length, 0);
    assert.deepEqual(events.healthChanges, [
      { upstreamName: "app", peer: "http://127.0.0.1:9002", kind: "disabled" },
    ]);
    const { peer, health } = peerOf(server, "http://127.0.0.1:9002");
    const stats = health.stats(peer);
    assert.equal(stats?.enabled, false);
    assert.equal(stats?.healthy, true, "the switch leaves health alone");
    await server.shutdown(100);
  });

  test("responds 503 when every peer is disabled", async () => {
    const network = new MemoryNetwork();
    const origins = [await startOrigin(network, "a", 9001), await startOrigin(network, "b", 9002)];
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
        enabled: false
      - url: http://127.0.0.1:9002
        enabled: false
`), events);

    const response = await get(network);
    assert.equal(statusOf(response), 503);
    assert.equal(fieldOf(response, "Retry-After"), "1");
    assert.equal(origins[0].requests.length, 0);
    assert.equal(origins[1].requests.length, 0);
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].error, "NO_PEER");
    await server.shutdown(100);
  });

  test("health checks keep running on a disabled peer", async () => {
    const network = new MemoryNetwork();
    await startOrigin(network, "enabled", 9001);
    const disabled = await startOrigin(network, "disabled", 9002);
    let checkStatus = "500 Internal Server Error";
    disabled.respond = (connection, head) => {
      if (head.startsWith("GET /health ")) {
        connection.send(`HTTP/1.1 ${checkStatus}\r\nContent-Length: 0\r\n\r\n`);
      } else {
        connection.send(okFrom("disabled"));
      }
    };
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://127.0.0.1:9001
      - url: http://127.0.0.1:9002
        enabled: false
    healthCheck:
      path: /health
      interval: 10ms
      timeout: 500ms
      healthyThreshold: 1
      unhealthyThreshold: 1
`), events);
    const { peer, health } = peerOf(server, "http://127.0.0.1:9002");
    const kindsOf = (label: string) =>
      events.healthChanges.filter((change) => change.peer === label).map((change) => change.kind);

    await until(() => kindsOf("http://127.0.0.1:9002").includes("unhealthy"));
    assert.equal(health.stats(peer)?.healthy, false);
    assert.equal(health.stats(peer)?.enabled, false);

    checkStatus = "200 OK";
    await until(() => kindsOf("http://127.0.0.1:9002").includes("healthy"));
    assert.equal(health.stats(peer)?.healthy, true);
    assert.equal(bodyOf(await get(network)), "enabled", "a healthy disabled peer gets no requests");
    const served = disabled.requests.filter((head) => !head.startsWith("GET /health "));
    assert.equal(served.length, 0);

    health.setEnabled(peer, true);
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add(bodyOf(await get(network)));
    assert.ok(bodies.has("disabled"), "the enabled peer is back in rotation");
    await server.shutdown(100);
  });

  test("disabled peer's discovered addresses stay disabled", async () => {
    const network = new MemoryNetwork({ hosts: { "off.internal": ["127.0.0.1"] } });
    const first = await startOrigin(network, "first", 9001, "127.0.0.1");
    const second = await startOrigin(network, "second", 9001, "127.0.0.2");
    const live = await startOrigin(network, "live", 9001, "127.0.0.3");
    const events = new RecordingEvents();
    const server = await startProxyServer(network, config(`
    peers:
      - url: http://off.internal:9001
        enabled: false
      - url: http://127.0.0.3:9001
    discovery:
      resolveInterval: 10ms
`), events);

    for (let i = 0; i < 3; i++) assert.equal(bodyOf(await get(network)), "live");
    network.setHost("off.internal", ["127.0.0.1", "127.0.0.2"]);
    await until(() => events.discoveryChanges.length === 2);
    for (let i = 0; i < 3; i++) assert.equal(bodyOf(await get(network)), "live");
    assert.equal(first.requests.length, 0);
    assert.equal(second.requests.length, 0);
    assert.equal(live.requests.length, 6);
    const disabledLabels = events.healthChanges
      .filter((change) => change.kind === "disabled")
      .map((change) => change.peer);
    assert.ok(disabledLabels.includes("http://off.internal:9001 (127.0.0.2)"));
    await server.shutdown(100);
  });
});
