// End-to-end conformance of forwarding fields, origin responses, interim responses and
// upgrades: each case goes through a real Cairn process on every runtime, with checks on the
// bytes the client receives and the bytes the origin receives.
import assert from "node:assert/strict";
import { RUNTIMES, waitFor } from "../e2e/harness.ts";
import { header, headerValues, type RawClient, type RawResponse } from "../e2e/raw-client.ts";
import {
  type ConformanceCase,
  defineCases,
  deliver,
  type ProxyFixture,
  SHORT_TIMEOUTS,
} from "./proxy-fixture.ts";
import {
  OK_RESPONSE,
  type OriginRequest,
  respondAndClose,
  respondWith,
} from "./scenario-origin.ts";

/** IMF-fixdate of RFC 9110 §5.6.7. */
const IMF_FIXDATE =
  /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

function get(path: string, fields = ""): string {
  return `GET ${path} HTTP/1.1\r\nHost: p.test\r\n${fields}\r\n`;
}

/** Registers `handler` for `prefix/a`, sends a GET for `prefix/a` and reads the response. */
async function fetchReply(
  fixture: ProxyFixture,
  delivery: Parameters<ConformanceCase["run"]>[1],
  prefix: string,
  handler: (request: OriginRequest) => void,
): Promise<{ client: RawClient; response: RawResponse }> {
  fixture.origin.handle(`${prefix}/a`, handler);
  const client = await fixture.connect();
  await deliver(client, get(`${prefix}/a`), delivery);
  const response = await client.readResponse();
  return { client, response };
}

/** Waits until every origin connection that carried a request under `prefix` is closed. */
async function assertUpstreamClosed(fixture: ProxyFixture, prefix: string): Promise<void> {
  const connections = fixture.origin.connectionsUnder(prefix);
  assert.ok(connections.length > 0, `a request under ${prefix} reached the origin`);
  assert.ok(
    await waitFor(() => connections.every((connection) => connection.finished)),
    "the proxy closed the upstream connection",
  );
}

/** Asserts a 502 to the client and a closed upstream connection. */
async function assertBadGateway(
  fixture: ProxyFixture,
  prefix: string,
  response: RawResponse,
): Promise<void> {
  assert.equal(
    response.status,
    502,
    `status for an invalid origin response (body ${JSON.stringify(response.body.toString())})`,
  );
  await assertUpstreamClosed(fixture, prefix);
}

/** Number of framing fields (Content-Length and Transfer-Encoding) in a response head. */
function framingFieldCount(response: RawResponse): number {
  return headerValues(response, "content-length").length +
    headerValues(response, "transfer-encoding").length;
}

/**
 * Splits bytes a client read until close into the head and the data of the chunks that
 * arrived whole. `lastChunk` is true when the terminating `0\r\n\r\n` arrived.
 */
function readTruncatedChunked(raw: string): { head: string; data: string; lastChunk: boolean } {
  const headEnd = raw.indexOf("\r\n\r\n") + 4;
  let position = headEnd;
  let data = "";
  for (;;) {
    const lineEnd = raw.indexOf("\r\n", position);
    if (lineEnd === -1) return { head: raw.slice(0, headEnd), data, lastChunk: false };
    const size = parseInt(raw.slice(position, lineEnd), 16);
    if (size === 0) {
      return { head: raw.slice(0, headEnd), data, lastChunk: raw.startsWith("\r\n", lineEnd + 2) };
    }
    if (raw.length < lineEnd + 2 + size + 2) {
      return { head: raw.slice(0, headEnd), data, lastChunk: false };
    }
    data += raw.slice(lineEnd + 2, lineEnd + 2 + size);
    position = lineEnd + 4 + size;
  }
}

// ---- Hop-by-hop and forwarding fields ----

