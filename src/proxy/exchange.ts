import { type BodyDecoder, CloseDelimitedDecoder, createBodyDecoder } from "../http/body.ts";
import { concatBytes } from "../http/bytes.ts";
import { encodeChunk, lastChunk } from "../http/chunked.ts";
import { getAllFields, getField, splitList } from "../http/fields.ts";
import { analyzeRequest, type BodyFraming, type RequestInfo, responseFraming, responseKeepsAlive } from "../http/framing.ts";
import { parseResponseHead, type RequestHead, type ResponseHead } from "../http/head-parser.ts";
import { HeadScanner } from "../http/head-scanner.ts";
import { HttpParseError } from "../http/parse-error.ts";
import { serializeRequestHead, serializeResponseHead } from "../http/serialize.ts";
import { NetworkError } from "../net/types.ts";
import type { UpstreamConnection, UpstreamOwner } from "../pool/pool.ts";
import type { RouteTarget, UpstreamPeer } from "./context.ts";
import type { DownstreamConnection } from "./downstream.ts";
import { ProxyError, toProxyError } from "./errors.ts";
import {
  checkForwarding,
  downstreamFraming,
  type DownstreamFraming,
  type ForwardingDecision,
  downstreamResponseFields,
  relayedResponseFields,
  switchingProtocolsFields,
  upstreamRequestFields,
} from "./forward.ts";
import { Tunnel } from "./tunnel.ts";

/** Response heads from origins are held to the same size limits as typical servers allow. */
const RESPONSE_HEAD_LIMITS = { maxStartLineBytes: 8 * 1024, maxHeadBytes: 64 * 1024, maxFieldCount: 200 };

/** Batched response bytes up to this size are copied into one buffer for a single write. */
const COALESCE_MAX_BYTES = 64 * 1024;

/** Connect attempts per request, each to the next candidate peer. */
const MAX_CONNECT_ATTEMPTS = 3;

/** Methods whose repetition has the same effect as one request (RFC 9110 §9.2.2). */
const IDEMPOTENT_METHODS = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/**
 * One request and its response, from the parsed request head to the last response byte. It
 * connects upstream, streams the request body there and the response back, with backpressure
 * both ways, and decides whether each connection may be reused.
 */
export class Exchange implements UpstreamOwner {
  readonly downstream: DownstreamConnection;
  readonly head: RequestHead;
  readonly requestId = crypto.randomUUID();
  readonly startedAt = performance.now();
  readonly startedAtWall = Date.now();
  #info: RequestInfo | undefined;
  #route: RouteTarget | undefined;
  #peer: UpstreamPeer | undefined;
  #upstream: UpstreamConnection | undefined;
  #finished = false;
  /** A pooled connection failed before any response byte; the next attempt connects anew. */
  #forceFreshConnection = false;

  // Request side.
  #requestDecoder: BodyDecoder | undefined;
  #requestBodyDone = true;
  /** True while the upstream connection takes body bytes without backpressure. */
  #upstreamWritable = false;
  #requestSentAt = 0;
  #bodyTimer: ReturnType<typeof setTimeout> | undefined;

