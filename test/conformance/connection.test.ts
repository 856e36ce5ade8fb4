// End-to-end conformance of connection management and reuse, and robustness under faults of
// the origin and the client: each case goes through a real Cairn process on every runtime. After
// every fault the proxy must still run, serve the next request on the same upstream group, and
// hold no connection beyond the pooled ones.
import assert from "node:assert/strict";
import { delay, RUNTIMES, waitFor } from "../e2e/harness.ts";
import { header, type RawClient } from "../e2e/raw-client.ts";
import type { OriginConnection } from "../e2e/raw-origin.ts";
import {
  type ConformanceCase,
  defineCases,
  deliver,
  type Delivery,
  ISOLATED_POOL,
  type ProxyFixture,
  SHORT_TIMEOUT_MS,
  SHORT_TIMEOUTS,
} from "./proxy-fixture.ts";
import { OK_RESPONSE, respondWith } from "./scenario-origin.ts";

function get(path: string, fields = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: p.test\r\n${fields}\r\n`;
}

/** Waits until the proxy has closed `connection`, as observed from the origin's side. */
async function assertClosedByProxy(connection: OriginConnection, what: string): Promise<void> {
  assert.ok(
    await waitFor(() => connection.finished),
    `${what}: the proxy closed the upstream connection`,
  );
}

/** Sends `count` bytes of body in 1 KiB writes, `intervalMs` apart, until `stop` returns true. */
async function streamBody(
  client: RawClient,
  count: number,
  intervalMs: number,
  stop: () => boolean,
): Promise<number> {
  const piece = Buffer.alloc(1024, "b");
  let sent = 0;
  while (sent < count && !stop()) {
    const size = Math.min(piece.length, count - sent);
    client.send(piece.subarray(0, size));
    sent += size;
    await delay(intervalMs);
  }
  return sent;
}

/**
 * Empties the isolated pool: the origin closes every connection that served it, and the proxy
 * drops them. Cases that depend on which pooled connection a request takes start with this.
 */
async function resetIsolatedPool(fixture: ProxyFixture): Promise<void> {
  await fixture.origin.closeConnectionsUnder(`${ISOLATED_POOL}/`);
  await fixture.assertNoLeakedConnections();
}

/** Sends one GET on a new client and checks that it gets `200 ok`; warms a pooled connection. */
async function warmPool(
  fixture: ProxyFixture,
  path: string,
  delivery: Delivery,
): Promise<OriginConnection> {
  const client = await fixture.connect();
  await deliver(client, get(path), delivery);
  const response = await client.readResponse();
  assert.equal(response.status, 200, "the warm-up request succeeds");
  client.destroy();
  const [request] = fixture.origin.requestsUnder(path);
  return request.connection;
}

// ---- Connection management and reuse ----

const CONNECTION_CASES: ConformanceCase[] = [
  {
    id: "CM-01",
    name: "pipelined requests answered in order",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        `${prefix}/1`,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr1"),
      );
      fixture.origin.handle(`${prefix}/2`, (request) => {
        request.whenComplete().then(() => delay(200)).then(
          () => request.connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr2"),
          () => {},
        );
      });
      fixture.origin.handle(
        `${prefix}/3`,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nr3"),
      );
      const client = await fixture.connect();
      await deliver(
        client,
        get(`${prefix}/1`) +
          `POST ${prefix}/2 HTTP/1.1\r\nHost: p.test\r\nContent-Length: 3\r\n\r\nabc` +
          get(`${prefix}/3`),
        delivery,
      );
      const bodies: string[] = [];
      for (let i = 0; i < 3; i++) bodies.push((await client.readResponse()).body.toString());
      assert.deepEqual(bodies, ["r1", "r2", "r3"], "responses in request order");
      const received = fixture.origin.requestsUnder(prefix);
      assert.deepEqual(received.map((request) => `${request.method} ${request.target}`), [
        `GET ${prefix}/1`,
        `POST ${prefix}/2`,
        `GET ${prefix}/3`,
      ]);
      assert.deepEqual(received.map((request) => request.body.toString()), ["", "abc", ""]);
    },
  },
  {
    id: "CM-02",
    name: "client close option ends connection",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      await deliver(
        client,
        `POST ${prefix}/a HTTP/1.1\r\nHost: p.test\r\nContent-Length: 4\r\nConnection: close\t\r\n\r\nq=42\r\n` +
          get(`${prefix}/after`),
        delivery,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 200);
      assert.equal(header(response, "connection"), "close");
      assert.ok(await client.waitForClose(), "the proxy closes the client connection");
      assert.equal(client.pending, "", "one response only");
      const received = fixture.origin.requestsUnder(prefix);
      assert.deepEqual(
        received.map((request) => request.target),
        [`${prefix}/a`],
        "the request after close is never forwarded",
      );
      assert.equal(received[0].body.toString(), "q=42");
      assert.equal(
        received[0].header("connection"),
        undefined,
        "the client's close is not forwarded",
      );
    },
  },
  {
    id: "CM-03",
    name: "HTTP/1.0 client not kept alive",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      await deliver(
        client,
        `GET ${prefix}/a HTTP/1.0\r\nHost: p.test\r\nConnection: keep-alive\r\n\r\nGET ${prefix}/b HTTP/1.0\r\nHost: p.test\r\n\r\n`,
        delivery,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 200);
      assert.equal(header(response, "transfer-encoding"), undefined);
      assert.ok(await client.waitForClose(), "the proxy closes the HTTP/1.0 connection");
      assert.equal(client.pending, "");
      assert.deepEqual(fixture.origin.requestsUnder(prefix).map((request) => request.target), [
        `${prefix}/a`,
      ]);
    },
  },
  {
    id: "CM-04 a",
    name: "GET retried after stale connection",
    async run(fixture, delivery) {
      for (const stale of ["close", "reset"] as const) {
        await resetIsolatedPool(fixture);
        const prefix = fixture.prefix(ISOLATED_POOL);
        const warm = await warmPool(fixture, `${prefix}/warm`, delivery);
        fixture.origin.handle(`${prefix}/idem`, (request) => {
          if (request.connection !== warm) return void respondWith(OK_RESPONSE)(request);
          // The origin closed the idle connection just as the request arrived.
          if (stale === "close") request.connection.end();
          else request.connection.reset();
        });
        const client = await fixture.connect();
        await deliver(client, get(`${prefix}/idem`), delivery);
        const response = await client.readResponse();
        assert.equal(response.status, 200, `GET after a stale connection (${stale})`);
        assert.equal(response.body.toString(), "ok");
        const attempts = fixture.origin.requestsUnder(`${prefix}/idem`);
        assert.equal(
          attempts.length,
          2,
          "sent once on the stale connection and once on a fresh one",
        );
        assert.equal(attempts[0].connection, warm);
        assert.equal(attempts[1].indexOnConnection, 0);
      }
    },
  },
  {
    id: "CM-04 b",
    name: "POST not retried after stale connection",
    async run(fixture, delivery) {
      for (const stale of ["close", "reset"] as const) {
        await resetIsolatedPool(fixture);
        const prefix = fixture.prefix(ISOLATED_POOL);
        const warm = await warmPool(fixture, `${prefix}/warm`, delivery);
        fixture.origin.handle(`${prefix}/pay`, (request) => {
          if (request.connection !== warm) return void respondWith(OK_RESPONSE)(request);
          request.whenComplete().then(
            () => (stale === "close" ? request.connection.end() : request.connection.reset()),
            () => {},
          );
        });
        const client = await fixture.connect();
        await deliver(
          client,
          `POST ${prefix}/pay HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\n\r\nhello`,
          delivery,
        );
        const response = await client.readResponse();
        assert.equal(response.status, 502, `POST after a stale connection (${stale})`);
        const attempts = fixture.origin.requestsUnder(`${prefix}/pay`);
        assert.equal(attempts.length, 1, "the POST is never sent twice");
        assert.equal(attempts[0].body.toString(), "hello");
      }
      await fixture.assertRecovered(ISOLATED_POOL);
    },
  },
  {
    id: "CM-04 c",
    name: "origin-closed idle connection evicted",
    async run(fixture, delivery) {
      for (const close of ["close", "reset"] as const) {
        await resetIsolatedPool(fixture);
        const prefix = fixture.prefix(ISOLATED_POOL);
        const warm = await warmPool(fixture, `${prefix}/warm`, delivery);
        if (close === "close") warm.end();
        else warm.reset();
        assert.ok(
          await waitFor(() => fixture.origin.openConnections === 0 || warm.finished),
          "the origin closed its side",
        );
        await fixture.assertNoLeakedConnections();
        const client = await fixture.connect();
        await deliver(
          client,
          `POST ${prefix}/pay HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\n\r\nhello`,
          delivery,
        );
        const response = await client.readResponse();
        assert.equal(
          response.status,
          200,
          `POST after the origin closed the idle connection (${close})`,
        );
        const [pay] = fixture.origin.requestsUnder(`${prefix}/pay`);
        assert.notEqual(pay.connection, warm, "the closed connection is not used");
        assert.equal(fixture.origin.requestsUnder(`${prefix}/pay`).length, 1);
      }
    },
  },
  {
    id: "CM-04 d",
    name: "origin's Connection close respected",
    async run(fixture, delivery) {
      await resetIsolatedPool(fixture);
      const prefix = fixture.prefix(ISOLATED_POOL);
      fixture.origin.handle(
        `${prefix}/a`,
        respondWith("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      const response = await client.readResponse();
      assert.equal(response.status, 200);
      assert.equal(header(response, "connection"), undefined, "the origin's close is hop-by-hop");
      const [a] = fixture.origin.requestsUnder(`${prefix}/a`);
      await assertClosedByProxy(a.connection, "after Connection: close from the origin");
      await deliver(client, get(`${prefix}/b`), delivery);
      assert.equal((await client.readResponse()).status, 200, "the client connection stays usable");
      const [b] = fixture.origin.requestsUnder(`${prefix}/b`);
      assert.notEqual(b.connection, a.connection);
    },
  },
  ...([
    [
      "413 with close",
      "HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
      413,
    ],
    ["403 without close", "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", 403],
  ] as const).map(([what, reply, status]): ConformanceCase => ({
    id: "CM-05",
    name: `early ${what} stops the upload`,
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      let answeredAt = 0;
      let bodyBytesAtAnswer = 0;
      fixture.origin.handle(prefix, (request) => {
        const answer = () => {
          if (answeredAt !== 0 || request.body.length < 10_000) return;
          answeredAt = Date.now();
          bodyBytesAtAnswer = request.body.length;
          request.connection.write(reply);
        };
        request.connection.socket.on("data", answer);
      });
      const client = await fixture.connect();
      await deliver(
        client,
        `POST ${prefix}/big HTTP/1.1\r\nHost: p.test\r\nContent-Length: 1000000\r\n\r\n`,
        delivery,
      );
      const streaming = streamBody(
        client,
        1_000_000,
        5,
        () => client.pending.length > 0 || client.ended,
      );
      const response = await client.readResponse({ timeoutMs: 10_000 });
      const sent = await streaming;
      assert.equal(response.status, status);
      assert.ok(Date.now() - answeredAt < 2_000, "the response arrives promptly");
      assert.equal(
        header(response, "connection"),
        "close",
        "Cairn closes the client connection after the response",
      );
      assert.ok(await client.waitForClose(), "the client connection closes");
      const [request] = fixture.origin.requestsUnder(prefix);
      await assertClosedByProxy(request.connection, "after an early response");
      assert.ok(
        request.body.length < sent || sent < 1_000_000,
        "the upload stopped before the declared length",
      );
      assert.ok(bodyBytesAtAnswer >= 10_000);
      await fixture.assertRecovered();
    },
  })),
  {
    id: "CM-06",
    name: "framing error on reused connection: 400",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/ok`), delivery);
      assert.equal((await client.readResponse()).status, 200);
      await deliver(
        client,
        `GET ${prefix}/bad HTTP/1.1\r\nHost: p.test\r\nContent-Length: 1, 2\r\n\r\n` +
          get(`${prefix}/later`),
        delivery,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 400);
      assert.equal(header(response, "connection"), "close");
      assert.ok(await client.waitForClose(), "the proxy closes the client connection");
      assert.equal(client.pending, "");
      assert.deepEqual(fixture.origin.requestsUnder(prefix).map((request) => request.target), [
        `${prefix}/ok`,
      ]);
    },
  },
  ...(["close", "reset"] as const).map((abort): ConformanceCase => ({
    id: "CM-07",
    name: `client ${abort} mid-upload aborts upstream`,
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, () => {});
      const client = await fixture.connect();
      await deliver(
        client,
        `PUT ${prefix}/f HTTP/1.1\r\nHost: p.test\r\nContent-Length: 100\r\n\r\n0123456789`,
        delivery,
      );
      assert.ok(
        await waitFor(() => fixture.origin.requestsUnder(prefix)[0]?.body.length === 10),
        "the partial body reached the origin",
      );
      if (abort === "close") client.end();
      else client.socket.resetAndDestroy();
      const [request] = fixture.origin.requestsUnder(prefix);
      await assertClosedByProxy(request.connection, `after the client's ${abort}`);
      assert.equal(request.complete, false, "the origin never sees a complete request");
      await fixture.assertRecovered();
    },
  })),
];

