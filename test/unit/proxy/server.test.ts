import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfigText } from "../../../src/config/load.ts";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import { ProxyServer } from "../../../src/proxy/server.ts";
import {
  connectClient,
  countRequests,
  countResponses,
  OK,
  Peer,
  PROXY_PORT,
  RecordingEvents,
  until,
} from "./memory-fixture.ts";

const ORIGIN_PORT = 9000;

interface Setup {
  network: MemoryNetwork;
  server: ProxyServer;
  events: RecordingEvents;
  origins: Peer[];
  /** Called for each origin connection as it opens. */
  script: { onOrigin: (origin: Peer) => void };
}

async function setup(extraUpstream = "", extraLogging = ""): Promise<Setup> {
  const network = new MemoryNetwork();
  const origins: Peer[] = [];
  const script = { onOrigin: (_origin: Peer) => {} };
  await network.listen({ hostname: "127.0.0.1", port: ORIGIN_PORT }, (connection) => {
    const origin = new Peer();
    origin.connection = connection;
    origins.push(origin);
    script.onOrigin(origin);
    return origin.handlers();
  });
  const loaded = parseConfigText(
    `
listeners:
  - address: 127.0.0.1:${PROXY_PORT}
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:${ORIGIN_PORT}
${extraUpstream}
routes:
  - upstream: app
logging:
  access: true
${extraLogging}`,
    "test.yaml",
  );
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  const events = new RecordingEvents();
  const server = await ProxyServer.start(loaded.config, {
    network,
    events,
    readTextFile: () => Promise.reject(new Error("no files")),
  });
  return { network, server, events, origins, script };
}

