import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfigText } from "../../../src/config/load.ts";
import type { Config } from "../../../src/config/schema.ts";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import type { ProxyServer } from "../../../src/proxy/server.ts";
import { connectClient, countResponses, Peer, PROXY_PORT, startProxyServer, until } from "./memory-fixture.ts";

const PORT_A = 9001;
const PORT_B = 9002;

/** A memory origin that responds to every request with its name, or keeps it waiting while `hold` is set. */
class NamedOrigin {
  readonly connections: Peer[] = [];
  hold = false;
  readonly waiting: Peer[] = [];

  constructor(readonly name: string) {}

  async listen(network: MemoryNetwork, port: number): Promise<void> {
    await network.listen({ hostname: "127.0.0.1", port }, (connection) => {
      const peer = new Peer();
      peer.connection = connection;
      this.connections.push(peer);
      let answered = 0;
      peer.onData = () => {
        const requests = peer.text.split("\r\n\r\n").length - 1;
        while (answered < requests) {
          answered++;
          if (this.hold) this.waiting.push(peer);
          else this.answer(peer);
        }
      };
      return peer.handlers();
    });
  }

  answer(peer: Peer): void {
    peer.send(`HTTP/1.1 200 OK\r\nContent-Length: ${this.name.length}\r\n\r\n${this.name}`);
  }

  get requests(): number {
    return this.connections.reduce((sum, peer) => sum + (peer.text.split("\r\n\r\n").length - 1), 0);
  }
}

function configText(options: { upstream: string; extraUpstreams?: string; listeners?: string }): string {
  return `
listeners:
${options.listeners ?? `  - address: 127.0.0.1:${PROXY_PORT}`}
upstreams:
  a:
    peers:
      - url: http://127.0.0.1:${PORT_A}
  b:
    peers:
      - url: http://127.0.0.1:${PORT_B}
${options.extraUpstreams ?? ""}
routes:
  - upstream: ${options.upstream}
`;
}

