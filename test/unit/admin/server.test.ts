import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAdminApp } from "../../../src/admin/app.ts";
import { MetricsCollector } from "../../../src/admin/metrics.ts";
import { type AdminServer, startAdminServer } from "../../../src/admin/server.ts";
import { parseConfigText } from "../../../src/config/load.ts";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import { fanOutEvents } from "../../../src/proxy/fan-out-events.ts";
import { ProxyServer } from "../../../src/proxy/server.ts";
import { connectClient, OK, Peer, RecordingEvents, until } from "../proxy/memory-fixture.ts";

const ORIGIN_PORT = 9000;
const ADMIN_PORT = 9901;
const latin1 = new TextDecoder("latin1");

interface Setup {
  network: MemoryNetwork;
  proxy: ProxyServer;
  admin: AdminServer;
  /** Requests the origin received so far. */
  originRequests: () => number;
}

async function setup(options: { adminHost?: string; token?: string } = {}): Promise<Setup> {
  const network = new MemoryNetwork();
  let originRequests = 0;
  await network.listen({ hostname: "127.0.0.1", port: ORIGIN_PORT }, (connection) => {
    const origin = new Peer();
    origin.connection = connection;
    origin.onData = () => {
      if (origin.text.endsWith("\r\n\r\n")) {
        originRequests++;
        origin.text = "";
        origin.send(OK);
      }
    };
    return origin.handlers();
  });
  const loaded = parseConfigText(
    `
listeners:
  - address: 127.0.0.1:8080
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:${ORIGIN_PORT}
routes:
  - name: web
    upstream: app
`,
    "test.yaml",
  );
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const metrics = new MetricsCollector();
  const proxy = await ProxyServer.start(loaded.config, {
    network,
    events: fanOutEvents(new RecordingEvents(), metrics),
    readTextFile: () => Promise.reject(new Error("no files")),
  });
  const app = createAdminApp({ view: proxy, metrics, token: options.token });
  const admin = await startAdminServer(
    network,
    { hostname: options.adminHost ?? "127.0.0.1", port: ADMIN_PORT },
    (request) => app.fetch(request),
  );
  return { network, proxy, admin, originRequests: () => originRequests };
}

interface RawResponse {
  status: number;
  headers: Map<string, string>;
  body: string;
}

/** Sends one request with `Connection: close` to the admin port and reads the whole response. */
async function request(
  network: MemoryNetwork,
  path: string,
  extraFields = "",
): Promise<RawResponse> {
  const client = new Peer();
  client.connection = await network.connect(
    { hostname: "127.0.0.1", port: ADMIN_PORT },
    () => client.handlers(),
  );
  client.send(
    `GET ${path} HTTP/1.1\r\nHost: admin.test\r\nConnection: close\r\n${extraFields}\r\n`,
  );
  await until(() => client.finished);
  return parseResponse(client.text);
}

function parseResponse(text: string): RawResponse {
  const headEnd = text.indexOf("\r\n\r\n");
  assert.notEqual(headEnd, -1, `no complete response head in ${JSON.stringify(text)}`);
  const [statusLine, ...fieldLines] = text.slice(0, headEnd).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of fieldLines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  const body = text.slice(headEnd + 4);
  assert.equal(Number(headers.get("content-length")), new TextEncoder().encode(body).length);
  return { status: Number(statusLine.split(" ")[1]), headers, body };
}

async function teardown({ proxy, admin }: Setup): Promise<void> {
  await proxy.shutdown(0);
  await admin.close();
}