describe("ProxyServer over the memory network", () => {
  test("does not reuse a connection with bytes after the response", async () => {
    const { network, server, origins, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => {
        if (origin.text.endsWith("\r\n\r\n")) origin.send("HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil");
      };
    };
    const client = await connectClient(network);
    client.send("GET /a HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => countResponses(client.text) === 1);
    await until(() => origins[0].finished);
    script.onOrigin = (origin) => {
      origin.onData = () => origin.send(OK);
    };
    client.send("GET /b HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => countResponses(client.text) === 2);
    assert.match(client.text, /^HTTP\/1\.1 204 No Content\r\n/);
    assert.doesNotMatch(client.text, /evil/);
    assert.equal(origins.length, 2, "the second request used a new connection");
    await server.shutdown(100);
  });

  test("retries an idempotent request after a stale pooled connection", async () => {
    const { network, server, origins, script } = await setup();
    let connectionCount = 0;
    script.onOrigin = (origin) => {
      const index = connectionCount++;
      origin.onData = () => {
        if (!origin.text.endsWith("\r\n\r\n")) return;
        // The first connection answers once, then drops the next request without a byte.
        if (index === 0 && countRequests(origin.text) === 2) origin.connection.destroy();
        else origin.send(OK);
      };
    };
    const client = await connectClient(network);
    client.send("GET /1 HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => countResponses(client.text) === 1);
    client.send("GET /2 HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => countResponses(client.text) === 2);
    assert.equal(countOf(client.text, "HTTP/1.1 200 OK"), 2);
    assert.equal(origins.length, 2);
    await server.shutdown(100);
  });

  test("does not retry a POST", async () => {
    const { network, server, origins, script } = await setup();
    let connectionCount = 0;
    script.onOrigin = (origin) => {
      const index = connectionCount++;
      origin.onData = () => {
        if (index === 0 && origin.text.includes("POST")) origin.connection.destroy();
        else if (origin.text.endsWith("\r\n\r\n")) origin.send(OK);
      };
    };
    const client = await connectClient(network);
    client.send("GET /1 HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => countResponses(client.text) === 1);
    client.send("POST /pay HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\n\r\nhello");
    await until(() => countResponses(client.text) === 2);
    assert.match(client.text, /HTTP\/1\.1 502 Bad Gateway/);
    assert.equal(origins.length, 1, "no second connection was opened for the POST");
    await server.shutdown(100);
  });

  test("stops relaying a body after an early response", async () => {
    const { network, server, origins, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => {
        if (origin.text.length > 1_000 && !origin.text.includes("answered")) {
          origin.text += "answered";
          origin.send("HTTP/1.1 413 Content Too Large\r\nContent-Length: 0\r\n\r\n");
        }
      };
    };
    const client = await connectClient(network);
    client.send("POST /big HTTP/1.1\r\nHost: p.test\r\nContent-Length: 1000000\r\n\r\n");
    client.send("x".repeat(10_000));
    await until(() => countResponses(client.text) === 1);
    assert.match(client.text, /^HTTP\/1\.1 413 /);
    assert.match(client.text, /\r\nConnection: close\r\n/);
    await until(() => client.finished);
    await until(() => origins[0].finished);
    await server.shutdown(100);
  });

  test("aborts upstream when the client leaves mid-body", async () => {
    const { network, server, events, origins, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => {
        if (origin.text.startsWith("GET") && origin.text.endsWith("\r\n\r\n")) origin.send(OK);
      };
    };
    const client = await connectClient(network);
    client.send("PUT /f HTTP/1.1\r\nHost: p.test\r\nContent-Length: 100\r\n\r\n0123456789");
    await until(() => origins.length === 1 && origins[0].text.endsWith("0123456789"));
    client.connection.destroy();
    await until(() => origins[0].finished);
    assert.equal(server.groups.get("app")!.pool.stats().idle, 0);
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].status, 499);
    const next = await connectClient(network);
    next.send("GET /after HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => countResponses(next.text) === 1);
    assert.match(next.text, /^HTTP\/1\.1 200 OK/);
    await server.shutdown(100);
  });

  test("closes the client when the origin truncates the body", async () => {
    const { network, server, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => {
        origin.send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01234");
        origin.connection.end();
      };
    };
    const client = await connectClient(network);
    client.send("GET / HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => client.finished);
    assert.match(client.text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(!client.text.endsWith("0\r\n\r\n"), "no terminating chunk");
    await server.shutdown(100);
  });

  test("aborts upstream on a bad chunk after streaming began", async () => {
    const { network, server, origins } = await setup();
    const client = await connectClient(network);
    client.send("POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n");
    await until(() => origins.length === 1 && origins[0].text.endsWith("3\r\nabc\r\n"));
    client.send("0x5\r\nhello\r\n0\r\n\r\n");
    await until(() => countResponses(client.text) === 1);
    assert.match(client.text, /^HTTP\/1\.1 400 /);
    await until(() => origins[0].finished);
    assert.ok(!origins[0].text.includes("0\r\n\r\n"), "the upstream request was not completed");
    await until(() => client.finished);
    await server.shutdown(100);
  });

  test("answers 408 when the request head stalls", async () => {
    const network = new MemoryNetwork();
    const loaded = parseConfigText(
      `
listeners:
  - address: 127.0.0.1:${PROXY_PORT}
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:${ORIGIN_PORT}
routes:
  - upstream: app
limits:
  headerTimeout: 50ms
`,
      "test.yaml",
    );
    assert.ok(loaded.ok);
    const server = await ProxyServer.start(loaded.config, {
      network,
      events: new RecordingEvents(),
      readTextFile: () => Promise.reject(new Error("no files")),
    });
    const client = await connectClient(network);
    client.send("GET / HTTP/1.1\r\nHost: p.test\r\n");
    await until(() => client.finished, 1_000);
    assert.match(client.text, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    await server.shutdown(100);
  });

  test("logs a rejected request head", async () => {
    const { network, server, events } = await setup();
    const client = await connectClient(network);
    client.send("GET / HTTP/1.1\nHost: p.test\n\n");
    await until(() => client.finished);
    assert.match(client.text, /^HTTP\/1\.1 400 Bad Request\r\n/);
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].status, 400);
    assert.equal(events.records[0].error, "BARE_LF");
    await server.shutdown(100);
  });

  test("passes a valid X-Request-Id upstream", async () => {
    const { network, server, events, origins, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => {
        if (origin.text.endsWith("\r\n\r\n")) origin.send(OK);
      };
    };
    const client = await connectClient(network);
    client.send("GET / HTTP/1.1\r\nHost: p.test\r\nX-Request-Id: abc-123_4\r\n\r\n");
    await until(() => countResponses(client.text) === 1);
    assert.equal(origins[0].text.match(/x-request-id:/gi)?.length, 1);
    assert.match(origins[0].text, /\r\nX-Request-Id: abc-123_4\r\n/);
    await until(() => events.records.length === 1);
    assert.equal(events.records[0].requestId, "abc-123_4");
    assert.doesNotMatch(client.text, /X-Request-Id/i, "echoRequestId is off by default");
    await server.shutdown(100);
  });

  test("replaces an invalid X-Request-Id", async () => {
    const { network, server, events, origins, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => {
        if (origin.text.endsWith("\r\n\r\n")) origin.send(OK);
      };
    };
    const client = await connectClient(network);
    client.send(`GET / HTTP/1.1\r\nHost: p.test\r\nX-Request-Id: has "quotes"\r\n\r\n`);
    await until(() => countResponses(client.text) === 1);
    await until(() => events.records.length === 1);
    const requestId = events.records[0].requestId;
    assert.match(requestId, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(origins[0].text.match(/x-request-id:/gi)?.length, 1);
    assert.ok(origins[0].text.includes(`\r\nX-Request-Id: ${requestId}\r\n`));
    assert.doesNotMatch(origins[0].text, /quotes/);
    await server.shutdown(100);
  });

  test("generates an X-Request-Id when missing", async () => {
    const { network, server, events, origins, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => {
        if (origin.text.endsWith("\r\n\r\n")) origin.send(OK);
      };
    };
    const client = await connectClient(network);
    client.send("GET / HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => countResponses(client.text) === 1);
    await until(() => events.records.length === 1);
    const requestId = events.records[0].requestId;
    assert.ok(origins[0].text.includes(`\r\nX-Request-Id: ${requestId}\r\n`));
    await server.shutdown(100);
  });

  test("echoes X-Request-Id when configured", async () => {
    const { network, server, script } = await setup("", "  echoRequestId: true\n");
    script.onOrigin = (origin) => {
      origin.onData = () => {
        if (origin.text.endsWith("\r\n\r\n")) {
          origin.send("HTTP/1.1 200 OK\r\nX-Request-Id: from-origin\r\nContent-Length: 2\r\n\r\nok");
        }
      };
    };
    const client = await connectClient(network);
    client.send("GET / HTTP/1.1\r\nHost: p.test\r\nX-Request-Id: echo-me\r\n\r\n");
    await until(() => countResponses(client.text) === 1);
    assert.equal(client.text.match(/x-request-id:/gi)?.length, 1);
    assert.match(client.text, /\r\nX-Request-Id: echo-me\r\n/);
    // Cairn itself responds to OPTIONS with Max-Forwards 0, without the origin.
    client.send("OPTIONS / HTTP/1.1\r\nHost: p.test\r\nX-Request-Id: local-1\r\nMax-Forwards: 0\r\n\r\n");
    await until(() => countResponses(client.text) === 2);
    assert.match(client.text, /\r\nX-Request-Id: local-1\r\n/);
    await server.shutdown(100);
  });

  test("records the request line, Referer and User-Agent", async () => {
    const { network, server, events, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => {
        if (origin.text.endsWith("\r\n\r\n")) origin.send(OK);
      };
    };
    const client = await connectClient(network);
    client.send("GET /page HTTP/1.0\r\nHost: p.test\r\nReferer: http://r.test/\r\nUser-Agent: probe/1.0\r\n\r\n");
    await until(() => events.records.length === 1);
    const record = events.records[0];
    assert.equal(record.httpVersion, "HTTP/1.0");
    assert.equal(record.referer, "http://r.test/");
    assert.equal(record.userAgent, "probe/1.0");
    await server.shutdown(100);
  });

  test("tells the client nothing about the upstream address", async () => {
    const network = new MemoryNetwork();
    const loaded = parseConfigText(
      `
listeners:
  - address: 127.0.0.1:${PROXY_PORT}
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:9001
routes:
  - upstream: app
`,
      "test.yaml",
    );
    assert.ok(loaded.ok);
    const events = new RecordingEvents();
    const server = await ProxyServer.start(loaded.config, {
      network,
      events,
      readTextFile: () => Promise.reject(new Error("no files")),
    });
    const client = await connectClient(network);
    client.send("GET / HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await until(() => countResponses(client.text) === 1);
    assert.match(client.text, /^HTTP\/1\.1 502 Bad Gateway\r\n/);
    assert.doesNotMatch(client.text, /127\.0\.0\.1|9000|ECONNREFUSED/);
    assert.match(events.errors[0].message, /127\.0\.0\.1:9001 failed \(ECONNREFUSED\)/);
    await server.shutdown(100);
  });

  test("shutdown waits for the exchange in flight", async () => {
    const { network, server, script } = await setup();
    script.onOrigin = (origin) => {
      origin.onData = () => setTimeout(() => origin.send(OK), 50);
    };
    const client = await connectClient(network);
    client.send("GET / HTTP/1.1\r\nHost: p.test\r\n\r\n");
    await new Promise((resolve) => setTimeout(resolve, 10));
    const aborted = await server.shutdown(1_000);
    assert.equal(aborted, 0);
    assert.match(client.text, /^HTTP\/1\.1 200 OK\r\n[^]*Connection: close\r\n/);
    await assert.rejects(connectClient(network), "the listener no longer accepts");
  });
});

function countOf(text: string, part: string): number {
  return text.split(part).length - 1;
}