// ---- Faults of the origin and the client ----

const FAULT_CASES: ConformanceCase[] = [
  {
    id: "fault",
    name: "origin reset mid-body closes the client",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => {
        request.connection.write(
          `HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n${"x".repeat(1000)}`,
        );
        setTimeout(() => request.connection.reset(), 50);
      });
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      assert.ok(await client.waitForClose(), "the client connection closes");
      const raw = client.pending;
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
      assert.equal(
        raw.length - raw.indexOf("\r\n\r\n") - 4,
        1000,
        "only the bytes the origin sent",
      );
      await fixture.assertRecovered();
    },
  },
  {
    id: "fault",
    name: "origin reset before the head is 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => request.connection.reset());
      const client = await fixture.connect();
      await deliver(
        client,
        `POST ${prefix}/a HTTP/1.1\r\nHost: p.test\r\nContent-Length: 2\r\n\r\nhi`,
        delivery,
      );
      assert.equal((await client.readResponse()).status, 502);
      await fixture.assertRecovered();
    },
  },
  {
    id: "fault",
    name: "silent origin is 504",
    async run(fixture, delivery) {
      const prefix = fixture.prefix(SHORT_TIMEOUTS);
      fixture.origin.handle(`${prefix}/a`, () => {});
      const client = await fixture.connect();
      const started = Date.now();
      await deliver(client, get(`${prefix}/a`), delivery);
      const response = await client.readResponse();
      assert.equal(response.status, 504);
      assert.ok(
        Date.now() - started >= SHORT_TIMEOUT_MS - 50,
        "not before the response-head timeout",
      );
      const [request] = fixture.origin.requestsUnder(prefix);
      await assertClosedByProxy(request.connection, "after the timeout");
      await deliver(client, get(`${prefix}/next`), delivery);
      assert.equal(
        (await client.readResponse()).status,
        200,
        "the client connection survives a 504",
      );
      await fixture.assertRecovered(SHORT_TIMEOUTS);
    },
  },
  {
    id: "fault",
    name: "origin stalled after the head aborts the client",
    async run(fixture, delivery) {
      const prefix = fixture.prefix(SHORT_TIMEOUTS);
      fixture.origin.handle(
        prefix,
        (request) => request.connection.write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n01234"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      assert.ok(await client.waitForClose(), "the client connection closes after the idle timeout");
      const raw = client.pending;
      assert.equal(raw.slice(raw.indexOf("\r\n\r\n") + 4), "01234");
      const [request] = fixture.origin.requestsUnder(prefix);
      await assertClosedByProxy(request.connection, "after the idle timeout");
      await fixture.assertRecovered(SHORT_TIMEOUTS);
    },
  },
  {
    id: "fault",
    name: "garbage from the origin is 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        `${prefix}/a`,
        respondWith("\x00\x01\x02garbage\xff\r\n\r\nmore garbage"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      assert.equal((await client.readResponse()).status, 502);
      const [request] = fixture.origin.requestsUnder(prefix);
      await assertClosedByProxy(request.connection, "after garbage");
      await deliver(client, get(`${prefix}/next`), delivery);
      assert.equal(
        (await client.readResponse()).body.toString(),
        "ok",
        "the client connection survives a 502",
      );
      await fixture.assertRecovered();
    },
  },
  {
    id: "fault",
    name: "garbage on an idle pooled connection",
    async run(fixture, delivery) {
      await resetIsolatedPool(fixture);
      const prefix = fixture.prefix(ISOLATED_POOL);
      const warm = await warmPool(fixture, `${prefix}/warm`, delivery);
      warm.write("\x00garbage\r\n\r\n");
      await assertClosedByProxy(warm, "after bytes on an idle connection");
      await fixture.assertRecovered(ISOLATED_POOL);
    },
  },
  ...(["close", "reset"] as const).map((abort): ConformanceCase => ({
    id: "fault",
    name: `client ${abort} mid-download aborts upstream`,
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      let written = 0;
      fixture.origin.handle(prefix, (request) => {
        const connection = request.connection;
        connection.write("HTTP/1.1 200 OK\r\nContent-Length: 100000000\r\n\r\n");
        const block = Buffer.alloc(64 * 1024, "d");
        const pump = () => {
          // Bounded: stops at the declared length or when the proxy closes the connection.
          while (!connection.finished && !connection.socket.destroyed && written < 100_000_000) {
            written += block.length;
            if (!connection.socket.write(block)) {
              connection.socket.once("drain", pump);
              return;
            }
          }
        };
        pump();
      });
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      assert.ok(await waitFor(() => client.pending.length > 100_000), "the download started");
      if (abort === "close") client.destroy();
      else client.socket.resetAndDestroy();
      const [request] = fixture.origin.requestsUnder(prefix);
      await assertClosedByProxy(request.connection, `after the client's ${abort}`);
      assert.ok(written < 100_000_000, "the origin stopped before the whole body");
      await fixture.assertRecovered();
    },
  })),
];

defineCases("connection conformance", RUNTIMES, {
  "connection management": CONNECTION_CASES,
  "faults": FAULT_CASES,
});
