import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import WebSocket, { WebSocketServer } from "ws";
import { RUNTIMES, startProxy, waitFor } from "./harness.ts";
import { header, RawClient } from "./raw-client.ts";
import { ScriptedOrigin } from "./raw-origin.ts";

describe("upgrades", () => {
  let server: WebSocketServer;
  let port = 0;

  before(async () => {
    server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    server.on("connection", (socket) => {
      socket.on("message", (data, isBinary) => socket.send(data, { binary: isBinary }));
    });
    await new Promise<void>((resolve) => server.once("listening", () => resolve()));
    port = (server.address() as { port: number }).port;
  });

  after(() => {
    for (const client of server.clients) client.terminate();
    server.close();
  });

  for (const runtime of RUNTIMES) {
    test(`WebSocket echo through the proxy on ${runtime}`, async () => {
      const proxy = await startProxy(runtime, ["--listen", "127.0.0.1:0", "--upstream", `http://127.0.0.1:${port}`]);
      try {
        const socket = new WebSocket(`ws://127.0.0.1:${proxy.port}/echo`);
        const received: string[] = [];
        socket.on("message", (data) => received.push(data.toString()));
        await new Promise<void>((resolve, reject) => {
          socket.once("open", () => resolve());
          socket.once("error", reject);
        });
        const big = "x".repeat(200_000);
        for (const message of ["hello", "through", "cairn", big]) socket.send(message);
        assert.ok(await waitFor(() => received.length === 4, 10_000), `received ${received.length} of 4 messages`);
        assert.deepEqual(received.slice(0, 3), ["hello", "through", "cairn"]);
        assert.equal(received[3], big);
        const closed = new Promise<number>((resolve) => socket.once("close", (code) => resolve(code)));
        socket.close(1000, "done");
        assert.equal(await closed, 1000);
        assert.ok(await waitFor(() => proxy.accessRecords().some((record) => record.status === 101)));
      } finally {
        await proxy.stop("SIGKILL");
      }
    });

    test(`tunnel carries half-closes on ${runtime}`, async () => {
      const origin = await ScriptedOrigin.start((connection) => {
        connection.waitForHeads(1).then(() => {
          connection.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: upgrade\r\nContent-Length: 3\r\n\r\nbody");
        }, () => {});
      });
      const proxy = await startProxy(runtime, ["--listen", "127.0.0.1:0", "--upstream", `http://127.0.0.1:${origin.port}`]);
      try {
        const client = await RawClient.connect(proxy.port);
        client.send("GET /t HTTP/1.1\r\nHost: p.test\r\nConnection: keep-alive, Upgrade\r\nUpgrade: echo\r\n\r\nearly");
        const response = await client.readResponse({ requestMethod: "HEAD" });
        assert.equal(response.status, 101);
        assert.equal(header(response, "upgrade"), "echo");
        assert.equal(header(response, "content-length"), undefined, "Content-Length of a 101 is not relayed");
        assert.ok(await waitFor(() => client.pending === "body"), `client got ${JSON.stringify(client.pending)}`);
        const upstream = origin.connections[0];
        assert.match(upstream.text, /\r\nConnection: upgrade\r\nUpgrade: echo\r\n/);
        assert.doesNotMatch(upstream.text, /keep-alive/i);
        await upstream.waitForText("\r\n\r\nearly");
        client.send("more");
        client.end();
        await upstream.waitUntil((connection) => connection.ended && connection.text.endsWith("earlymore"));
        upstream.write(" after half-close");
        assert.ok(await waitFor(() => client.pending === "body after half-close"), "origin can still write after the client's FIN");
        upstream.end();
        assert.ok(await client.waitForClose(), "the client connection closes after both FINs");
      } finally {
        await proxy.stop("SIGKILL");
        await origin.close();
      }
    });

    test(`refuses a switch to an unrequested protocol on ${runtime}`, async () => {
      const origin = await ScriptedOrigin.start((connection) => {
        connection.waitForHeads(1).then(() => {
          connection.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: upgrade\r\n\r\n");
        }, () => {});
      });
      const proxy = await startProxy(runtime, ["--listen", "127.0.0.1:0", "--upstream", `http://127.0.0.1:${origin.port}`]);
      try {
        const client = await RawClient.connect(proxy.port);
        client.send("GET /t HTTP/1.1\r\nHost: p.test\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n");
        const response = await client.readResponse();
        assert.equal(response.status, 502);
        assert.ok(await waitFor(() => origin.connections[0].finished), "the upstream connection is closed");
      } finally {
        await proxy.stop("SIGKILL");
        await origin.close();
      }
    });
  }
});
