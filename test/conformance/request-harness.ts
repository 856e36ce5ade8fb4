import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createServer } from "node:net";
import { type ProxyProcess, type RuntimeName, startProxy, waitFor, writeTempConfig } from "../e2e/harness.ts";
import { header, RawClient, type RawResponse } from "../e2e/raw-client.ts";
import { type OriginConnection, OK_RESPONSE, ScriptedOrigin } from "../e2e/raw-origin.ts";

/** How a test client hands its bytes to the socket. */
export type Delivery = "one write" | "byte by byte";

/** Every request-side case runs once per delivery: streaming parsers break at read boundaries. */
export const DELIVERIES: Delivery[] = ["one write", "byte by byte"];

/** Size limits of the `strict` listener, which override the top-level `limits` section. */
export const STRICT_LIMITS = {
  maxRequestLineBytes: 256,
  maxHeaderBytes: 1024,
  maxHeaderCount: 16,
  maxBodyBytes: 1024,
  maxChunkExtensionBytes: 64,
  maxTrailerBytes: 256,
  maxRequestsPerConnection: 3,
};

/**
 * Timeouts of the `slow` listener, which override the top-level `limits` section. They are
 * short so that timeout tests finish quickly, and only small inputs are sent there, so that
 * one byte per write still completes a head in time.
 */
export const SLOW_LIMITS = {
  headerTimeoutMs: 600,
  bodyTimeoutMs: 600,
  keepAliveTimeoutMs: 600,
};

/** Body limit of the top-level `limits` section, which the `main` listener uses unchanged. */
export const MAIN_MAX_BODY_BYTES = 1024 * 1024;

/** A request as the origin received it, after checking that its framing is canonical. */
export interface ForwardedRequest {
  /** Request-line and field lines, up to and including the empty line. */
  head: string;
  method: string;
  target: string;
  /** The body after removing the chunked coding, if any. */
  body: string;
  chunked: boolean;
  /** Trailer field lines of a chunked body. */
  trailers: string[];
}

type ReaderState = "head" | "length" | "chunk-size" | "chunk-data" | "chunk-data-end" | "trailer";

/**
 * Reads the requests Cairn forwards on one upstream connection. It accepts only what a
 * canonical sender writes (`HTTP/1.1`, `Name: value`, CRLF, one framing field, hexadecimal
 * chunk sizes without extensions) and throws on anything else.
 */
class ForwardedRequestReader {
  #pending = "";
  #state: ReaderState = "head";
  #current: ForwardedRequest | undefined;
  #remaining = 0;

  /** True between requests, with no byte of a next one received. */
  get idle(): boolean {
    return this.#state === "head" && this.#pending.length === 0;
  }

  /** Consumes `text` and returns the requests it completed. */
  push(text: string): ForwardedRequest[] {
    this.#pending += text;
    const completed: ForwardedRequest[] = [];
    for (;;) {
      const request = this.#step();
      if (request === "more") return completed;
      if (request !== "progress") completed.push(request);
    }
  }

