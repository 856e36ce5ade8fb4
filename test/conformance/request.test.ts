/**
 * Request-side conformance, end to end. Each case's exact bytes go through Cairn on every
 * runtime, once in one write and once one byte per write. The tests check what the client gets
 * back and the exact bytes the origin receives.
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { RUNTIMES, waitFor } from "../e2e/harness.ts";
import { header, RawClient } from "../e2e/raw-client.ts";
import {
  BODY_FRAMING_CASES,
  CHUNKED_BODY_CASES,
  CHUNKED_HEAD,
  FIELD_SYNTAX_CASES,
  FOLLOW_UP,
  REQUEST_LINE_CASES,
  type RequestCase,
} from "./request-cases.ts";
import {
  type ConformanceSetup,
  cpuTimeMs,
  deliver,
  DELIVERIES,
  type Delivery,
  expectForwarded,
  expectNothingForwarded,
  expectNothingOrAborted,
  expectRejectedResponse,
  plain,
  startConformance,
  STRICT_LIMITS,
} from "./request-harness.ts";

const SECTIONS: [string, RequestCase[]][] = [
  ["body framing", BODY_FRAMING_CASES],
  ["field syntax", FIELD_SYNTAX_CASES],
  ["chunked bodies", CHUNKED_BODY_CASES],
  ["request-line and Host", REQUEST_LINE_CASES],
];

const CHUNKED_PREFIX = "POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n";

async function runCase(setup: ConformanceSetup, testCase: RequestCase, delivery: Delivery): Promise<void> {
  const label = `${testCase.id}, ${delivery}`;
  const { origin } = setup;
  const mark = origin.mark();
  const client = await RawClient.connect(setup.mainPort);
  try {
    const expectation = testCase.expect;
    if (expectation.kind === "reject") {
      const bytes = testCase.followUp === false ? testCase.bytes : testCase.bytes + FOLLOW_UP;
      await deliver(client, bytes, delivery);
      await expectRejectedResponse(client, expectation.status, label);
      if (expectation.upstreamHead === undefined) await expectNothingForwarded(origin, mark, label);
      else await expectNothingOrAborted(origin, mark, expectation.upstreamHead, label);
      return;
    }
    await deliver(client, testCase.bytes, delivery);
    for (const [i, request] of expectation.requests.entries()) {
      const method = request.head.slice(0, request.head.indexOf(" "));
      const response = await client.readResponse({ requestMethod: method });
      assert.equal(response.status, 200, `${label}: status of response ${i + 1}`);
      assert.equal(response.body.toString("latin1"), method === "HEAD" ? "" : "ok", `${label}: body of response ${i + 1}`);
      assert.equal(header(response, "connection"), undefined, `${label}: response ${i + 1} keeps the connection`);
    }
    expectForwarded(origin, mark, expectation.requests, label);
    assert.equal(client.ended, false, `${label}: client connection stays open`);
  } finally {
    client.destroy();
  }
}

/** Writes `data` in pieces of `pieceBytes`, stopping once the proxy has closed its side. */
async function sendInPieces(client: RawClient, data: string, pieceBytes: number): Promise<void> {
  const bytes = Buffer.from(data, "latin1");
  for (let at = 0; at < bytes.length && !client.ended; at += pieceBytes) {
    await new Promise<void>((resolve) => client.socket.write(bytes.subarray(at, at + pieceBytes), () => resolve()));
  }
}

