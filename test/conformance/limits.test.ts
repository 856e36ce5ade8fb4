/**
 * Limits and slow clients, end to end. Each violation gets its status, the connection closes,
 * and nothing sent after the violation is read. Cases with large inputs run in one
 * write against the `main` listener (top-level limits) and one byte per write against the
 * `strict` listener, whose own `limits` section sets small sizes (`STRICT_LIMITS`). Timeouts
 * are tested on the `slow` listener, whose own section sets short ones (`SLOW_LIMITS`).
 */
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { delay, RUNTIMES, waitFor } from "../e2e/harness.ts";
import { header, RawClient } from "../e2e/raw-client.ts";
import { CHUNKED_HEAD, FOLLOW_UP } from "./request-cases.ts";
import {
  canonicalHead,
  type ConformanceSetup,
  deliver,
  DELIVERIES,
  type Delivery,
  expectForwarded,
  expectNothingForwarded,
  expectNothingOrAborted,
  expectRejectedResponse,
  MAIN_MAX_BODY_BYTES,
  type OriginMark,
  plain,
  type RecordingOrigin,
  SLOW_LIMITS,
  startConformance,
  STRICT_LIMITS,
  withChunks,
  withLength,
  withoutRequestId,
} from "./request-harness.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const CHUNKED_PREFIX = "POST /a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n";

/** Where an oversized input goes for each delivery, and how large it is there. */
interface SizedTarget {
  port: number;
  /** Bytes past the limit: the corpus size for one write, a small excess byte by byte. */
  size: number;
}

function sizedTarget(setup: ConformanceSetup, delivery: Delivery, oneWriteSize: number, strictSize: number): SizedTarget {
  return delivery === "one write"
    ? { port: setup.mainPort, size: oneWriteSize }
    : { port: setup.strictPort, size: strictSize };
}

/**
 * Where a chunked body twice the body limit goes: 1 KiB chunks to the main listener in one
 * write, and 256-byte chunks to the strict listener, whose limit is smaller, byte by byte.
 */
function bodyLimitTarget(setup: ConformanceSetup, delivery: Delivery): { port: number; limit: number; chunkBytes: number } {
  return delivery === "one write"
    ? { port: setup.mainPort, limit: MAIN_MAX_BODY_BYTES, chunkBytes: KiB }
    : { port: setup.strictPort, limit: STRICT_LIMITS.maxBodyBytes, chunkBytes: 256 };
}

/** Connects, sends `bytes`, checks the rejection and that the origin got nothing. */
async function expectRejected(
  setup: ConformanceSetup,
  port: number,
  bytes: string,
  delivery: Delivery,
  status: number,
  label: string,
): Promise<void> {
  const mark = setup.origin.mark();
  const client = await RawClient.connect(port);
  try {
    await deliver(client, bytes, delivery);
    await expectRejectedResponse(client, status, label);
    await expectNothingForwarded(setup.origin, mark, label);
  } finally {
    client.destroy();
  }
}

/** Connects, sends one request and checks that it gets `200` and is forwarded as `expected`. */
async function expectAccepted(
  setup: ConformanceSetup,
  port: number,
  bytes: string,
  delivery: Delivery,
  expected: ReturnType<typeof plain>,
  label: string,
): Promise<void> {
  const mark = setup.origin.mark();
  const client = await RawClient.connect(port);
  try {
    await deliver(client, bytes, delivery);
    const response = await client.readResponse();
    assert.equal(response.status, 200, `${label}: status`);
    expectForwarded(setup.origin, mark, [expected], label);
  } finally {
    client.destroy();
  }
}

/** Decoded body bytes in the forwarded chunked body that follows `head` in `text`. */
function forwardedChunkedBytes(text: string, head: string): number {
  let at = head.length;
  let total = 0;
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd === -1) return total;
    const size = parseInt(text.slice(at, lineEnd), 16);
    if (!(size > 0)) return total;
    total += Math.min(size, text.length - lineEnd - 2);
    at = lineEnd + 2 + size + 2;
  }
}

/** Checks that the origin got at most `maxBodyBytes` of an aborted chunked body. */
function expectBodyCut(origin: RecordingOrigin, mark: OriginMark, maxBodyBytes: number, label: string): void {
  for (const { text } of origin.receivedSince(mark)) {
    const bytes = forwardedChunkedBytes(withoutRequestId(text), CHUNKED_HEAD);
    assert.ok(bytes <= maxBodyBytes, `${label}: ${bytes} body bytes forwarded, more than the ${maxBodyBytes}-byte limit`);
  }
}