  #step(): ForwardedRequest | "more" | "progress" {
    switch (this.#state) {
      case "head":
        return this.#readHead();
      case "length": {
        const take = Math.min(this.#remaining, this.#pending.length);
        if (take === 0) return "more";
        this.#current!.body += this.#pending.slice(0, take);
        this.#pending = this.#pending.slice(take);
        this.#remaining -= take;
        return this.#remaining === 0 ? this.#complete() : "progress";
      }
      case "chunk-size": {
        const lineEnd = this.#pending.indexOf("\r\n");
        if (lineEnd === -1) {
          if (this.#pending.length > 16) throw new Error(`chunk-size line too long: ${JSON.stringify(this.#pending)}`);
          return "more";
        }
        const sizeText = this.#pending.slice(0, lineEnd);
        if (!/^[0-9a-f]{1,15}$/i.test(sizeText)) throw new Error(`invalid chunk-size line ${JSON.stringify(sizeText)}`);
        this.#pending = this.#pending.slice(lineEnd + 2);
        this.#remaining = parseInt(sizeText, 16);
        this.#state = this.#remaining === 0 ? "trailer" : "chunk-data";
        return "progress";
      }
      case "chunk-data": {
        const take = Math.min(this.#remaining, this.#pending.length);
        if (take === 0) return "more";
        this.#current!.body += this.#pending.slice(0, take);
        this.#pending = this.#pending.slice(take);
        this.#remaining -= take;
        if (this.#remaining === 0) this.#state = "chunk-data-end";
        return "progress";
      }
      case "chunk-data-end":
        if (this.#pending.length < 2) return "more";
        if (!this.#pending.startsWith("\r\n")) throw new Error("chunk data is not followed by CRLF");
        this.#pending = this.#pending.slice(2);
        this.#state = "chunk-size";
        return "progress";
      case "trailer": {
        const lineEnd = this.#pending.indexOf("\r\n");
        if (lineEnd === -1) return "more";
        const line = this.#pending.slice(0, lineEnd);
        this.#pending = this.#pending.slice(lineEnd + 2);
        if (line === "") return this.#complete();
        this.#current!.trailers.push(line);
        return "progress";
      }
    }
  }

  #readHead(): ForwardedRequest | "more" | "progress" {
    const headEnd = this.#pending.indexOf("\r\n\r\n");
    if (headEnd === -1) return "more";
    const head = this.#pending.slice(0, headEnd + 4);
    this.#pending = this.#pending.slice(headEnd + 4);
    const lines = head.slice(0, -4).split("\r\n");
    const requestLine = /^([^ ]+) ([^ ]+) HTTP\/1\.1$/.exec(lines[0]);
    if (!requestLine) throw new Error(`invalid forwarded request-line ${JSON.stringify(lines[0])}`);
    let length: number | undefined;
    let chunked = false;
    for (const line of lines.slice(1)) {
      const field = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+): (.*)$/.exec(line);
      if (!field) throw new Error(`invalid forwarded field line ${JSON.stringify(line)}`);
      const name = field[1].toLowerCase();
      if (name === "content-length") {
        if (length !== undefined || !/^[0-9]+$/.test(field[2])) throw new Error(`invalid forwarded ${line}`);
        length = Number(field[2]);
      } else if (name === "transfer-encoding") {
        if (chunked || field[2] !== "chunked") throw new Error(`invalid forwarded ${line}`);
        chunked = true;
      }
    }
    if (chunked && length !== undefined) throw new Error("forwarded request has Content-Length and Transfer-Encoding");
    this.#current = { head, method: requestLine[1], target: requestLine[2], body: "", chunked, trailers: [] };
    if (chunked) {
      this.#state = "chunk-size";
      return "progress";
    }
    if (length !== undefined && length > 0) {
      this.#state = "length";
      this.#remaining = length;
      return "progress";
    }
    return this.#complete();
  }

  #complete(): ForwardedRequest {
    const request = this.#current!;
    this.#current = undefined;
    this.#state = "head";
    return request;
  }
}

/** A point in the origin's history. Cases run one at a time, so a case owns what follows it. */
export interface OriginMark {
  logLength: number;
  requestCount: number;
  errorCount: number;
}

/** What one upstream connection received after a mark. */
export interface ConnectionDelta {
  connection: OriginConnection;
  text: string;
}

/**
 * One long-lived raw-TCP origin for a whole test file. It records every byte in arrival order,
 * reads the forwarded requests with a strict parser, and responds to each by its target:
 *
 * - `HEAD` gets a head without a body;
 * - `/origin/http10-close` gets an HTTP/1.0 response delimited by closing the connection;
 * - `/origin/trailer` gets a chunked body with a trailer section;
 * - `/origin/huge-head` gets a 1 MiB response head;
 * - anything else gets `200 OK` with the 2-byte body `ok`.
 */
export class RecordingOrigin {
  readonly origin: ScriptedOrigin;
  readonly log: ConnectionDelta[] = [];
  readonly requests: { connection: OriginConnection; request: ForwardedRequest }[] = [];
  /** Forwarded bytes that broke canonical framing, with their connection. */
  readonly errors: string[] = [];
  readonly #readers = new Map<OriginConnection, ForwardedRequestReader>();

  private constructor(origin: ScriptedOrigin) {
    this.origin = origin;
  }

  static async start(): Promise<RecordingOrigin> {
    const origin = await ScriptedOrigin.start();
    const recorder = new RecordingOrigin(origin);
    origin.onConnection((connection) => recorder.#attach(connection));
    return recorder;
  }

  get port(): number {
    return this.origin.port;
  }

  mark(): OriginMark {
    return { logLength: this.log.length, requestCount: this.requests.length, errorCount: this.errors.length };
  }

  /** Bytes received after `mark`, per connection, in the order the connections first received. */
  receivedSince(mark: OriginMark): ConnectionDelta[] {
    const byConnection = new Map<OriginConnection, string>();
    for (const entry of this.log.slice(mark.logLength)) {
      byConnection.set(entry.connection, (byConnection.get(entry.connection) ?? "") + entry.text);
    }
    return [...byConnection].map(([connection, text]) => ({ connection, text }));
  }

  requestsSince(mark: OriginMark): ForwardedRequest[] {
    return this.requests.slice(mark.requestCount).map((entry) => entry.request);
  }

  errorsSince(mark: OriginMark): string[] {
    return this.errors.slice(mark.errorCount);
  }

  /** Returns true when the origin has no partial request on `connection`. */
  connectionIdle(connection: OriginConnection): boolean {
    return this.#readers.get(connection)?.idle ?? true;
  }

  close(): Promise<void> {
    return this.origin.close();
  }

  #attach(connection: OriginConnection): void {
    const reader = new ForwardedRequestReader();
    this.#readers.set(connection, reader);
    connection.socket.on("data", (chunk: Buffer) => {
      const text = chunk.toString("latin1");
      this.log.push({ connection, text });
      let completed: ForwardedRequest[];
      try {
        completed = reader.push(text);
      } catch (error) {
        this.errors.push(`origin connection ${connection.index}: ${(error as Error).message}`);
        connection.destroy();
        return;
      }
      for (const request of completed) {
        this.requests.push({ connection, request });
        respond(connection, request);
      }
    });
  }
}

function respond(connection: OriginConnection, request: ForwardedRequest): void {
  if (request.method === "HEAD") {
    connection.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n");
    return;
  }
  switch (request.target) {
    case "/origin/http10-close":
      connection.end("HTTP/1.0 200 OK\r\n\r\nbody");
      return;
    case "/origin/trailer":
      connection.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-T: 1\r\n\r\n");
      return;
    case "/origin/huge-head":
      connection.write(`HTTP/1.1 200 OK\r\nX-Big: ${"b".repeat(1024 * 1024)}\r\nContent-Length: 2\r\n\r\nok`);
      return;
    default:
      connection.write(OK_RESPONSE);
  }
}

/** A running proxy with its origin, as every test of a runtime shares them. */
export interface ConformanceSetup {
  runtime: RuntimeName;
  proxy: ProxyProcess;
  origin: RecordingOrigin;
  /** Listener with the top-level limits. */
  mainPort: number;
  /** Listener whose own `limits` section overrides the top-level one with `STRICT_LIMITS`. */
  strictPort: number;
  /** Listener whose own `limits` section overrides the top-level one with `SLOW_LIMITS`. */
  slowPort: number;
  stop(): Promise<void>;
}

/**
 * Starts an origin and Cairn on `runtime` with three listeners and three routes: Host `a.test`
 * (which adds `x-route: site-a`), path prefix `/unreachable/` (to a peer that refuses
 * connections) and a default route.
 */
export async function startConformance(runtime: RuntimeName): Promise<ConformanceSetup> {
  const origin = await RecordingOrigin.start();
  const refusingPort = await findClosedPort();
  const strict = STRICT_LIMITS;
  const slow = SLOW_LIMITS;
  const config = writeTempConfig(`
listeners:
  - name: main
    address: 127.0.0.1:0
  - name: strict
    address: 127.0.0.1:0
    limits:
      maxRequestLineBytes: ${strict.maxRequestLineBytes}
      maxHeaderBytes: ${strict.maxHeaderBytes}
      maxHeaderCount: ${strict.maxHeaderCount}
      maxBodySize: ${strict.maxBodyBytes}
      maxChunkExtensionBytes: ${strict.maxChunkExtensionBytes}
      maxTrailerBytes: ${strict.maxTrailerBytes}
      maxRequestsPerConnection: ${strict.maxRequestsPerConnection}
  - name: slow
    address: 127.0.0.1:0
    limits:
      headerTimeout: ${slow.headerTimeoutMs}ms
      bodyTimeout: ${slow.bodyTimeoutMs}ms
      keepAliveTimeout: ${slow.keepAliveTimeoutMs}ms
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:${origin.port}
  refusing:
    peers:
      - url: http://127.0.0.1:${refusingPort}
routes:
  - name: site-a
    match:
      host: a.test
    upstream: app
    setHeaders:
      x-route: site-a
  - name: unreachable
    match:
      pathPrefix: /unreachable/
    upstream: refusing
  - name: default
    upstream: app
limits:
  maxBodySize: ${MAIN_MAX_BODY_BYTES}
`);
  let proxy: ProxyProcess;
  try {
    proxy = await startProxy(runtime, ["--config", config]);
  } catch (error) {
    await origin.close();
    throw error;
  }
  return {
    runtime,
    proxy,
    origin,
    mainPort: proxy.ports[0],
    strictPort: proxy.ports[1],
    slowPort: proxy.ports[2],
    async stop() {
      await proxy.stop("SIGKILL");
      await origin.close();
    },
  };
}

/** Finds a loopback port that nothing listens on, by binding it and releasing it. */
async function findClosedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : 0;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * Pause after each byte sent one byte per write. Without it, Cairn reads most of a request in
 * one read. With it, Cairn forwards a chunked body one chunk per byte on each runtime, which
 * shows that it read nearly every byte on its own.
 */
const BYTE_GAP_MS = 0.1;

/** Sends `data` in one write or one byte per write; the latter stops once the proxy has closed. */
export async function deliver(client: RawClient, data: string, delivery: Delivery): Promise<void> {
  if (delivery === "one write") {
    client.send(data);
    return;
  }
  // Without this, Nagle's algorithm would merge the one-byte writes into larger segments.
  client.socket.setNoDelay(true);
  await client.sendByteByByte(data, { untilClosed: true, gapMs: BYTE_GAP_MS });
}

/** Options for `canonicalHead`. */
export interface CanonicalOptions {
  /** `X-Forwarded-Host` value; `undefined` when the request had no authority. */
  forwardedHost?: string | undefined;
  /** Minor version of the client's request, as it appears in `Via`. */
  versionMinor?: number;
  /** Field lines a route adds, such as `setHeaders`. */
  routeFields?: string;
  /** `Content-Length` Cairn writes; omitted when undefined. */
  length?: number;
  chunked?: boolean;
}

/**
 * Builds the head Cairn forwards for a request: `startLine` with Cairn's `HTTP/1.1`, the client's
 * end-to-end field lines `fieldLines` (each ending in CRLF), the forwarding fields it adds,
 * and the framing field it writes last.
 */
export function canonicalHead(startLine: string, fieldLines: string, options: CanonicalOptions = {}): string {
  const forwardedHost = "forwardedHost" in options ? options.forwardedHost : "p.test";
  let head = `${startLine} HTTP/1.1\r\n${fieldLines}${options.routeFields ?? ""}`;
  head += "X-Forwarded-For: 127.0.0.1\r\nX-Forwarded-Proto: http\r\n";
  if (forwardedHost !== undefined) head += `X-Forwarded-Host: ${forwardedHost}\r\n`;
  head += `Via: 1.${options.versionMinor ?? 1} cairn\r\n`;
  if (options.length !== undefined) head += `Content-Length: ${options.length}\r\n`;
  if (options.chunked) head += "Transfer-Encoding: chunked\r\n";
  return head + "\r\n";
}

/** A request the origin must receive: its exact head, decoded body and framing. */
export interface ExpectedRequest {
  head: string;
  body?: string;
  chunked?: boolean;
}

/** Builds an expected forwarded request without a body. */
export function plain(startLine: string, fieldLines = "Host: p.test\r\n", options: CanonicalOptions = {}): ExpectedRequest {
  return { head: canonicalHead(startLine, fieldLines, options) };
}

/** Builds an expected forwarded request whose body Cairn frames with Content-Length. */
export function withLength(startLine: string, fieldLines: string, body: string, options: CanonicalOptions = {}): ExpectedRequest {
  return { head: canonicalHead(startLine, fieldLines, { ...options, length: body.length }), body };
}

/** Builds an expected forwarded request whose body Cairn forwards chunked. */
export function withChunks(startLine: string, fieldLines: string, body: string, options: CanonicalOptions = {}): ExpectedRequest {
  return { head: canonicalHead(startLine, fieldLines, { ...options, chunked: true }), body, chunked: true };
}

/** Time to wait before checking the origin, so that bytes Cairn still sends upstream arrive first. */
export const SETTLE_MS = 20;

/**
 * Checks a rejection: one response with `status` and `Connection: close`, then the proxy
 * closes, and no second response follows.
 */
export async function expectRejectedResponse(client: RawClient, status: number, label: string): Promise<RawResponse> {
  const response = await client.readResponse({ timeoutMs: 5_000 });
  assert.equal(response.status, status, `${label}: status`);
  assert.equal(header(response, "connection"), "close", `${label}: Connection: close`);
  assert.ok(await client.waitForClose(5_000), `${label}: proxy closes the client connection`);
  assert.equal(client.pending, "", `${label}: nothing follows the rejection`);
  return response;
}

/** Checks that the origin received nothing since `mark`. */
export async function expectNothingForwarded(origin: RecordingOrigin, mark: OriginMark, label: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  const received = origin.receivedSince(mark).map(({ text }) => text).join("");
  assert.equal(received, "", `${label}: origin receives no bytes`);
}

/**
 * Checks an aborted upstream request: every upstream connection that received bytes since
 * `mark` received only the start of `expectedHead` and its body, never a complete request, and
 * was closed by Cairn.
 */
export async function expectNothingOrAborted(
  origin: RecordingOrigin,
  mark: OriginMark,
  expectedHead: string,
  label: string,
): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, SETTLE_MS));
  for (const { connection, text: received } of origin.receivedSince(mark)) {
    const text = withoutRequestId(received);
    assert.ok(
      text.startsWith(expectedHead) || expectedHead.startsWith(text),
      `${label}: upstream received ${JSON.stringify(text.slice(0, 300))}, not the start of ${JSON.stringify(expectedHead)}`,
    );
    assert.ok(await waitFor(() => connection.finished, 3_000), `${label}: Cairn closes the aborted upstream connection`);
  }
  assert.deepEqual(origin.requestsSince(mark), [], `${label}: no complete request reaches the origin`);
  assert.deepEqual(origin.errorsSince(mark), [], `${label}: forwarded bytes are canonical`);
}