for (const runtime of RUNTIMES) {
  describe(`request conformance on ${runtime}`, () => {
    let setup: ConformanceSetup;

    before(async () => {
      setup = await startConformance(runtime);
    });

    after(async () => {
      await setup?.stop();
    });

    for (const [section, cases] of SECTIONS) {
      describe(section, () => {
        for (const testCase of cases) {
          for (const delivery of DELIVERIES) {
            test(`${testCase.rule} (${testCase.id}, ${delivery})`, () => runCase(setup, testCase, delivery));
          }
        }
      });
    }

    describe("cases with several steps", () => {
      for (const delivery of DELIVERIES) {
        test(`rejects an unbounded chunk extension (CH-07, ${delivery})`, async () => {
          const label = `CH-07, ${delivery}`;
          const mark = setup.origin.mark();
          // One write sends the whole 1 MiB extension in 1 KiB pieces to the main listener, whose
          // cap is 16 KiB. One byte per write goes to the strict listener, whose cap is 64 bytes.
          const strict = delivery === "byte by byte";
          const client = await RawClient.connect(strict ? setup.strictPort : setup.mainPort);
          try {
            const extensionBytes = strict ? 4 * STRICT_LIMITS.maxChunkExtensionBytes : 1024 * 1024;
            const bytes = CHUNKED_PREFIX + "2;" + "e".repeat(extensionBytes) + "\r\nhi\r\n0\r\n\r\n" + FOLLOW_UP;
            if (strict) await deliver(client, bytes, delivery);
            else await sendInPieces(client, bytes, 1024);
            await expectRejectedResponse(client, 400, label);
            await expectNothingOrAborted(setup.origin, mark, CHUNKED_HEAD, label);
          } finally {
            client.destroy();
          }
        });

        test(`consumes a response trailer before reusing the connection (CH-09 d, ${delivery})`, async () => {
          const label = `CH-09 d, ${delivery}`;
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.mainPort);
          try {
            await deliver(client, "GET /origin/trailer HTTP/1.1\r\nHost: p.test\r\n\r\n", delivery);
            const first = await client.readResponse();
            assert.equal(first.status, 200, `${label}: status`);
            assert.equal(first.body.toString(), "ok", `${label}: body`);
            assert.equal(header(first, "x-t"), undefined, `${label}: trailer not merged into the head`);
            await deliver(client, "GET /second HTTP/1.1\r\nHost: p.test\r\n\r\n", delivery);
            const second = await client.readResponse();
            assert.equal(second.status, 200, `${label}: second status`);
            assert.equal(second.body.toString(), "ok", `${label}: second body`);
            expectForwarded(setup.origin, mark, [plain("GET /origin/trailer"), plain("GET /second")], label);
            const connections = setup.origin.requests.slice(mark.requestCount).map((entry) => entry.connection);
            assert.equal(connections[0], connections[1], `${label}: both requests use one upstream connection`);
          } finally {
            client.destroy();
          }
        });

        const aborts: [string, string, "end" | "reset"][] = [
          ["a", "a\r\n01234", "end"],
          ["b", "4\r", "end"],
          ["c", "a\r\n01234", "reset"],
        ];
        for (const [variant, body, how] of aborts) {
          const action = how === "end" ? "closes" : "resets";
          test(`aborts upstream when the client ${action} in a chunk (CH-11 ${variant}, ${delivery})`, async () => {
            const label = `CH-11 ${variant}, ${delivery}`;
            const mark = setup.origin.mark();
            const client = await RawClient.connect(setup.mainPort);
            await deliver(client, CHUNKED_PREFIX + body, delivery);
            // Let Cairn forward the head first, so the abort has an upstream request to end.
            await waitFor(() => setup.origin.receivedSince(mark).length > 0, 2_000);
            if (how === "end") {
              client.end();
              assert.ok(await client.waitForClose(3_000), `${label}: Cairn closes the client connection`);
              assert.equal(client.pending, "", `${label}: no response to an abandoned request`);
            } else {
              client.socket.resetAndDestroy();
            }
            client.destroy();
            await expectNothingOrAborted(setup.origin, mark, CHUNKED_HEAD, label);
            const cpuBefore = cpuTimeMs(setup.proxy.pid);
            await new Promise((resolve) => setTimeout(resolve, 300));
            const cpuUsed = cpuTimeMs(setup.proxy.pid) - cpuBefore;
            assert.ok(cpuUsed < 150, `${label}: proxy used ${cpuUsed} ms of CPU in 300 ms after the abort`);
            const next = await RawClient.connect(setup.mainPort);
            try {
              next.send("GET /still-serving HTTP/1.1\r\nHost: p.test\r\n\r\n");
              assert.equal((await next.readResponse()).status, 200, `${label}: proxy still serves`);
            } finally {
              next.destroy();
            }
          });
        }

        test(`generates Host for an HTTP/1.0 request without one (RL-01 g, ${delivery})`, async () => {
          const label = `RL-01 g, ${delivery}`;
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.mainPort);
          try {
            await deliver(client, "GET /a HTTP/1.0\r\n\r\n", delivery);
            const response = await client.readResponse();
            assert.equal(response.status, 200, `${label}: status`);
            assert.equal(header(response, "connection"), "close", `${label}: Connection: close`);
            assert.ok(await client.waitForClose(3_000), `${label}: proxy closes the HTTP/1.0 connection`);
            const host = `Host: 127.0.0.1:${setup.origin.port}\r\n`;
            expectForwarded(setup.origin, mark, [plain("GET /a", host, { forwardedHost: undefined, versionMinor: 0 })], label);
          } finally {
            client.destroy();
          }
        });

        test(`logs a percent-encoded target without decoding it (RL-03 g, ${delivery})`, async () => {
          const label = `RL-03 g, ${delivery}`;
          const target = "/logged%0d%0aX-Inj:%201";
          const client = await RawClient.connect(setup.mainPort);
          try {
            await deliver(client, `GET ${target} HTTP/1.1\r\nHost: p.test\r\n\r\n`, delivery);
            assert.equal((await client.readResponse()).status, 200, `${label}: status`);
          } finally {
            client.destroy();
          }
          const logged = () => setup.proxy.accessRecords().filter((record) => String(record.target).startsWith("/logged"));
          assert.ok(await waitFor(() => logged().length > 0, 3_000), `${label}: access record written`);
          assert.equal(logged()[0].target, target, `${label}: target logged as received`);
        });

        test(`closes a request-line without a version at the head deadline (RL-05 g, ${delivery})`, async () => {
          const label = `RL-05 g, ${delivery}`;
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.slowPort);
          try {
            await deliver(client, "GET /\r\n", delivery);
            await expectRejectedResponse(client, 408, label);
            await expectNothingForwarded(setup.origin, mark, label);
          } finally {
            client.destroy();
          }
        });

        test(`answers an HTTP/1.0 client as HTTP/1.1 without chunked (RL-05 h, ${delivery})`, async () => {
          const label = `RL-05 h, ${delivery}`;
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.mainPort);
          try {
            await deliver(client, "GET /origin/http10-close HTTP/1.0\r\nHost: p.test\r\n\r\n", delivery);
            const response = await client.readResponse();
            assert.ok(response.rawHead.startsWith("HTTP/1.1 200 OK\r\n"), `${label}: Cairn's own version`);
            assert.equal(header(response, "transfer-encoding"), undefined, `${label}: no chunked for HTTP/1.0`);
            assert.equal(header(response, "connection"), "close", `${label}: Connection: close`);
            assert.equal(response.body.toString(), "body", `${label}: body delimited by close`);
            assert.ok(client.ended, `${label}: connection closed`);
            expectForwarded(setup.origin, mark, [plain("GET /origin/http10-close", "Host: p.test\r\n", { versionMinor: 0 })], label);
          } finally {
            client.destroy();
          }
        });
      }
    });
  });
}