  // Response side.
  #responseScanner: HeadScanner | undefined;
  #responseHead: ResponseHead | undefined;
  #responseFraming: BodyFraming | undefined;
  #responseDecoder: BodyDecoder | undefined;
  #toClient: DownstreamFraming = "none";
  #responseStarted = false;
  #receivedResponseBytes = false;
  #closeAfter = false;
  #status = 0;
  #bytesOut = 0;
  #upstreamTimeMs: number | undefined;
  #upstreamPaused = false;
  /** Set while one upstream read is processed; writes to the client wait in #outgoing. */
  #batching = false;
  #outgoing: Uint8Array[] = [];
  #outgoingBytes = 0;
  #responseTimer: ReturnType<typeof setTimeout> | undefined;
  #sendTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(downstream: DownstreamConnection, head: RequestHead) {
    this.downstream = downstream;
    this.head = head;
  }

  /** True while request body bytes can be passed to `feedBody`. */
  get acceptsBody(): boolean {
    return this.#upstreamWritable && !this.#requestBodyDone && !this.#finished;
  }

  /** True while the request body is still incomplete. */
  get needsBody(): boolean {
    return !this.#requestBodyDone && !this.#finished;
  }

  /** Validates and routes the request, then connects upstream. */
  start(): void {
    const context = this.downstream.context;
    let info: RequestInfo;
    let decision: ForwardingDecision;
    try {
      info = analyzeRequest(this.head, context.limits.maxBodyBytes);
      decision = checkForwarding(this.head);
    } catch (error) {
      this.#fail(error instanceof HttpParseError ? ProxyError.fromRequestParse(error) : toProxyError(error));
      return;
    }
    this.#info = info;
    this.#requestDecoder = createBodyDecoder(info.framing, {
      maxChunkLineBytes: context.limits.maxChunkExtensionBytes,
      maxTrailerBytes: context.limits.maxTrailerBytes,
      maxTrailerCount: context.limits.maxHeaderCount,
      maxBodyBytes: context.limits.maxBodyBytes,
    });
    this.#requestBodyDone = this.#requestDecoder.done;
    if (decision === "answer") {
      this.#answerLocally(200, "OPTIONS with Max-Forwards 0 is answered by the proxy");
      return;
    }
    const fields = this.head.fields;
    this.#route = context.route({
      host: info.authority,
      path: info.path,
      method: this.head.method,
      header: (name) => getField(fields, name),
    });
    if (!this.#route) {
      this.#fail(new ProxyError("NO_ROUTE", "no route matches this request", { source: "downstream" }));
      return;
    }
    this.#connect(this.#route.group.balancer.candidates(), 0);
  }

  /**
   * Consumes request body bytes from `chunk` and relays them upstream. Returns the index just
   * past the bytes consumed; the rest belongs to the next request.
   */
  feedBody(chunk: Uint8Array): number {
    const decoder = this.#requestDecoder!;
    let end: number;
    try {
      end = decoder.decode(chunk, 0, (data) => this.#writeRequestBody(data));
    } catch (error) {
      this.#fail(error instanceof HttpParseError ? ProxyError.fromRequestParse(error) : toProxyError(error));
      return chunk.length;
    }
    if (this.#finished) return end;
    if (decoder.done) {
      this.#requestBodyDone = true;
      this.#clearBodyTimer();
      if (this.#info!.framing.kind === "chunked") this.#upstream?.write(lastChunk());
      this.#onRequestSent();
    } else if (this.#upstreamWritable) {
      this.#startBodyTimer();
    }
    return end;
  }

  onClientEnd(): void {
    if (this.#requestBodyDone || this.#finished) return;
    this.#fail(new ProxyError("CLIENT_CLOSED", "client closed the connection during the request body", {
      source: "downstream",
    }));
  }

  onClientClose(error: Error | undefined, byShutdown = false): void {
    if (this.#finished) return;
    if (byShutdown) {
      this.#fail(new ProxyError("SHUTDOWN", "connection closed at the shutdown deadline", { source: "internal" }));
      return;
    }
    const detail = error ? `: ${error.message}` : "";
    this.#fail(new ProxyError("CLIENT_CLOSED", `client connection closed before the response was complete${detail}`, {
      source: "downstream",
      cause: error,
    }));
  }

  onDownstreamDrain(): void {
    this.#clearSendTimer();
    if (this.#upstreamPaused && this.#upstream) {
      this.#upstreamPaused = false;
      this.#upstream.connection.resume();
      this.#startIdleTimer();
    }
  }

  // ---- Upstream events ----

  onUpstreamDrain(): void {
    if (this.#finished || this.#upstreamWritable || this.#requestBodyDone || !this.#upstream) return;
    this.#upstreamWritable = true;
    this.#startBodyTimer();
    this.downstream.pump();
  }

  onUpstreamData(chunk: Uint8Array): void {
    if (this.#finished) return;
    this.#receivedResponseBytes = true;
    // What one read produces (typically a head and a body) leaves in one write.
    this.#batching = true;
    try {
      this.#readResponse(chunk);
    } finally {
      this.#flushToClient();
    }
  }

  #readResponse(chunk: Uint8Array): void {
    let offset = 0;
    try {
      while (offset < chunk.length && !this.#finished) {
        if (this.#responseDecoder === undefined) {
          const result = this.#responseScanner!.push(chunk, offset);
          if (result === undefined) return;
          offset = result.end;
          const head = parseResponseHead(result.head);
          if (head.status === 101 && this.#info!.upgrade !== undefined) {
            this.#startTunnel(head, chunk.subarray(offset));
            return;
          }
          this.#onResponseHead(head);
          // #onResponseHead sets the decoder for a final response; interim ones leave it unset.
          if ((this.#responseDecoder as BodyDecoder | undefined)?.done) {
            this.#completeResponse(offset < chunk.length);
            return;
          }
          continue;
        }
        offset = this.#responseDecoder.decode(chunk, offset, (data) => this.#writeResponseBody(data));
        if (this.#responseDecoder.done) {
          this.#completeResponse(offset < chunk.length);
          return;
        }
      }
    } catch (error) {
      if (error instanceof HttpParseError) this.#fail(ProxyError.fromResponseParse(error));
      else this.#fail(toProxyError(error));
      return;
    }
    if (this.#responseDecoder && !this.#finished) this.#startIdleTimer();
  }

  onUpstreamEnd(): void {
    if (this.#finished) return;
    const decoder = this.#responseDecoder;
    if (decoder instanceof CloseDelimitedDecoder) {
      decoder.finish();
      this.#completeResponse(false);
      return;
    }
    this.#onUpstreamLost(undefined);
  }

  onUpstreamClose(error: Error | undefined): void {
    // While a connect is under way the promise reports the failure instead.
    if (this.#finished || this.#upstream === undefined) return;
    this.#onUpstreamLost(error);
  }

  // ---- Connecting and sending the request ----

  #connect(candidates: UpstreamPeer[], attempt: number): void {
    const route = this.#route!;
    const peer = candidates[attempt % candidates.length];
    this.#peer = peer;
    const pool = route.group.pool;
    const idle = this.#forceFreshConnection ? undefined : pool.takeIdle(peer.target, this);
    if (idle) {
      this.#useUpstream(idle);
      return;
    }
    pool.connect(peer.target, this).then(
      (upstream) => {
        if (this.#finished || upstream.closed) {
          upstream.destroy();
          if (!this.#finished) this.#retryConnect(candidates, attempt, new Error("connection closed at once"));
          return;
        }
        this.#useUpstream(upstream);
      },
      (error) => {
        if (this.#finished) return;
        this.#retryConnect(candidates, attempt, error);
      },
    );
  }

  #retryConnect(candidates: UpstreamPeer[], attempt: number, error: unknown): void {
    const failure = error instanceof NetworkError && error.code === "ETIMEDOUT"
      ? new ProxyError("CONNECT_TIMEOUT", `connect to ${this.#peer!.label} timed out`, {
        source: "upstream",
        retryable: true,
        cause: error,
      })
      : ProxyError.fromConnect(error, this.#peer!.label);
    const attempts = Math.min(MAX_CONNECT_ATTEMPTS, candidates.length);
    if (attempt + 1 < attempts) {
      this.downstream.context.events.exchangeError(failure, this.#errorContext());
      this.#connect(candidates, attempt + 1);
      return;
    }
    this.#fail(failure);
  }

  #useUpstream(upstream: UpstreamConnection): void {
    this.#upstream = upstream;
    this.#responseScanner = new HeadScanner("response", RESPONSE_HEAD_LIMITS);
    const info = this.#info!;
    const route = this.#route!;
    const peer = this.#peer!;
    const fields = upstreamRequestFields(this.head, info, {
      clientAddress: this.downstream.clientAddress,
      protocol: this.downstream.context.protocol,
      peerAuthority: peer.authority,
      hostRewrite: route.hostRewrite,
      setFields: route.setFields,
      removeFields: route.removeFields,
    });
    this.#requestSentAt = performance.now();
    const writable = upstream.write(serializeRequestHead(this.head.method, info.upstreamTarget, fields));
    if (this.#requestBodyDone) {
      this.#onRequestSent();
      return;
    }
    this.#upstreamWritable = writable;
    this.#startBodyTimer();
    this.downstream.pump();
  }

  #writeRequestBody(data: Uint8Array): void {
    const upstream = this.#upstream!;
    const chunked = this.#info!.framing.kind === "chunked";
    if (!upstream.write(chunked ? encodeChunk(data) : data)) {
      // The client is not the one holding things up while the origin is slow to read.
      this.#upstreamWritable = false;
      this.#clearBodyTimer();
    }
  }

  /** The whole request is upstream: the origin has a bounded time to answer. */
  #onRequestSent(): void {
    this.#upstreamWritable = false;
    if (this.#responseHead !== undefined) return;
    const timeoutMs = this.#route!.group.timeouts.responseHeaderMs;
    this.#responseTimer = setTimeout(() => {
      this.#fail(new ProxyError("RESPONSE_TIMEOUT", `upstream sent no response head within ${timeoutMs} ms`, {
        source: "upstream",
      }));
    }, timeoutMs);
  }

  // ---- Relaying the response ----

  #onResponseHead(head: ResponseHead): void {
    const clientMinor = this.head.versionMinor;
    if (head.status < 200) {
      if (head.status === 101) {
        // A server must not switch to a protocol the client did not ask for (RFC 9110 §15.2.2).
        throw new HttpParseError("INVALID_STATUS", "101 Switching Protocols without an upgrade request", -1, 502);
      }
      // Interim responses go to HTTP/1.1 clients only (RFC 9110 §15.2).
      if (clientMinor === 1) {
        this.#writeToClient(serializeResponseHead(head.status, head.reason, relayedResponseFields(head)));
      }
      return;
    }
    this.#clearResponseTimer();
    this.#upstreamTimeMs = performance.now() - this.#requestSentAt;
    const framing = responseFraming(head, this.head.method);
    if ((framing.kind === "chunked" || framing.kind === "close") && framing.codings && clientMinor === 0) {
      // HTTP/1.0 has no Transfer-Encoding to tell the client how the body is encoded.
      throw new HttpParseError("UNSUPPORTED_TRANSFER_CODING", `transfer coding ${framing.codings.join(", ")} cannot be relayed to an HTTP/1.0 client`, -1, 502);
    }
    this.#responseHead = head;
    this.#responseFraming = framing;
    this.#toClient = downstreamFraming(framing, clientMinor);
    const context = this.downstream.context;
    this.#closeAfter = !this.#info!.keepAlive || context.draining || this.#toClient === "close" ||
      !this.#requestBodyDone ||
      this.downstream.requestCount >= context.limits.maxRequestsPerConnection;
    this.#status = head.status;
    const fields = downstreamResponseFields(head, framing, this.#toClient, this.#closeAfter);
    this.#responseStarted = true;
    this.#writeToClient(serializeResponseHead(head.status, head.reason, fields));
    this.#responseDecoder = createBodyDecoder(framing);
  }

  /**
   * Switches to a two-way tunnel after the origin's 101. The origin must name only protocols
   * the client asked for (RFC 9110 §7.8); bytes after the 101 head are already tunnel bytes.
   */
  #startTunnel(head: ResponseHead, rest: Uint8Array): void {
    const requested = new Set(splitList([this.#info!.upgrade!]).map(protocolName));
    const offered = splitList(getAllFields(head.fields, "upgrade"));
    if (offered.length === 0 || !offered.every((protocol) => requested.has(protocolName(protocol)))) {
      throw new HttpParseError("INVALID_STATUS", "101 Switching Protocols to a protocol the client did not ask for", -1, 502);
    }
    if (!this.#requestBodyDone) {
      throw new HttpParseError("INVALID_STATUS", "101 Switching Protocols before the request body was complete", -1, 502);
    }
    this.#clearResponseTimer();
    this.#upstreamTimeMs = performance.now() - this.#requestSentAt;
    this.#status = 101;
    this.#responseStarted = true;
    this.#flushToClient();
    this.downstream.write(serializeResponseHead(101, head.reason, switchingProtocolsFields(head, offered.join(", "))));
    const upstream = this.#upstream!;
    this.#upstream = undefined;
    if (this.#upstreamPaused) upstream.connection.resume();
    this.#upstreamPaused = false;
    const tunnel = new Tunnel(this.downstream.connection, upstream);
    this.#finish(undefined);
    this.downstream.switchToTunnel(this, tunnel);
    tunnel.onUpstreamData(rest);
  }

  #writeResponseBody(data: Uint8Array): void {
    this.#bytesOut += data.length;
    this.#writeToClient(this.#toClient === "chunked" ? encodeChunk(data) : data);
  }

  #writeToClient(bytes: Uint8Array): void {
    if (this.#batching) {
      this.#outgoing.push(bytes);
      this.#outgoingBytes += bytes.length;
      return;
    }
    this.#writeNow(bytes);
  }

  /** Writes what was batched, as one buffer when it is small. */
  #flushToClient(): void {
    this.#batching = false;
    const outgoing = this.#outgoing;
    if (outgoing.length === 0) return;
    this.#outgoing = [];
    const total = this.#outgoingBytes;
    this.#outgoingBytes = 0;
    if (outgoing.length === 1) {
      this.#writeNow(outgoing[0]);
    } else if (total <= COALESCE_MAX_BYTES) {
      this.#writeNow(concatBytes(outgoing, total));
    } else {
      for (const bytes of outgoing) this.#writeNow(bytes);
    }
  }

  #writeNow(bytes: Uint8Array): void {
    if (this.downstream.write(bytes)) return;
    if (!this.#upstreamPaused && this.#upstream) {
      this.#upstreamPaused = true;
      this.#upstream.connection.pause();
      this.#clearIdleTimer();
    }
    this.#startSendTimer();
  }

  /** The response is complete; `extraBytes` is true when the origin sent more than it. */
  #completeResponse(extraBytes: boolean): void {
    if (this.#toClient === "chunked") this.#writeToClient(lastChunk());
    this.#flushToClient();
    const upstream = this.#upstream!;
    const reusable = !extraBytes && this.#requestBodyDone && this.#responseFraming!.kind !== "close" &&
      responseKeepsAlive(this.#responseHead!) && !upstream.closed;
    if (this.#upstreamPaused) upstream.connection.resume();
    this.#upstreamPaused = false;
    this.#upstream = undefined;
    if (reusable) this.#route!.group.pool.release(upstream);
    else upstream.destroy();
    this.#finish(undefined);
    this.downstream.finishExchange(this, !this.#closeAfter);
  }

  #onUpstreamLost(error: Error | undefined): void {
    if (this.#finished) return;
    const upstream = this.#upstream;
    const detail = error ? `: ${error.message}` : "";
    // A pooled connection the origin closed while idle fails before any response byte. The
    // request may go again on a fresh connection when repeating it is safe and nothing of its
    // body was consumed (RFC 9112 §9.3.1).
    if (
      upstream?.reused && !this.#receivedResponseBytes && !this.#forceFreshConnection &&
      IDEMPOTENT_METHODS.has(this.head.method) && this.#info!.framing.kind === "none"
    ) {
      this.#upstream = undefined;
      upstream.destroy();
      this.#clearResponseTimer();
      this.#forceFreshConnection = true;
      this.#responseScanner = undefined;
      this.#connect([this.#peer!], 0);
      return;
    }
    this.#fail(new ProxyError("UPSTREAM_CLOSED", `upstream connection closed before the response was complete${detail}`, {
      source: "upstream",
      cause: error,
    }));
  }

  // ---- Ending ----

  /** Ends the exchange on an error: a local error response if none started, else an abort. */
  #fail(error: ProxyError): void {
    if (this.#finished) return;
    this.#flushToClient();
    const upstream = this.#upstream;
    this.#upstream = undefined;
    upstream?.destroy();
    const downstream = this.downstream;
    if (error.code === "CLIENT_CLOSED" || error.code === "SHUTDOWN") {
      this.#status = error.code === "SHUTDOWN" ? error.status : 499;
      this.#finish(error);
      downstream.destroy();
      downstream.finishExchange(this, false);
      return;
    }
    if (this.#responseStarted) {
      // The head is out: the client must see the response as incomplete, so close without
      // a terminating chunk or the missing bytes.
      this.#finish(error);
      downstream.destroy();
      downstream.finishExchange(this, false);
      return;
    }
    // After an invalid request or a timeout the position in the byte stream is unknown, and an
    // unread body would be read as the next request: in those cases the connection closes. So
    // it does after a failed upgrade, because the client may already send the new protocol.
    const keepAlive = error.code !== "BAD_REQUEST" && error.code !== "REQUEST_TIMEOUT" &&
      this.#requestBodyDone && this.#info !== undefined && this.#info.keepAlive &&
      this.#info.upgrade === undefined && !downstream.context.draining;
    this.#status = error.status;
    this.#bytesOut = downstream.sendLocalResponse(error.status, error.clientMessage, this.head.method === "HEAD", !keepAlive);
    this.#finish(error);
    downstream.finishExchange(this, keepAlive);
  }

  /** Answers the request as its final recipient, without an upstream. */
  #answerLocally(status: number, detail: string): void {
    const downstream = this.downstream;
    const keepAlive = this.#requestBodyDone && this.#info!.keepAlive && !downstream.context.draining;
    this.#status = status;
    this.#bytesOut = downstream.sendLocalResponse(status, detail, this.head.method === "HEAD", !keepAlive);
    this.#finish(undefined);
    downstream.finishExchange(this, keepAlive);
  }

  #finish(error: ProxyError | undefined): void {
    this.#finished = true;
    this.#upstreamWritable = false;
    this.#clearResponseTimer();
    this.#clearBodyTimer();
    this.#clearIdleTimer();
    this.#clearSendTimer();
    const context = this.downstream.context;
    if (error && error.code !== "CLIENT_CLOSED") {
      context.events.exchangeError(error, this.#errorContext());
    }
    const info = this.#info;
    context.events.access({
      time: new Date(this.startedAtWall).toISOString(),
      requestId: this.requestId,
      client: this.downstream.clientAddress,
      method: this.head.method,
      target: this.head.target,
      host: info?.authority,
      status: this.#status,
      bytesIn: this.#requestDecoder?.bodyBytes ?? 0,
      bytesOut: this.#bytesOut,
      route: this.#route?.name,
      upstream: this.#peer?.label,
      upstreamTimeMs: this.#upstreamTimeMs === undefined ? undefined : round(this.#upstreamTimeMs),
      totalTimeMs: round(performance.now() - this.startedAt),
      error: error?.detailCode,
    });
  }

  #errorContext(): { requestId: string; client: string; upstream?: string } {
    return { requestId: this.requestId, client: this.downstream.clientAddress, upstream: this.#peer?.label };
  }

  // ---- Timers ----

  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  #startIdleTimer(): void {
    this.#clearIdleTimer();
    if (this.#upstreamPaused || this.#finished) return;
    const timeoutMs = this.#route!.group.timeouts.idleMs;
    this.#idleTimer = setTimeout(() => {
      this.#fail(new ProxyError("UPSTREAM_IDLE_TIMEOUT", `upstream sent nothing for ${timeoutMs} ms`, {
        source: "upstream",
      }));
    }, timeoutMs);
  }

  #clearIdleTimer(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  #startBodyTimer(): void {
    this.#clearBodyTimer();
    const timeoutMs = this.downstream.context.limits.bodyTimeoutMs;
    this.#bodyTimer = setTimeout(() => {
      this.#fail(new ProxyError("REQUEST_TIMEOUT", `client sent no request body bytes for ${timeoutMs} ms`, {
        source: "downstream",
      }));
    }, timeoutMs);
  }

  #clearBodyTimer(): void {
    if (this.#bodyTimer !== undefined) clearTimeout(this.#bodyTimer);
    this.#bodyTimer = undefined;
  }

  #clearResponseTimer(): void {
    if (this.#responseTimer !== undefined) clearTimeout(this.#responseTimer);
    this.#responseTimer = undefined;
  }

  #startSendTimer(): void {
    if (this.#sendTimer !== undefined) return;
    const timeoutMs = this.downstream.context.limits.bodyTimeoutMs;
    this.#sendTimer = setTimeout(() => {
      this.#fail(new ProxyError("CLIENT_TIMEOUT", `client read nothing for ${timeoutMs} ms`, {
        source: "downstream",
      }));
    }, timeoutMs);
  }

  #clearSendTimer(): void {
    if (this.#sendTimer !== undefined) clearTimeout(this.#sendTimer);
    this.#sendTimer = undefined;
  }
}

/** The protocol name of `name/version`, lower-cased for comparison. */
function protocolName(protocol: string): string {
  const slash = protocol.indexOf("/");
  return (slash === -1 ? protocol : protocol.slice(0, slash)).toLowerCase();
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