/** Builds a chunked body of `total` bytes in chunks of `chunkBytes`, without its last chunk. */
function chunks(total: number, chunkBytes: number): string {
  let body = "";
  for (let sent = 0; sent < total; sent += chunkBytes) {
    const size = Math.min(chunkBytes, total - sent);
    body += `${size.toString(16)}\r\n${"c".repeat(size)}\r\n`;
  }
  return body;
}

/** Builds a request head padded with an `X-Pad` field to be `totalBytes` long. */
function headOfSize(totalBytes: number): string {
  const start = "GET /padded HTTP/1.1\r\nHost: p.test\r\nX-Pad: ";
  const end = "\r\n\r\n";
  return start + "p".repeat(totalBytes - start.length - end.length) + end;
}

/** Sends one byte every `intervalMs` until the client is closed or `maxBytes` were sent. */
async function trickle(client: RawClient, intervalMs: number, maxBytes: number): Promise<void> {
  for (let i = 0; i < maxBytes && !client.ended; i++) {
    client.send("x");
    await delay(intervalMs);
  }
}

for (const runtime of RUNTIMES) {
  describe(`limits on ${runtime}`, () => {
    let setup: ConformanceSetup;

    before(async () => {
      setup = await startConformance(runtime);
    });

    after(async () => {
      await setup?.stop();
    });

    for (const delivery of DELIVERIES) {
      describe(delivery, () => {
        test(`answers 414 to a long request-line (DS-02 a)`, async () => {
          const target = sizedTarget(setup, delivery, 100 * KiB, STRICT_LIMITS.maxRequestLineBytes + 50);
          const bytes = `GET /${"t".repeat(target.size)} HTTP/1.1\r\nHost: p.test\r\n\r\n${FOLLOW_UP}`;
          await expectRejected(setup, target.port, bytes, delivery, 414, `DS-02 a, ${delivery}`);
        });

        test(`accepts a request-line at the limit`, async () => {
          const label = `request-line limit, ${delivery}`;
          const targetLength = STRICT_LIMITS.maxRequestLineBytes - "GET  HTTP/1.1".length;
          const requestTarget = "/" + "t".repeat(targetLength - 1);
          const atLimit = `GET ${requestTarget} HTTP/1.1\r\nHost: p.test\r\n\r\n`;
          await expectAccepted(setup, setup.strictPort, atLimit, delivery, plain(`GET ${requestTarget}`), label);
          const overLimit = `GET ${requestTarget}t HTTP/1.1\r\nHost: p.test\r\n\r\n${FOLLOW_UP}`;
          await expectRejected(setup, setup.strictPort, overLimit, delivery, 414, label);
        });

        test(`applies a listener's own request-line limit`, async () => {
          const label = `listener limits, ${delivery}`;
          const requestTarget = "/" + "t".repeat(STRICT_LIMITS.maxRequestLineBytes);
          const bytes = `GET ${requestTarget} HTTP/1.1\r\nHost: p.test\r\n\r\n`;
          await expectAccepted(setup, setup.mainPort, bytes, delivery, plain(`GET ${requestTarget}`), `${label}, main`);
          await expectRejected(setup, setup.strictPort, bytes + FOLLOW_UP, delivery, 414, `${label}, strict`);
        });

        test(`answers 431 to a long field value (DS-02 b)`, async () => {
          const target = sizedTarget(setup, delivery, MiB, STRICT_LIMITS.maxHeaderBytes + 50);
          const bytes = `GET / HTTP/1.1\r\nHost: p.test\r\nX-Long: ${"v".repeat(target.size)}\r\n\r\n${FOLLOW_UP}`;
          await expectRejected(setup, target.port, bytes, delivery, 431, `DS-02 b, ${delivery}`);
        });

        test(`answers 431 to too many fields (DS-02 c)`, async () => {
          const label = `DS-02 c, ${delivery}`;
          const count = delivery === "one write" ? 10_000 : STRICT_LIMITS.maxHeaderCount + 1;
          const port = delivery === "one write" ? setup.mainPort : setup.strictPort;
          let fields = "Host: p.test\r\n";
          for (let i = 1; i < count; i++) fields += `X-${i}: v\r\n`;
          await expectRejected(setup, port, `GET / HTTP/1.1\r\n${fields}\r\n${FOLLOW_UP}`, delivery, 431, label);
        });

        test(`accepts the field count and head size at their limits`, async () => {
          const label = `field count and head size limits, ${delivery}`;
          let fields = "Host: p.test\r\n";
          for (let i = 1; i < STRICT_LIMITS.maxHeaderCount; i++) fields += `X-${i}: v\r\n`;
          await expectAccepted(setup, setup.strictPort, `GET /many HTTP/1.1\r\n${fields}\r\n`, delivery, plain("GET /many", fields), label);
          const atLimit = headOfSize(STRICT_LIMITS.maxHeaderBytes);
          const padding = atLimit.slice(atLimit.indexOf("X-Pad: ") + 7, -4);
          const expected = plain("GET /padded", `Host: p.test\r\nX-Pad: ${padding}\r\n`);
          await expectAccepted(setup, setup.strictPort, atLimit, delivery, expected, label);
          const overLimit = headOfSize(STRICT_LIMITS.maxHeaderBytes + 1) + FOLLOW_UP;
          await expectRejected(setup, setup.strictPort, overLimit, delivery, 431, label);
        });

        test(`answers 431 before a line terminator arrives (DS-02 d)`, async () => {
          const label = `DS-02 d, ${delivery}`;
          const target = sizedTarget(setup, delivery, MiB, STRICT_LIMITS.maxHeaderBytes + 50);
          // No CR or LF ever follows, so only a limit enforced while bytes arrive can respond.
          const bytes = `GET / HTTP/1.1\r\nHost: p.test\r\nX-Endless: ${"v".repeat(target.size)}`;
          await expectRejected(setup, target.port, bytes, delivery, 431, label);
        });

        test(`answers 502 to an oversized response head (DS-02 e)`, async () => {
          const label = `DS-02 e, ${delivery}`;
          const client = await RawClient.connect(setup.mainPort);
          try {
            await deliver(client, "GET /origin/huge-head HTTP/1.1\r\nHost: p.test\r\n\r\n", delivery);
            const response = await client.readResponse();
            assert.equal(response.status, 502, `${label}: status`);
          } finally {
            client.destroy();
          }
        });

        test(`answers 413 to a declared body over the limit at once (DS-03 a)`, async () => {
          const label = `DS-03 a, ${delivery}`;
          const started = Date.now();
          const bytes = "POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: 10000000000\r\n\r\n";
          // No body byte is sent: the limit is checked on the declared length.
          await expectRejected(setup, setup.mainPort, bytes, delivery, 413, label);
          const elapsedMs = Date.now() - started;
          assert.ok(elapsedMs < 2_000, `${label}: answered after ${elapsedMs} ms`);
        });

        test(`applies the top-level body limit and a listener's own`, async () => {
          const label = `body limits, ${delivery}`;
          const overMain = `POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: ${MAIN_MAX_BODY_BYTES + 1}\r\n\r\n`;
          await expectRejected(setup, setup.mainPort, overMain, delivery, 413, `${label}, main`);
          const body = "b".repeat(STRICT_LIMITS.maxBodyBytes);
          const atStrict = `POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
          await expectAccepted(setup, setup.strictPort, atStrict, delivery, withLength("POST /a", "Host: p.test\r\n", body), `${label}, strict at the limit`);
          const overStrict = `POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: ${body.length + 1}\r\n\r\n${body}b`;
          await expectRejected(setup, setup.strictPort, overStrict, delivery, 413, `${label}, strict over the limit`);
        });

        test(`answers 413 and aborts upstream at the chunked body limit (DS-03 b)`, async () => {
          const label = `DS-03 b, ${delivery}`;
          const { port, limit, chunkBytes } = bodyLimitTarget(setup, delivery);
          const mark = setup.origin.mark();
          const client = await RawClient.connect(port);
          try {
            await deliver(client, CHUNKED_PREFIX + chunks(2 * limit, chunkBytes) + "0\r\n\r\n" + FOLLOW_UP, delivery);
            await expectRejectedResponse(client, 413, label);
            await expectNothingOrAborted(setup.origin, mark, CHUNKED_HEAD, label);
            expectBodyCut(setup.origin, mark, limit, label);
          } finally {
            client.destroy();
          }
        });

        test(`closes without reading a body it cannot forward (DS-03 c)`, async () => {
          const label = `DS-03 c, ${delivery}`;
          const { port, limit, chunkBytes } = bodyLimitTarget(setup, delivery);
          const client = await RawClient.connect(port);
          try {
            const head = "POST /unreachable/a HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n";
            await deliver(client, head + chunks(2 * limit, chunkBytes) + "0\r\n\r\n" + FOLLOW_UP, delivery);
            await expectRejectedResponse(client, 502, label);
          } finally {
            client.destroy();
          }
        });

        test(`limits the chunk-size line with its extensions (CH-07)`, async () => {
          const label = `chunk extension limit, ${delivery}`;
          const max = STRICT_LIMITS.maxChunkExtensionBytes;
          const atLimit = "5;" + "e".repeat(max - 2);
          await expectAccepted(
            setup,
            setup.strictPort,
            `${CHUNKED_PREFIX}${atLimit}\r\nhello\r\n0\r\n\r\n`,
            delivery,
            withChunks("POST /a", "Host: p.test\r\n", "hello"),
            label,
          );
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.strictPort);
          try {
            await deliver(client, `${CHUNKED_PREFIX}${atLimit}e\r\nhello\r\n0\r\n\r\n${FOLLOW_UP}`, delivery);
            await expectRejectedResponse(client, 400, label);
            await expectNothingOrAborted(setup.origin, mark, CHUNKED_HEAD, label);
          } finally {
            client.destroy();
          }
        });

        test(`limits the trailer section`, async () => {
          const label = `trailer limit, ${delivery}`;
          const trailer = (totalBytes: number) => `X-T: ${"t".repeat(totalBytes - "X-T: \r\n\r\n".length)}\r\n\r\n`;
          await expectAccepted(
            setup,
            setup.strictPort,
            `${CHUNKED_PREFIX}5\r\nhello\r\n0\r\n${trailer(STRICT_LIMITS.maxTrailerBytes)}`,
            delivery,
            withChunks("POST /a", "Host: p.test\r\n", "hello"),
            label,
          );
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.strictPort);
          try {
            const overLimit = trailer(STRICT_LIMITS.maxTrailerBytes + 1);
            await deliver(client, `${CHUNKED_PREFIX}5\r\nhello\r\n0\r\n${overLimit}${FOLLOW_UP}`, delivery);
            await expectRejectedResponse(client, 431, label);
            await expectNothingOrAborted(setup.origin, mark, CHUNKED_HEAD, label);
          } finally {
            client.destroy();
          }
        });

        test(`answers 408 when the head is not complete in time (DS-01 a)`, async () => {
          const label = `DS-01 a, ${delivery}`;
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.slowPort);
          try {
            // An idle connection has not started a head: the deadline runs from the first byte.
            await delay(SLOW_LIMITS.keepAliveTimeoutMs / 2);
            const firstByteAt = Date.now();
            await deliver(client, "GET / HTTP/1.1\r\nHost: p.test\r\nX-Slow: ", delivery);
            // Bytes come faster than the deadline, so a deadline reset by each byte would never expire.
            const trickling = trickle(client, SLOW_LIMITS.headerTimeoutMs / 4, 40);
            await expectRejectedResponse(client, 408, label);
            const elapsedMs = Date.now() - firstByteAt;
            await trickling;
            assert.ok(elapsedMs >= SLOW_LIMITS.headerTimeoutMs - 50, `${label}: answered after ${elapsedMs} ms`);
            assert.ok(elapsedMs < SLOW_LIMITS.headerTimeoutMs + 800, `${label}: answered after ${elapsedMs} ms`);
            await expectNothingForwarded(setup.origin, mark, label);
          } finally {
            client.destroy();
          }
        });

        test(`serves others while many heads are slow (DS-01 b)`, async () => {
          const label = `DS-01 b, ${delivery}`;
          const baselineKiB = setup.proxy.rssKiB();
          const slow: RawClient[] = [];
          try {
            for (let i = 0; i < 200; i++) {
              const client = await RawClient.connect(setup.slowPort);
              client.send("GET / HTTP/1.1\r\nHost: p.test\r\n");
              slow.push(client);
            }
            const started = Date.now();
            const mark = setup.origin.mark();
            const client = await RawClient.connect(setup.mainPort);
            try {
              await deliver(client, "GET /served HTTP/1.1\r\nHost: p.test\r\n\r\n", delivery);
              assert.equal((await client.readResponse()).status, 200, `${label}: status`);
            } finally {
              client.destroy();
            }
            assert.ok(Date.now() - started < 1_000, `${label}: served after ${Date.now() - started} ms`);
            expectForwarded(setup.origin, mark, [plain("GET /served")], label);
            const closed = await waitFor(() => slow.every((c) => c.ended), SLOW_LIMITS.headerTimeoutMs + 3_000);
            assert.ok(closed, `${label}: ${slow.filter((c) => !c.ended).length} slow connections still open`);
            const unanswered = slow.filter((c) => !c.pending.startsWith("HTTP/1.1 408 ")).length;
            assert.equal(unanswered, 0, `${label}: slow connections closed without a 408`);
            const growthMiB = (setup.proxy.rssKiB() - baselineKiB) / 1024;
            assert.ok(growthMiB < 32, `${label}: resident memory grew by ${growthMiB.toFixed(1)} MiB`);
          } finally {
            for (const client of slow) client.destroy();
          }
        });

        test(`answers 408 and aborts upstream when the body stalls (DS-01 c)`, async () => {
          const label = `DS-01 c, ${delivery}`;
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.slowPort);
          try {
            const declared = 100_000;
            const head = `POST /a HTTP/1.1\r\nHost: p.test\r\nContent-Length: ${declared}\r\n\r\n`;
            await deliver(client, head, delivery);
            // Bytes closer together than the body timeout keep the request alive.
            await trickle(client, SLOW_LIMITS.bodyTimeoutMs / 4, 6);
            assert.equal(client.pending, "", `${label}: no response while the body progresses`);
            assert.equal(client.ended, false, `${label}: connection open while the body progresses`);
            const stalledAt = Date.now();
            await expectRejectedResponse(client, 408, label);
            const elapsedMs = Date.now() - stalledAt;
            assert.ok(elapsedMs < SLOW_LIMITS.bodyTimeoutMs + 800, `${label}: answered ${elapsedMs} ms after the stall`);
            const expectedHead = canonicalHead("POST /a", "Host: p.test\r\n", { length: declared });
            await expectNothingOrAborted(setup.origin, mark, expectedHead, label);
          } finally {
            client.destroy();
          }
        });

        test(`closes an idle kept-alive connection`, async () => {
          const label = `keep-alive timeout, ${delivery}`;
          const client = await RawClient.connect(setup.slowPort);
          try {
            await deliver(client, "GET /idle HTTP/1.1\r\nHost: p.test\r\n\r\n", delivery);
            const response = await client.readResponse();
            assert.equal(header(response, "connection"), undefined, `${label}: connection kept`);
            const answeredAt = Date.now();
            await delay(SLOW_LIMITS.keepAliveTimeoutMs / 2);
            assert.equal(client.ended, false, `${label}: still open before the timeout`);
            assert.ok(await client.waitForClose(SLOW_LIMITS.keepAliveTimeoutMs + 1_000), `${label}: closed`);
            const elapsedMs = Date.now() - answeredAt;
            assert.ok(elapsedMs >= SLOW_LIMITS.keepAliveTimeoutMs - 50, `${label}: closed after ${elapsedMs} ms`);
            assert.equal(client.pending, "", `${label}: closed without a response`);
          } finally {
            client.destroy();
          }
        });

        test(`closes after the maximum requests per connection`, async () => {
          const label = `requests per connection, ${delivery}`;
          const max = STRICT_LIMITS.maxRequestsPerConnection;
          const mark = setup.origin.mark();
          const client = await RawClient.connect(setup.strictPort);
          try {
            let requests = "";
            for (let i = 1; i <= max + 1; i++) requests += `GET /r${i} HTTP/1.1\r\nHost: p.test\r\n\r\n`;
            await deliver(client, requests, delivery);
            for (let i = 1; i <= max; i++) {
              const response = await client.readResponse();
              assert.equal(response.status, 200, `${label}: status of response ${i}`);
              assert.equal(header(response, "connection"), i === max ? "close" : undefined, `${label}: Connection of response ${i}`);
            }
            assert.ok(await client.waitForClose(3_000), `${label}: closed after response ${max}`);
            assert.equal(client.pending, "", `${label}: request ${max + 1} not answered`);
            const expected = Array.from({ length: max }, (_, i) => plain(`GET /r${i + 1}`));
            expectForwarded(setup.origin, mark, expected, label);
          } finally {
            client.destroy();
          }
        });
      });
    }
  });
}