describe("admin server over the memory network", () => {
  test("healthz returns ok", async () => {
    const context = await setup();
    try {
      const response = await request(context.network, "/healthz");
      assert.equal(response.status, 200);
      assert.equal(response.body, "ok\n");
      assert.equal(response.headers.get("connection"), "close");
    } finally {
      await teardown(context);
    }
  });

  test("status lists listeners and upstreams", async () => {
    const context = await setup();
    try {
      const response = await request(context.network, "/status");
      assert.equal(response.status, 200);
      const body = JSON.parse(response.body);
      assert.deepEqual(body.listeners, [{ name: "listener-0", address: "127.0.0.1:8080" }]);
      assert.deepEqual(body.routes, [{ name: "web", upstream: "app" }]);
      assert.equal(body.upstreams.length, 1);
      assert.equal(body.upstreams[0].name, "app");
      assert.equal(body.upstreams[0].peers[0].peer, `http://127.0.0.1:${ORIGIN_PORT}`);
      assert.equal(body.upstreams[0].peers[0].health.available, true);
      assert.equal(typeof body.upstreams[0].pool.idle, "number");
    } finally {
      await teardown(context);
    }
  });

  test("metrics count a proxied request", async () => {
    const context = await setup();
    try {
      const client = await connectClient(context.network);
      client.send("GET /a HTTP/1.1\r\nHost: p.test\r\n\r\n");
      await until(() => client.text.endsWith("ok"));
      // The access event fires once the response is complete; wait for the counter.
      let metrics = "";
      const deadline = Date.now() + 2_000;
      while (!metrics.includes('cairn_requests_total{route="web",code_class="2xx"} 1\n')) {
        assert.ok(Date.now() < deadline, `request not counted in time:\n${metrics}`);
        metrics = (await request(context.network, "/metrics")).body;
      }
      assert.ok(metrics.includes("cairn_bytes_sent_total 2\n"));
      assert.ok(metrics.includes('cairn_pool_connections{upstream="app",state="idle"} 1\n'));
      assert.ok(metrics.includes("cairn_open_connections 1\n"));
      client.connection.end();
    } finally {
      await teardown(context);
    }
  });

  test("keep-alive answers pipelined requests in order", async () => {
    const context = await setup();
    try {
      const client = new Peer();
      client.connection = await context.network.connect(
        { hostname: "127.0.0.1", port: ADMIN_PORT },
        () => client.handlers(),
      );
      client.send(
        "GET /healthz HTTP/1.1\r\nHost: a\r\n\r\nGET /readyz HTTP/1.1\r\nHost: a\r\n\r\nGET /nope HTTP/1.1\r\nHost: a\r\n\r\n",
      );
      await until(() => client.text.includes("Not Found\n"));
      const statuses = [...client.text.matchAll(/^HTTP\/1\.1 (\d+)/gm)].map((match) => match[1]);
      assert.deepEqual(statuses, ["200", "200", "404"]);
      assert.ok(client.text.indexOf("ok\n") < client.text.indexOf("ready\n"));
      assert.equal(client.finished, false);
      client.connection.end();
    } finally {
      await teardown(context);
    }
  });

  test("readyz returns 503 during shutdown", async () => {
    const context = await setup();
    try {
      // An open client connection with a request in flight keeps the drain going.
      const client = await connectClient(context.network);
      client.send("GET /slow HTTP/1.1\r\nHost: p.test\r\n");
      await new Promise((resolve) => setTimeout(resolve, 5));
      assert.equal((await request(context.network, "/readyz")).status, 200);
      const stopped = context.proxy.shutdown(200);
      const during = await request(context.network, "/readyz");
      assert.equal(during.status, 503);
      assert.equal(during.body, "draining\n");
      assert.equal((await request(context.network, "/healthz")).status, 200);
      await stopped;
    } finally {
      await teardown(context);
    }
  });

  test("token required on any address", async () => {
    const context = await setup({ adminHost: "0.0.0.0", token: "s3cret" });
    try {
      const missing = await request(context.network, "/status");
      assert.equal(missing.status, 401);
      assert.ok(!missing.body.includes("listeners"));
      const right = await request(context.network, "/status", "Authorization: Bearer s3cret\r\n");
      assert.equal(right.status, 200);
    } finally {
      await teardown(context);
    }
  });

  test("malformed request gets 400 and close", async () => {
    const context = await setup();
    try {
      const client = new Peer();
      client.connection = await context.network.connect(
        { hostname: "127.0.0.1", port: ADMIN_PORT },
        () => client.handlers(),
      );
      client.send("GET /healthz HTTP/1.1\r\nBad Field\r\n\r\n");
      await until(() => client.finished);
      assert.match(latin1.decode(new TextEncoder().encode(client.text)), /^HTTP\/1\.1 400 /);
      assert.match(client.text, /\r\nConnection: close\r\n/);
    } finally {
      await teardown(context);
    }
  });

  test("close ends open connections", async () => {
    const context = await setup();
    const client = new Peer();
    client.connection = await context.network.connect(
      { hostname: "127.0.0.1", port: ADMIN_PORT },
      () => client.handlers(),
    );
    client.send("GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n");
    await until(() => client.text.endsWith("ok\n"));
    await teardown(context);
    await until(() => client.finished);
    client.connection.end();
  });
});