/**
 * Removes the `X-Request-Id` field Cairn adds to each forwarded head, so cases can state the
 * rest of the head exactly. The request id itself is checked by the unit tests.
 */
export function withoutRequestId(head: string): string {
  return head.replace(/\r\nX-Request-Id: [^\r\n]*(?=\r\n)/, "");
}

/** Checks that the origin received exactly `expected` since `mark`, and nothing half-sent. */
export function expectForwarded(origin: RecordingOrigin, mark: OriginMark, expected: ExpectedRequest[], label: string): void {
  assert.deepEqual(origin.errorsSince(mark), [], `${label}: forwarded bytes are canonical`);
  const received = origin.requestsSince(mark);
  assert.equal(received.length, expected.length, `${label}: number of requests the origin receives`);
  expected.forEach((want, i) => {
    const got = received[i];
    assert.equal(got.head.match(/\r\nX-Request-Id: /g)?.length, 1, `${label}: one X-Request-Id in request ${i + 1}`);
    assert.equal(withoutRequestId(got.head), want.head, `${label}: head of forwarded request ${i + 1}`);
    assert.equal(got.body, want.body ?? "", `${label}: body of forwarded request ${i + 1}`);
    assert.equal(got.chunked, want.chunked ?? false, `${label}: chunked framing of forwarded request ${i + 1}`);
    assert.deepEqual(got.trailers, [], `${label}: no trailer fields forwarded in request ${i + 1}`);
  });
  for (const { connection } of origin.receivedSince(mark)) {
    assert.ok(origin.connectionIdle(connection), `${label}: no partial request left on upstream connection ${connection.index}`);
  }
}

/** Returns the CPU time `pid` has used, in milliseconds, from Linux `/proc/PID/stat` (USER_HZ = 100). */
export function cpuTimeMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // utime and stime are fields 14 and 15 of stat(5); the slice starts at field 3.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}