function parse(text: string): Config {
  const loaded = parseConfigText(text, "test.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.config;
}

async function setup(text = configText({ upstream: "a" })) {
  const network = new MemoryNetwork();
  const a = new NamedOrigin("a");
  const b = new NamedOrigin("b");
  await a.listen(network, PORT_A);
  await b.listen(network, PORT_B);
  const server = await startProxyServer(network, text);
  return { network, a, b, server };
}

/** Sends one request and waits for the response body, the last response on the connection. */
async function request(client: Peer, path = "/"): Promise<string> {
  const before = countResponses(client.text);
  client.send(`GET ${path} HTTP/1.1\r\nHost: p.test\r\n\r\n`);
  await until(() => countResponses(client.text) > before && /\r\n\r\n[ab]$/.test(client.text));
  return client.text.slice(-1);
}

async function stop(server: ProxyServer): Promise<void> {
  await server.shutdown(100);
}

describe("ProxyServer.reload", () => {
  test("routes kept-alive connection to new upstream", async () => {
    const { network, a, b, server } = await setup();
    const client = await connectClient(network);
    assert.equal(await request(client), "a");
    const summary = await server.reload(parse(configText({ upstream: "b" })));
    assert.deepEqual(summary.upstreams, { added: [], changed: [], removed: [], kept: ["a", "b"] });
    assert.equal(await request(client), "b");
    assert.equal(a.requests, 1);
    assert.equal(b.requests, 1);
    assert.equal(client.finished, false);
    await stop(server);
  });

  test("keeps the pool of an unchanged upstream", async () => {
    const { network, a, server } = await setup();
    const client = await connectClient(network);
    await request(client);
    await server.reload(parse(configText({ upstream: "a" })));
    await request(client);
    assert.equal(a.connections.length, 1, "the pooled connection was reused across the reload");
    assert.equal(server.snapshot().upstreams.find((entry) => entry.name === "a")!.pool.reused, 1);
    await stop(server);
  });

  test("finishes in-flight request on old upstream", async () => {
    const { network, a, b, server } = await setup();
    a.hold = true;
    const client = await connectClient(network);
    client.send("GET /slow HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => a.waiting.length === 1);
    // Upstream `a` changes while its peer on port A keeps the request waiting, so the old group must
    // still finish it.
    const summary = await server.reload(parse(
      configText({ upstream: "b" }).replace("      - url: http://127.0.0.1:9001", "      - url: http://127.0.0.1:9001\n        weight: 2"),
    ));
    assert.deepEqual(summary.upstreams.changed, ["a"]);
    const second = await connectClient(network);
    assert.equal(await request(second), "b");
    a.answer(a.waiting[0]);
    await until(() => client.text.endsWith("\r\n\r\na"));
    // The retired group closes the connection instead of keeping it idle.
    await until(() => a.connections[0].finished);
    assert.equal(await request(client), "b");
    await stop(server);
  });

  test("replaces changed upstream and its pool", async () => {
    const { network, a, server } = await setup();
    const client = await connectClient(network);
    await request(client);
    assert.equal(a.connections[0].finished, false, "the first connection is pooled");
    const changed = configText({ upstream: "a" }).replace("  a:\n    peers:", "  a:\n    balancing: random_two\n    peers:");
    const summary = await server.reload(parse(changed));
    assert.deepEqual(summary.upstreams.changed, ["a"]);
    await until(() => a.connections[0].finished);
    assert.equal(await request(client), "a");
    assert.equal(a.connections.length, 2);
    assert.equal(server.snapshot().upstreams.find((entry) => entry.name === "a")!.balancing, "random_two");
    await stop(server);
  });

  test("adds and removes upstreams", async () => {
    const { network, server } = await setup();
    const withC = configText({
      upstream: "c",
      extraUpstreams: `  c:\n    peers:\n      - url: http://127.0.0.1:${PORT_B}\n`,
    });
    let summary = await server.reload(parse(withC));
    assert.deepEqual(summary.upstreams.added, ["c"]);
    const client = await connectClient(network);
    assert.equal(await request(client), "b");
    summary = await server.reload(parse(configText({ upstream: "a" })));
    assert.deepEqual(summary.upstreams.removed, ["c"]);
    assert.deepEqual(server.snapshot().upstreams.map((entry) => entry.name), ["a", "b"]);
    await stop(server);
  });

  test("binds added, drains removed listeners", async () => {
    const { network, server } = await setup();
    const client = await connectClient(network);
    await request(client);
    const moved = configText({ upstream: "a", listeners: "  - address: 127.0.0.1:8090\n    name: moved" });
    const summary = await server.reload(parse(moved));
    assert.deepEqual(summary.listeners, { added: ["moved"], removed: ["listener-0"], kept: [] });
    await until(() => client.finished);
    await assert.rejects(connectClient(network));
    const other = new Peer();
    other.connection = await network.connect({ hostname: "127.0.0.1", port: 8090 }, () => other.handlers());
    assert.equal(await request(other), "a");
    assert.deepEqual(server.listeners.map((entry) => entry.name), ["moved"]);
    await stop(server);
  });

  test("applies new limits, keeps listener socket", async () => {
    const { network, server } = await setup();
    const before = server.listeners[0].listener;
    const client = await connectClient(network);
    await request(client, "/" + "x".repeat(100));
    await server.reload(parse(configText({ upstream: "a" }) + "limits:\n  maxRequestLineBytes: 64\n"));
    assert.equal(server.listeners[0].listener, before);
    const fresh = await connectClient(network);
    fresh.send(`GET /${"x".repeat(100)} HTTP/1.1\r\nHost: p.test\r\n\r\n`);
    await until(() => countResponses(fresh.text) === 1);
    assert.match(fresh.text, /^HTTP\/1\.1 414 /);
    await stop(server);
  });

  test("keeps running config on bind failure", async () => {
    const { network, a, server } = await setup();
    await network.listen({ hostname: "127.0.0.1", port: 8091 }, () => new Peer().handlers());
    const broken = configText({
      upstream: "b",
      listeners: `  - address: 127.0.0.1:${PROXY_PORT}\n  - address: 127.0.0.1:8092\n  - address: 127.0.0.1:8091`,
      extraUpstreams: `  c:\n    peers:\n      - url: http://127.0.0.1:${PORT_A}\n`,
    });
    await assert.rejects(server.reload(parse(broken)), /8091/);
    // The listener bound before the failure is closed again.
    await assert.rejects(network.connect({ hostname: "127.0.0.1", port: 8092 }, () => new Peer().handlers()));
    const client = await connectClient(network);
    assert.equal(await request(client), "a");
    assert.equal(a.requests, 1);
    assert.deepEqual(server.snapshot().upstreams.map((entry) => entry.name), ["a", "b"]);
    assert.equal(server.config.routes[0].upstream, "a");
    await stop(server);
  });

  test("rejects reload after shutdown", async () => {
    const { server } = await setup();
    await stop(server);
    await assert.rejects(server.reload(parse(configText({ upstream: "b" }))), /shutting down/);
  });
});