const FORWARDING_CASES: ConformanceCase[] = [
  {
    id: "HB-01",
    name: "Connection-nominated fields removed both ways",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        prefix,
        respondWith(
          "HTTP/1.1 200 OK\r\nConnection: X-R\r\nX-R: s\r\nX-Keep: k\r\nContent-Length: 2\r\n\r\nok",
        ),
      );
      const client = await fixture.connect();
      await deliver(
        client,
        get(
          `${prefix}/a`,
          "Connection: keep-alive, X-Hop ,, x-other\r\nX-Hop: 1\r\nX-Other: 2\r\nX-End: 3\r\n",
        ),
        delivery,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 200);
      const [received] = fixture.origin.requestsUnder(prefix);
      assert.equal(
        received.header("connection"),
        undefined,
        "the client's Connection is not forwarded",
      );
      assert.equal(received.header("x-hop"), undefined, "a field the client nominated is removed");
      assert.equal(received.header("x-other"), undefined, "nominated names match without case");
      assert.equal(received.header("x-end"), "3");
      assert.equal(header(response, "x-r"), undefined, "a field the origin nominated is removed");
      assert.equal(
        header(response, "connection"),
        undefined,
        "the origin's Connection is not relayed",
      );
      assert.equal(header(response, "x-keep"), "k");
    },
  },
  {
    id: "HB-02",
    name: "fixed hop-by-hop fields removed both ways",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        prefix,
        respondWith(
          "HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nKeep-Alive: timeout=9\r\nProxy-Connection: keep-alive\r\n" +
            "Transfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        ),
      );
      const client = await fixture.connect();
      await deliver(
        client,
        get(
          `${prefix}/a`,
          "Keep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nTE: trailers, deflate\r\nUpgrade: h2c\r\nConnection: close\r\n",
        ),
        delivery,
      );
      const response = await client.readResponse();
      const [received] = fixture.origin.requestsUnder(prefix);
      for (const name of ["keep-alive", "proxy-connection", "te", "upgrade", "connection"]) {
        assert.equal(received.header(name), undefined, `${name} is not forwarded to the origin`);
      }
      assert.equal(
        header(response, "keep-alive"),
        undefined,
        "the origin's Keep-Alive is not relayed",
      );
      assert.equal(
        header(response, "proxy-connection"),
        undefined,
        "the origin's Proxy-Connection is not relayed",
      );
      assert.equal(
        header(response, "connection"),
        "close",
        "Cairn states that it closes the connection",
      );
      assert.equal(framingFieldCount(response), 1, "one framing field toward the client");
      assert.equal(header(response, "transfer-encoding"), "chunked");
      assert.equal(response.body.toString(), "ok");
      assert.ok(await client.waitForClose(), "the client connection closes after the response");
    },
  },
  {
    id: "HB-05 a",
    name: "Via appended to inbound requests",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`, "Via: 1.0 fred\r\n"), delivery);
      assert.equal((await client.readResponse()).status, 200);
      const [received] = fixture.origin.requestsUnder(prefix);
      assert.deepEqual(received.headerValues("via"), ["1.0 fred, 1.1 cairn"]);
    },
  },
  {
    id: "HB-05 b",
    name: "OPTIONS Max-Forwards 0 answered locally",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      await deliver(
        client,
        `OPTIONS ${prefix}/a HTTP/1.1\r\nHost: p.test\r\nMax-Forwards: 0\r\n\r\n`,
        delivery,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 200);
      assert.match(header(response, "date") ?? "", IMF_FIXDATE);
      await deliver(client, get(`${prefix}/next`), delivery);
      const next = await client.readResponse();
      assert.equal(
        next.body.toString(),
        "ok",
        "the connection stays usable after the local answer",
      );
      assert.deepEqual(fixture.origin.requestsUnder(prefix).map((request) => request.target), [
        `${prefix}/next`,
      ]);
    },
  },
  {
    id: "HB-05 c",
    name: "Max-Forwards of OPTIONS decremented",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      const values: [string, string][] = [
        ["012", "11"],
        ["1", "0"],
        ["10", "9"],
        ["940", "939"],
        ["123456789012345678901", "123456789012345678900"],
      ];
      for (const [index, [sent]] of values.entries()) {
        await deliver(
          client,
          `OPTIONS ${prefix}/${index} HTTP/1.1\r\nHost: p.test\r\nMax-Forwards: ${sent}\r\n\r\n`,
          delivery,
        );
        assert.equal((await client.readResponse()).status, 200);
      }
      const received = fixture.origin.requestsUnder(prefix);
      assert.deepEqual(
        received.map((request) => request.headerValues("max-forwards")),
        values.map(([, forwarded]) => [forwarded]),
      );
    },
  },
  {
    id: "HB-05 c",
    name: "invalid Max-Forwards of OPTIONS rejected",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      for (const value of ["-1", "1a", "1, 2", ""]) {
        const client = await fixture.connect();
        await deliver(
          client,
          `OPTIONS ${prefix}/a HTTP/1.1\r\nHost: p.test\r\nMax-Forwards: ${value}\r\n\r\n`,
          delivery,
        );
        const response = await client.readResponse();
        assert.equal(response.status, 400, `status for Max-Forwards ${JSON.stringify(value)}`);
        assert.ok(await client.waitForClose(), "the connection closes after the 400");
      }
      assert.equal(fixture.origin.requestsUnder(prefix).length, 0, "nothing reached the origin");
    },
  },
  {
    id: "HB-05 d",
    name: "Max-Forwards of GET forwarded unchanged",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`, "Max-Forwards: 0\r\n"), delivery);
      assert.equal((await client.readResponse()).status, 200);
      assert.deepEqual(fixture.origin.requestsUnder(prefix)[0].headerValues("max-forwards"), ["0"]);
    },
  },
  {
    id: "HB-05 e",
    name: "no Max-Forwards added to OPTIONS",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      await deliver(client, `OPTIONS ${prefix}/a HTTP/1.1\r\nHost: p.test\r\n\r\n`, delivery);
      assert.equal((await client.readResponse()).status, 200);
      assert.deepEqual(fixture.origin.requestsUnder(prefix)[0].headerValues("max-forwards"), []);
    },
  },
  {
    id: "HB-05 f",
    name: "TRACE rejected with 405",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      for (const maxForwards of ["Max-Forwards: 5\r\n", "Max-Forwards: 0\r\n", ""]) {
        const client = await fixture.connect();
        await deliver(
          client,
          `TRACE ${prefix}/a HTTP/1.1\r\nHost: p.test\r\n${maxForwards}\r\n`,
          delivery,
        );
        const response = await client.readResponse();
        assert.equal(response.status, 405, `status for TRACE with ${JSON.stringify(maxForwards)}`);
        assert.match(header(response, "date") ?? "", IMF_FIXDATE);
        assert.ok(await client.waitForClose(), "the connection closes after the 405");
      }
      assert.equal(
        fixture.origin.requestsUnder(prefix).length,
        0,
        "TRACE never reaches the origin",
      );
    },
  },
  {
    id: "HB-05 g",
    name: "Via loop rejected with 508",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      for (
        const via of ["1.1 cairn", "1.0 fred, 1.1 Cairn (Cairn/0.1)", "1.1 fred", "HTTP/1.1 cairn"]
      ) {
        const client = await fixture.connect();
        await deliver(client, get(`${prefix}/a`, `Via: ${via}\r\n`), delivery);
        const response = await client.readResponse();
        if (via === "1.1 fred") {
          assert.equal(response.status, 200, "another proxy's Via is no loop");
          continue;
        }
        assert.equal(response.status, 508, `status for Via ${JSON.stringify(via)}`);
        assert.equal(response.reason, "Loop Detected");
        assert.ok(await client.waitForClose(), "the connection closes after the 508");
      }
      assert.equal(
        fixture.origin.requestsUnder(prefix).length,
        1,
        "only the request without a loop reached the origin",
      );
    },
  },
  {
    id: "HB-06",
    name: "repeated fields kept apart in order",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        prefix,
        respondWith(
          "HTTP/1.1 200 OK\r\nSet-Cookie: a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT\r\nX-Z: 1\r\nSet-Cookie: b=2\r\n" +
            "Content-Length: 2\r\n\r\nok",
        ),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`, "X-A: 1\r\nX-B: 2\r\nX-A: 3\r\n"), delivery);
      const response = await client.readResponse();
      assert.deepEqual(headerValues(response, "set-cookie"), [
        "a=1; Expires=Wed, 21 Oct 2026 07:28:00 GMT",
        "b=2",
      ]);
      const [received] = fixture.origin.requestsUnder(prefix);
      assert.deepEqual(received.headerValues("x-a"), ["1", "3"]);
      assert.match(received.rawHead, /\r\nX-A: 1\r\nX-B: 2\r\nX-A: 3\r\n/);
    },
  },
  {
    id: "HB-07",
    name: "Date on forwarded and generated responses",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const originDate = "Wed, 21 Oct 2015 07:28:00 GMT";
      fixture.origin.handle(
        `${prefix}/dated`,
        respondWith(`HTTP/1.1 200 OK\r\nDate: ${originDate}\r\nContent-Length: 2\r\n\r\nok`),
      );
      fixture.origin.handle(`${prefix}/garbage`, respondWith("HTTP/1.1 2x0 OK\r\n\r\n"));
      const client = await fixture.connect();

      await deliver(client, get(`${prefix}/undated`), delivery);
      const forwarded = await client.readResponse();
      const added = header(forwarded, "date") ?? "";
      assert.match(added, IMF_FIXDATE, "Date added to a forwarded response without one");
      assert.ok(
        Math.abs(Date.parse(added) - Date.now()) < 5_000,
        `added Date ${added} is the current time`,
      );

      await deliver(client, get(`${prefix}/dated`), delivery);
      assert.deepEqual(
        headerValues(await client.readResponse(), "date"),
        [originDate],
        "the origin's Date is kept",
      );

      await deliver(client, get(`${prefix}/garbage`), delivery);
      const badGateway = await client.readResponse();
      assert.equal(badGateway.status, 502);
      assert.match(header(badGateway, "date") ?? "", IMF_FIXDATE, "Date on Cairn's 502");

      await deliver(
        client,
        `GET ${prefix}/bad HTTP/1.1\r\nHost: p.test\r\nContent-Length: x\r\n\r\n`,
        delivery,
      );
      const badRequest = await client.readResponse();
      assert.equal(badRequest.status, 400);
      assert.match(header(badRequest, "date") ?? "", IMF_FIXDATE, "Date on Cairn's 400");
    },
  },
];

// ---- The origin's response ----

const RESPONSE_CASES: ConformanceCase[] = [
  {
    id: "RS-01",
    name: "conflicting response framing is 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondWith(
          "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        ),
      );
      await assertBadGateway(fixture, prefix, response);
    },
  },
  ...([
    ["a", "differing Content-Length values", "Content-Length: 2\r\nContent-Length: 4\r\n\r\nokok"],
    ["b", "negative Content-Length", "Content-Length: -1\r\n\r\nok"],
    ["c", "Content-Length with a letter", "Content-Length: 2a\r\n\r\nok"],
  ] as const).map(([variant, what, rest]): ConformanceCase => ({
    id: `RS-02 ${variant}`,
    name: `${what} in a response is 502`,
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondWith(`HTTP/1.1 200 OK\r\n${rest}`),
      );
      await assertBadGateway(fixture, prefix, response);
    },
  })),
  {
    id: "RS-02 d",
    name: "Content-Length list in a response is 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok"),
      );
      await assertBadGateway(fixture, prefix, response);
    },
  },
  {
    id: "RS-03 a",
    name: "chunked not last: read until close",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { client, response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondAndClose("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\nWorld"),
      );
      assert.equal(response.status, 200);
      assert.equal(framingFieldCount(response), 1);
      assert.equal(
        header(response, "transfer-encoding"),
        "chunked",
        "Cairn chunks the body itself",
      );
      assert.equal(response.body.toString(), "World");
      await deliver(client, get(`${prefix}/next`), delivery);
      assert.equal(
        (await client.readResponse()).body.toString(),
        "ok",
        "the client connection stays usable",
      );
      const [first, second] = fixture.origin.requestsUnder(prefix);
      assert.notEqual(second.connection, first.connection, "the upstream connection is not reused");
    },
  },
  {
    id: "RS-03 b",
    name: "unknown coding relayed until close",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondAndClose(
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunkedchunked\r\n\r\n2\r\nOK\r\n0\r\n\r\n",
        ),
      );
      assert.equal(response.status, 200);
      assert.equal(framingFieldCount(response), 1);
      assert.equal(
        header(response, "transfer-encoding"),
        "chunkedchunked, chunked",
        "the client is told which coding the body still carries",
      );
      assert.equal(
        response.body.toString("latin1"),
        "2\r\nOK\r\n0\r\n\r\n",
        "the body is not de-chunked",
      );
    },
  },
  {
    id: "RS-04",
    name: "close-delimited body chunked for HTTP/1.1",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { client, response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondAndClose("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world"),
      );
      assert.equal(header(response, "transfer-encoding"), "chunked");
      assert.equal(header(response, "content-length"), undefined);
      assert.equal(response.body.toString(), "hello world");
      await deliver(client, get(`${prefix}/next`), delivery);
      assert.equal(
        (await client.readResponse()).body.toString(),
        "ok",
        "the client connection stays usable",
      );
    },
  },
  {
    id: "RS-04",
    name: "close-delimited body closed for HTTP/1.0",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        prefix,
        respondAndClose("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello world"),
      );
      const client = await fixture.connect();
      await deliver(client, `GET ${prefix}/a HTTP/1.0\r\nHost: p.test\r\n\r\n`, delivery);
      const response = await client.readResponse();
      assert.equal(
        framingFieldCount(response),
        0,
        "neither chunked nor a guessed length for HTTP/1.0",
      );
      assert.equal(response.body.toString(), "hello world");
      assert.ok(await client.waitForClose(), "the end of the body is the close");
    },
  },
  {
    id: "RS-05",
    name: "HEAD response keeps Content-Length, no body",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        `${prefix}/f`,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/html\r\n\r\n"),
      );
      const client = await fixture.connect();
      await deliver(
        client,
        `HEAD ${prefix}/f HTTP/1.1\r\nHost: p.test\r\n\r\n${get(`${prefix}/g`)}`,
        delivery,
      );
      const head = await client.readResponse({ requestMethod: "HEAD", timeoutMs: 2_000 });
      assert.equal(head.status, 200);
      assert.deepEqual(headerValues(head, "content-length"), ["1234"]);
      assert.equal(header(head, "transfer-encoding"), undefined);
      const next = await client.readResponse();
      assert.equal(next.body.toString(), "ok", "the GET after HEAD gets its own response");
      assert.equal(client.pending, "");
      const [first, second] = fixture.origin.requestsUnder(prefix);
      assert.equal(second.connection, first.connection, "the upstream connection stays in use");
    },
  },
  {
    id: "RS-05",
    name: "HEAD response with chunked gets no chunk",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        `${prefix}/f`,
        respondWith("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
      );
      const client = await fixture.connect();
      await deliver(
        client,
        `HEAD ${prefix}/f HTTP/1.1\r\nHost: p.test\r\n\r\n${get(`${prefix}/g`)}`,
        delivery,
      );
      const head = await client.readResponse({ requestMethod: "HEAD", timeoutMs: 2_000 });
      assert.equal(head.status, 200);
      assert.equal(header(head, "transfer-encoding"), undefined);
      assert.equal(header(head, "content-length"), undefined);
      const next = await client.readResponse();
      assert.equal(next.body.toString(), "ok", "no last-chunk was sent after the HEAD response");
      assert.equal(client.pending, "");
    },
  },
  ...([
    [
      "a",
      "304 with Content-Length",
      'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: "x"\r\n\r\n',
      304,
      "10",
    ],
    [
      "b",
      "304 with Transfer-Encoding",
      "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
      304,
      undefined,
    ],
    [
      "c",
      "204 with Content-Length",
      "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
      204,
      undefined,
    ],
  ] as const).map(([variant, what, reply, status, relayedLength]): ConformanceCase => ({
    id: `RS-06 ${variant}`,
    name: `${what} ends at its head`,
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(`${prefix}/1`, respondWith(reply));
      fixture.origin.handle(
        `${prefix}/2`,
        respondWith("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/1`) + get(`${prefix}/2`), delivery);
      const first = await client.readResponse();
      assert.equal(first.status, status);
      assert.equal(
        header(first, "transfer-encoding"),
        undefined,
        "no Transfer-Encoding on a response without body",
      );
      assert.equal(header(first, "content-length"), relayedLength);
      const second = await client.readResponse();
      assert.equal(second.status, 200);
      assert.equal(second.body.toString(), "hello");
      assert.equal(client.pending, "", "no last-chunk or other bytes after the responses");
      const requests = fixture.origin.requestsUnder(prefix);
      assert.equal(
        requests[1].connection,
        requests[0].connection,
        "the upstream connection stays alive",
      );
      assert.equal(client.ended, false, "the client connection stays alive");
    },
  })),
  {
    id: "RS-06",
    name: "response after 304 not its body",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        `${prefix}/1`,
        respondWith(
          'HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\nETag: "x"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil',
        ),
      );
      fixture.origin.handle(
        `${prefix}/2`,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/1`) + get(`${prefix}/2`), delivery);
      assert.equal((await client.readResponse()).status, 304);
      assert.equal(
        (await client.readResponse()).body.toString(),
        "hello",
        "the second request gets the origin's answer to it",
      );
      const requests = fixture.origin.requestsUnder(prefix);
      assert.notEqual(
        requests[1].connection,
        requests[0].connection,
        "the connection with surplus bytes is not reused",
      );
      await assertUpstreamClosed(fixture, `${prefix}/1`);
    },
  },
  ...([
    [
      "204 with a second response",
      "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil",
      204,
    ],
    ["body with extra bytes", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA", 200],
  ] as const).map(([what, reply, status]): ConformanceCase => ({
    id: "RS-07",
    name: `${what}: surplus dropped`,
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(`${prefix}/a`, respondWith(reply));
      fixture.origin.handle(
        `${prefix}/b`,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      const first = await client.readResponse();
      assert.equal(first.status, status);
      await deliver(client, get(`${prefix}/b`), delivery);
      const second = await client.readResponse();
      assert.equal(second.body.toString(), "real", "the surplus is never relayed as a response");
      assert.equal(client.pending, "");
      await assertUpstreamClosed(fixture, `${prefix}/a`);
      const [, b] = fixture.origin.requestsUnder(prefix);
      assert.equal(
        b.indexOnConnection,
        0,
        "the request after the surplus goes on a new connection",
      );
    },
  })),
  {
    id: "RS-07",
    name: "bytes on an idle pooled connection: closed",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        `${prefix}/b`,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      assert.equal((await client.readResponse()).status, 200);
      const [a] = fixture.origin.requestsUnder(prefix);
      a.connection.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil");
      await a.connection.waitUntil((connection) => connection.finished);
      await deliver(client, get(`${prefix}/b`), delivery);
      assert.equal((await client.readResponse()).body.toString(), "real");
    },
  },
  {
    id: "RS-08 a",
    name: "body cut short by close: client closed",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        prefix,
        respondAndClose("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n01234"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      assert.ok(await client.waitForClose(), "the client connection closes");
      const raw = client.pending;
      assert.match(raw, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(raw, /\r\nContent-Length: 100\r\n/);
      assert.equal(
        raw.slice(raw.indexOf("\r\n\r\n") + 4),
        "01234",
        "no padding after the bytes the origin sent",
      );
    },
  },
  {
    id: "RS-08 b",
    name: "chunked body cut short: no last chunk",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        prefix,
        respondAndClose("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n01234"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      assert.ok(await client.waitForClose(), "the client connection closes");
      const { head, data, lastChunk } = readTruncatedChunked(client.pending);
      assert.match(head, /\r\nTransfer-Encoding: chunked\r\n/);
      assert.equal(data, "01234");
      assert.equal(lastChunk, false, "the truncated body does not end with a last chunk");
    },
  },
  {
    id: "RS-08 c",
    name: "stalled body closes the client",
    async run(fixture, delivery) {
      const prefix = fixture.prefix(SHORT_TIMEOUTS);
      fixture.origin.handle(
        prefix,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n01234"),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      assert.ok(await client.waitForClose(), "the client connection closes");
      const raw = client.pending;
      assert.equal(raw.slice(raw.indexOf("\r\n\r\n") + 4), "01234");
      await assertUpstreamClosed(fixture, prefix);
    },
  },
  {
    id: "RS-09 a",
    name: "obs-fold in a response is 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondWith("HTTP/1.1 200 OK\r\nX-A: 1\r\n 2\r\nContent-Length: 2\r\n\r\nok"),
      );
      await assertBadGateway(fixture, prefix, response);
    },
  },
  {
    id: "RS-09 b",
    name: "whitespace before colon removed",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondWith("HTTP/1.1 200 OK\r\nX-B : 1\r\nContent-Length: 2\r\n\r\nok"),
      );
      assert.equal(response.status, 200);
      assert.match(response.rawHead, /\r\nX-B: 1\r\n/);
      assert.doesNotMatch(response.rawHead, /X-B /);
    },
  },
  {
    id: "RS-09 c",
    name: "whitespace before colon of Content-Length is 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondWith("HTTP/1.1 200 OK\r\nContent-Length : 2\r\n\r\nok"),
      );
      await assertBadGateway(fixture, prefix, response);
    },
  },
  ...([
    ["a", "four-digit status", "HTTP/1.1 2000 OK\r\n"],
    ["b", "two-digit status", "HTTP/1.1 20 OK\r\n"],
    ["c", "two spaces before the status", "HTTP/1.1  200 OK\r\n"],
    ["d", "NUL in the reason phrase", "HTTP/1.1 200 OK\x00x\r\n"],
    ["f", "no status line", "hello world\r\n"],
    ["g", "status 600", "HTTP/1.1 600 Odd\r\n"],
  ] as const).map(([variant, what, statusLine]): ConformanceCase => ({
    id: `RS-11 ${variant}`,
    name: `${what} is 502`,
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondWith(`${statusLine}Content-Length: 2\r\n\r\nok`),
      );
      await assertBadGateway(fixture, prefix, response);
    },
  })),
  {
    id: "RS-11 e",
    name: "status line without reason accepted",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondWith("HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok"),
      );
      assert.equal(response.status, 200);
      assert.match(
        response.rawHead,
        /^HTTP\/1\.1 200 [^\r\n]*\r\n/,
        "Cairn writes a well-formed status line",
      );
      assert.equal(response.body.toString(), "ok");
    },
  },
];

// ---- Interim responses, Expect and upgrades ----

const WEBSOCKET_REQUEST_FIELDS =
  "Upgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";

const INTERIM_CASES: ConformanceCase[] = [
  {
    id: "IX-01",
    name: "100-continue relayed end to end",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => {
        if (request.header("expect") === "100-continue") {
          request.connection.write("HTTP/1.1 100 Continue\r\n\r\n");
        }
        request.whenComplete().then(
          () => request.connection.write("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
          () => {},
        );
      });
      const client = await fixture.connect();
      await deliver(
        client,
        `PUT ${prefix}/u HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`,
        delivery,
      );
      const interim = await client.readResponse({ timeoutMs: 3_000 });
      assert.equal(
        interim.status,
        100,
        "the head was forwarded before the body and the 100 relayed",
      );
      await deliver(client, "hello", delivery);
      const final = await client.readResponse();
      assert.equal(final.status, 201);
      assert.equal(client.pending, "", "exactly one final response");
      const [received] = fixture.origin.requestsUnder(prefix);
      assert.equal(received.header("expect"), "100-continue");
      assert.equal(received.body.toString(), "hello");
    },
  },
  {
    id: "IX-01",
    name: "100-continue without origin's 100",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        prefix,
        respondWith("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"),
      );
      const client = await fixture.connect();
      await deliver(
        client,
        `PUT ${prefix}/u HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n`,
        delivery,
      );
      assert.ok(
        await waitFor(() => fixture.origin.requestsUnder(prefix).length === 1, 3_000),
        "the head is forwarded before the body",
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(client.pending, "", "Cairn sends no 100 of its own");
      await deliver(client, "hello", delivery);
      const final = await client.readResponse();
      assert.equal(final.status, 201);
      assert.equal(client.pending, "");
      assert.equal(fixture.origin.requestsUnder(prefix)[0].body.toString(), "hello");
    },
  },
  {
    id: "IX-04",
    name: "no interim response to HTTP/1.0",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => {
        request.whenComplete().then(() => {
          request.connection.write(
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
          );
          request.connection.write(OK_RESPONSE);
        }, () => {});
      });
      const client = await fixture.connect();
      await deliver(
        client,
        `POST ${prefix}/u HTTP/1.0\r\nHost: p.test\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello`,
        delivery,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 200, "the 103 is not sent to an HTTP/1.0 client");
      assert.equal(response.body.toString(), "ok");
      assert.ok(await client.waitForClose(), "the HTTP/1.0 connection closes");
      assert.equal(client.pending, "");
      const [received] = fixture.origin.requestsUnder(prefix);
      assert.equal(
        received.header("expect"),
        undefined,
        "an HTTP/1.0 expectation is not passed on",
      );
      assert.equal(received.body.toString(), "hello");
    },
  },
  {
    id: "IX-05",
    name: "hop-by-hop fields removed from 1xx",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => {
        request.whenComplete().then(() => {
          request.connection.write(
            "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nConnection: X-Nom\r\nX-Nom: 1\r\nKeep-Alive: timeout=5\r\n\r\n",
          );
          request.connection.write(OK_RESPONSE);
        }, () => {});
      });
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      const interim = await client.readResponse();
      assert.equal(interim.status, 103);
      assert.deepEqual(
        interim.headers.map(([name]) => name),
        ["Link"],
        "the 103 carries only Link",
      );
      assert.equal(header(interim, "link"), "</s.css>; rel=preload");
      const final = await client.readResponse();
      assert.equal(final.status, 200);
      assert.equal(final.body.toString(), "ok");
    },
  },
  {
    id: "IX-07 a",
    name: "101 starts a raw tunnel",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => {
        request.connection.write(
          "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\nContent-Length: 4\r\n\r\nbody",
        );
        request.connection.write("srv1");
      });
      const client = await fixture.connect();
      await deliver(
        client,
        get(`${prefix}/chat`, `Connection: Upgrade\r\n${WEBSOCKET_REQUEST_FIELDS}`),
        delivery,
      );
      const response = await client.readResponse({ requestMethod: "HEAD" });
      assert.equal(response.status, 101);
      assert.equal(header(response, "upgrade"), "websocket");
      assert.equal(
        header(response, "content-length"),
        undefined,
        "the 101's Content-Length is not relayed",
      );
      assert.ok(
        await waitFor(() => client.pending === "bodysrv1"),
        `client read ${JSON.stringify(client.pending)}`,
      );
      const [received] = fixture.origin.requestsUnder(prefix);
      await deliver(client, "GET /not-http HTTP/1.1\r\n\r\n", delivery);
      await received.connection.waitForText("\r\n\r\nGET /not-http HTTP/1.1\r\n\r\n");
      assert.equal(
        fixture.origin.requestsUnder(prefix).length,
        1,
        "tunnel bytes are not parsed as HTTP",
      );
      received.connection.end("srv2");
      assert.ok(
        await client.waitForClose(),
        "the client connection closes after the origin closes",
      );
      assert.equal(client.pending, "bodysrv1srv2", "bytes before the close are flushed");
    },
  },
  {
    id: "IX-07 a",
    name: "tunnel closed by the client closes upstream",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => {
        request.connection.write(
          "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        );
      });
      const client = await fixture.connect();
      await deliver(
        client,
        get(`${prefix}/chat`, `Connection: Upgrade\r\n${WEBSOCKET_REQUEST_FIELDS}`),
        delivery,
      );
      assert.equal((await client.readResponse({ requestMethod: "HEAD" })).status, 101);
      const [received] = fixture.origin.requestsUnder(prefix);
      await deliver(client, "cli1", delivery);
      client.end();
      await received.connection.waitUntil((connection) => connection.finished);
      assert.ok(
        received.connection.text.endsWith("\r\n\r\ncli1"),
        "bytes before the client's close are flushed",
      );
      assert.ok(await client.waitForClose(), "the client connection closes");
      await fixture.assertNoLeakedConnections();
    },
  },
  {
    id: "IX-07 b",
    name: "101 to an unrequested protocol is 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const replies = [
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\n",
        "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\n\r\n",
      ];
      for (const [index, reply] of replies.entries()) {
        fixture.origin.handle(`${prefix}/${index}`, (request) => request.connection.write(reply));
        const client = await fixture.connect();
        await deliver(
          client,
          get(`${prefix}/${index}`, `Connection: Upgrade\r\n${WEBSOCKET_REQUEST_FIELDS}`),
          delivery,
        );
        const response = await client.readResponse();
        assert.equal(response.status, 502, `status for ${JSON.stringify(reply)}`);
        assert.ok(await client.waitForClose(), "the client connection closes");
        await assertUpstreamClosed(fixture, `${prefix}/${index}`);
      }
      await fixture.assertRecovered();
    },
  },
  {
    id: "IX-07 b",
    name: "101 without an upgrade request is 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { client, response } = await fetchReply(fixture, delivery, prefix, (request) => {
        request.connection.write(
          "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        );
      });
      await assertBadGateway(fixture, prefix, response);
      await deliver(client, get(`${prefix}/next`), delivery);
      assert.equal(
        (await client.readResponse()).body.toString(),
        "ok",
        "the client connection stays usable",
      );
    },
  },
  {
    id: "IX-07 c",
    name: "upgrade options rewritten upstream",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => {
        request.connection.write(
          "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
        );
      });
      const client = await fixture.connect();
      await deliver(
        client,
        get(`${prefix}/chat`, `Connection: keep-alive, Upgrade\r\n${WEBSOCKET_REQUEST_FIELDS}`),
        delivery,
      );
      assert.equal((await client.readResponse({ requestMethod: "HEAD" })).status, 101);
      const [received] = fixture.origin.requestsUnder(prefix);
      const options = received.headerValues("connection").join(",").split(",").map((option) =>
        option.trim().toLowerCase()
      );
      assert.deepEqual(options, ["upgrade"], "Connection names only upgrade");
      assert.deepEqual(received.headerValues("upgrade"), ["websocket"]);
      assert.equal(received.header("sec-websocket-key"), "dGhlIHNhbXBsZSBub25jZQ==");
    },
  },
  {
    id: "IX-07 d",
    name: "Upgrade from HTTP/1.0 ignored and removed",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const client = await fixture.connect();
      await deliver(
        client,
        `GET ${prefix}/chat HTTP/1.0\r\nHost: p.test\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n`,
        delivery,
      );
      const response = await client.readResponse();
      assert.equal(response.status, 200);
      assert.ok(await client.waitForClose(), "the HTTP/1.0 connection closes");
      const [received] = fixture.origin.requestsUnder(prefix);
      assert.equal(received.header("upgrade"), undefined);
      assert.equal(received.header("connection"), undefined);
    },
  },
  {
    id: "IX-07 e",
    name: "101 without Connection upgrade: tunnel or 502",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(prefix, (request) => {
        request.connection.write(
          "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\nsrv1",
        );
      });
      const client = await fixture.connect();
      await deliver(
        client,
        get(`${prefix}/chat`, `Connection: Upgrade\r\n${WEBSOCKET_REQUEST_FIELDS}`),
        delivery,
      );
      const response = await client.readResponse({ requestMethod: "HEAD" });
      if (response.status === 101) {
        assert.ok(
          await waitFor(() => client.pending === "srv1"),
          "tunnel bytes are relayed after the 101",
        );
      } else {
        assert.equal(response.status, 502, "never relayed as another status");
        assert.ok(await client.waitForClose(), "the client connection closes");
        await assertUpstreamClosed(fixture, prefix);
      }
    },
  },
  {
    id: "IX-08 a",
    name: "426 mentioning Upgrade keeps its body",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      fixture.origin.handle(
        `${prefix}/a`,
        respondWith(
          "HTTP/1.1 426 Upgrade Required\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nContent-Length: 6\r\n\r\nupgrad",
        ),
      );
      const client = await fixture.connect();
      await deliver(client, get(`${prefix}/a`), delivery);
      const response = await client.readResponse();
      assert.equal(response.status, 426);
      assert.equal(response.body.toString(), "upgrad");
      assert.equal(header(response, "upgrade"), undefined, "Upgrade is hop-by-hop");
      await deliver(client, get(`${prefix}/b`), delivery);
      assert.equal((await client.readResponse()).body.toString(), "ok");
      const [a, b] = fixture.origin.requestsUnder(prefix);
      assert.equal(b.connection, a.connection, "the upstream connection is reused");
    },
  },
  {
    id: "IX-08 b",
    name: "200 mentioning Upgrade stays HTTP",
    async run(fixture, delivery) {
      const prefix = fixture.prefix();
      const { client, response } = await fetchReply(
        fixture,
        delivery,
        prefix,
        respondAndClose("HTTP/1.1 200 OK\r\nConnection: upgrade\r\nUpgrade: h2c\r\n\r\nbody"),
      );
      assert.equal(response.status, 200);
      assert.equal(response.body.toString(), "body");
      assert.equal(header(response, "upgrade"), undefined);
      await deliver(client, get(`${prefix}/next`), delivery);
      assert.equal(
        (await client.readResponse()).body.toString(),
        "ok",
        "no protocol switch happened",
      );
    },
  },
];

defineCases("response conformance", RUNTIMES, {
  "forwarding fields": FORWARDING_CASES,
  "origin responses": RESPONSE_CASES,
  "interim responses and upgrades": INTERIM_CASES,
});
