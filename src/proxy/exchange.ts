import { type BodyDecoder, CloseDelimitedDecoder, createBodyDecoder } from "../http/body.ts";
import { concatBytes } from "../http/bytes.ts";
import { encodeChunk, lastChunk } from "../http/chunked.ts";
import { getAllFields, getField, splitList } from "../http/fields.ts";
import { analyzeRequest, type BodyFraming, type RequestInfo, responseFraming, responseKeepsAlive } from "../http/framing.ts";
import { type FieldList, parseResponseHead, type RequestHead, type ResponseHead } from "../http/head-parser.ts";
import { HeadScanner } from "../http/head-scanner.ts";
import { HttpParseError } from "../http/parse-error.ts";
import { serializeRequestHead, serializeResponseHead } from "../http/serialize.ts";
import { keepAliveTimeoutMs } from "../pool/keep-alive.ts";
import type { UpstreamConnection, UpstreamOwner } from "../pool/pool.ts";
import type { RouteTarget, UpstreamPeer } from "./context.ts";
import type { DownstreamConnection } from "./downstream.ts";
import { ProxyError, toProxyError } from "./errors.ts";
import {
  checkForwarding,
  clientRequestId,
  downstreamFraming,
  type DownstreamFraming,
  type ForwardingDecision,
  downstreamResponseFields,
  relayedResponseFields,
  switchingProtocolsFields,
  upstreamRequestFields,
} from "./forward.ts";
import { Deadline } from "../net/deadline.ts";
import { Tunnel } from "./tunnel.ts";
import { UpstreamAttempts } from "./upstream-attempts.ts";

/** Response heads from origins are held to the same size limits as typical servers allow. */
const RESPONSE_HEAD_LIMITS = { maxStartLineBytes: 8 * 1024, maxHeadBytes: 64 * 1024, maxFieldCount: 200 };

/** Batched response bytes up to this size are copied into one buffer for a single write. */
const COALESCE_MAX_BYTES = 64 * 1024;

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
  /** The client's valid `X-Request-Id`, or a new UUID; sent upstream and logged. */
  readonly requestId: string;
  readonly startedAt = performance.now();
  readonly startedAtWall = Date.now();
  #info: RequestInfo | undefined;
  #route: RouteTarget | undefined;
  #peer: UpstreamPeer | undefined;
  /** The candidate peers and the attempt under way; set once a route matched. */
  #attempts: UpstreamAttempts | undefined;
  #upstream: UpstreamConnection | undefined;
  #finished = false;
  /** A pooled connection to `#peer` failed before any response byte; the next try there connects anew. */
  #forceFreshConnection = false;

  // Request side.
  #requestDecoder: BodyDecoder | undefined;
  #requestBodyDone = true;
  /** True while the upstream connection takes body bytes without backpressure. */
  #upstreamWritable = false;
  #requestSentAt = 0;

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
  #upstreamConnectMs: number | undefined;
  #upstreamPaused = false;
  /** Set while one upstream read is processed; writes to the client wait in #outgoing. */
  #batching = false;
  #outgoing: Uint8Array[] = [];
  #outgoingBytes = 0;
  /** The connection whose `responseDeadline` this exchange set, until it clears it. */
  #responseDeadlineOn: UpstreamConnection | undefined;
  #sendTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(downstream: DownstreamConnection, head: RequestHead) {
    this.downstream = downstream;
    this.head = head;
    this.requestId = clientRequestId(head.fields) ?? crypto.randomUUID();
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
    const header = (name: string) => getField(fields, name);
    this.#route = context.route({ host: info.authority, path: info.path, method: this.head.method, header });
    if (!this.#route) {
      this.#fail(new ProxyError("NO_ROUTE", "no route matches this request", { source: "downstream" }));
      return;
    }

    const clientAddress = this.downstream.clientAddress;
    const attempts = new UpstreamAttempts(
      this.#route,
      { header, path: info.path, clientAddress },
      { requestId: this.requestId, client: clientAddress, events: context.events },
    );
    if (!attempts.available) {
      this.#fail(attempts.noPeerError());
      return;
    }

    this.#attempts = attempts;
    attempts.start((error) => this.#fail(error));
    this.#connect();
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
          if (head.status >= 200 && this.#retryOnStatus(head.status)) return;
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

  /** Gets a connection to the current candidate peer and sends the request on it. */
  #connect(): void {
    const attempts = this.#attempts!;
    const peer = attempts.peer;
    // Only the peer whose pooled connection turned out stale needs a fresh connection.
    if (peer !== this.#peer) this.#forceFreshConnection = false;
    this.#peer = peer;
    // An idle connection is used at once, without the promise `acquire` would resolve later.
    const idle = this.#forceFreshConnection ? undefined : attempts.group.pool.takeIdle(peer.target, this);
    if (idle) {
      this.#useUpstream(idle);
      return;
    }
    attempts.acquire(this, this.#forceFreshConnection).then(
      (upstream) => {
        if (this.#finished || upstream.closed) {
          upstream.destroy();
          if (!this.#finished) this.#onAcquireFailed(new Error("connection closed at once"));
          return;
        }
        this.#useUpstream(upstream);
      },
      (error) => {
        if (this.#finished) return;
        this.#onAcquireFailed(error);
      },
    );
  }

  /**
   * Handles a connect failure or a full or timed-out connection queue. Nothing was sent, so
   * the request goes to the next candidate when the retry limits allow.
   */
  #onAcquireFailed(error: unknown): void {
    const failure = ProxyError.fromAcquire(error, this.#peer!.label);
    this.#attempts!.recordFailure(failure);
    if (failure.retryable && this.#attempts!.next(failure.message, failure.code)) {
      this.#connect();
      return;
    }
    this.#fail(this.#attempts!.explainNoRetry(failure));
  }

  #useUpstream(upstream: UpstreamConnection): void {
    this.#upstream = upstream;
    this.#upstreamConnectMs = upstream.reused ? undefined : upstream.connectMs;
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
      requestId: this.requestId,
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

  /** The whole request is upstream: the origin has a bounded time to respond. */
  #onRequestSent(): void {
    this.#upstreamWritable = false;
    if (this.#responseHead !== undefined) return;
    const upstream = this.#upstream!;
    upstream.responseDeadline.set(this.#route!.timeouts.responseHeaderMs);
    this.#responseDeadlineOn = upstream;
  }

  onResponseDeadline(): void {
    if (this.#responseDeadlineOn === undefined) return;
    const timeoutMs = this.#route!.timeouts.responseHeaderMs;
    this.#fail(new ProxyError("RESPONSE_TIMEOUT", `upstream sent no response head within ${timeoutMs} ms`, {
      source: "upstream",
    }));
  }

  // ---- Relaying the response ----

  /**
   * Reports a final status to passive health. When the status is one of `retries.onStatuses`,
   * repeating the request is safe and it has no body, sends the request to the next candidate
   * instead of relaying this response, if the retry limits allow. Returns true when it did.
   */
  #retryOnStatus(status: number): boolean {
    const attempts = this.#attempts!;
    attempts.respond(status);
    if (!attempts.retriesOnStatus(status) || !IDEMPOTENT_METHODS.has(this.head.method)) return false;
    if (this.#info!.framing.kind !== "none" || !attempts.next(`status ${status}`, undefined)) return false;
    // Nothing of this response reached the client. Its connection cannot be reused, because
    // its body was not read.
    this.#abandonUpstream();
    this.#connect();
    return true;
  }

  /** Closes the upstream connection before any of its response reached the client. */
  #abandonUpstream(): void {
    const upstream = this.#upstream;
    this.#upstream = undefined;
    upstream?.destroy();
    this.#clearResponseTimer();
    this.#responseScanner = undefined;
    this.#receivedResponseBytes = false;
    this.#upstreamPaused = false;
  }

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
    if (context.echoRequestId) setRequestIdField(fields, this.requestId);
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
    this.#attempts!.respond(101);
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
    if (reusable) {
      this.#route!.group.pool.release(upstream, { keepAliveTimeoutMs: keepAliveTimeoutMs(this.#responseHead!.fields) });
    } else {
      upstream.destroy();
    }
    this.#finish(undefined);
    this.downstream.finishExchange(this, !this.#closeAfter);
  }

  #onUpstreamLost(error: Error | undefined): void {
    if (this.#finished) return;
    const upstream = this.#upstream;
    const detail = error ? `: ${error.message}` : "";
    // The request may go again when repeating it is safe, nothing of its body was consumed and
    // no response byte arrived (RFC 9110 §9.2.2, RFC 9112 §9.3.1).
    const repeatable = !this.#receivedResponseBytes && IDEMPOTENT_METHODS.has(this.head.method) &&
      this.#info!.framing.kind === "none";
    // A pooled connection the origin closed while idle fails this way: the same peer gets one
    // more try on a fresh connection.
    if (repeatable && upstream?.reused && !this.#forceFreshConnection) {
      this.#abandonUpstream();
      this.#forceFreshConnection = true;
      this.#attempts!.reportFreshConnection(`pooled connection closed before the response${detail}`);
      this.#connect();
      return;
    }
    const failure = new ProxyError("UPSTREAM_CLOSED", `upstream connection closed before the response was complete${detail}`, {
      source: "upstream",
      cause: error,
    });
    if (repeatable) {
      this.#attempts!.recordFailure(failure);
      if (this.#attempts!.next(failure.message, failure.code)) {
        this.#abandonUpstream();
        this.#connect();
        return;
      }
    }
    this.#fail(this.#attempts!.explainNoRetry(failure));
  }

  // ---- Ending ----

  /** Ends the exchange on an error: a local error response if none started, else an abort. */
  #fail(error: ProxyError): void {
    if (this.#finished) return;
    this.#attempts?.recordFailure(error);
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
    const headOnly = this.head.method === "HEAD";
    this.#bytesOut = downstream.sendLocalResponse(error.status, error.clientMessage, headOnly, !keepAlive, {
      retryAfterSeconds: error.retryAfterSeconds,
      requestId: this.#echoedRequestId(),
    });
    this.#finish(error);
    downstream.finishExchange(this, keepAlive);
  }

  /** Responds to the request as its final recipient, without an upstream. */
  #answerLocally(status: number, detail: string): void {
    const downstream = this.downstream;
    const keepAlive = this.#requestBodyDone && this.#info!.keepAlive && !downstream.context.draining;
    this.#status = status;
    this.#bytesOut = downstream.sendLocalResponse(status, detail, this.head.method === "HEAD", !keepAlive, {
      requestId: this.#echoedRequestId(),
    });
    this.#finish(undefined);
    downstream.finishExchange(this, keepAlive);
  }

  #finish(error: ProxyError | undefined): void {
    this.#finished = true;
    this.#attempts?.finish();
    this.#upstreamWritable = false;
    this.#clearResponseTimer();
    this.#bodyDeadline.dispose();
    this.#idleDeadline.dispose();
    this.#clearSendTimer();
    const context = this.downstream.context;
    if (error && error.code !== "CLIENT_CLOSED") {
      context.events.exchangeError(error, this.#errorContext());
    }
    const info = this.#info;
    context.events.access({
      startTime: this.startedAtWall,
      requestId: this.requestId,
      client: this.downstream.clientAddress,
      method: this.head.method,
      target: this.head.target,
      httpVersion: `HTTP/1.${this.head.versionMinor}`,
      host: info?.authority,
      referer: getField(this.head.fields, "referer"),
      userAgent: getField(this.head.fields, "user-agent"),
      status: this.#status,
      bytesIn: this.#requestDecoder?.bodyBytes ?? 0,
      bytesOut: this.#bytesOut,
      route: this.#route?.name,
      upstream: this.#peer?.label,
      upstreamTimeMs: this.#upstreamTimeMs === undefined ? undefined : round(this.#upstreamTimeMs),
      upstreamConnectTimeMs: this.#upstreamConnectMs === undefined ? undefined : round(this.#upstreamConnectMs),
      totalTimeMs: round(performance.now() - this.startedAt),
      error: error?.detailCode,
    });
  }

  #echoedRequestId(): string | undefined {
    return this.downstream.context.echoRequestId ? this.requestId : undefined;
  }

  #errorContext(): { requestId: string; client: string; upstream?: string } {
    return { requestId: this.requestId, client: this.downstream.clientAddress, upstream: this.#peer?.label };
  }

  // ---- Timers ----

  #idleDeadline = new Deadline(() => {
    const timeoutMs = this.#route!.timeouts.idleMs;
    this.#fail(new ProxyError("UPSTREAM_IDLE_TIMEOUT", `upstream sent nothing for ${timeoutMs} ms`, {
      source: "upstream",
    }));
  });

  #bodyDeadline = new Deadline(() => {
    const timeoutMs = this.downstream.context.limits.bodyTimeoutMs;
    this.#fail(new ProxyError("REQUEST_TIMEOUT", `client sent no request body bytes for ${timeoutMs} ms`, {
      source: "downstream",
    }));
  });

  #startIdleTimer(): void {
    if (this.#upstreamPaused || this.#finished) {
      this.#idleDeadline.clear();
      return;
    }
    this.#idleDeadline.set(this.#route!.timeouts.idleMs);
  }

  #clearIdleTimer(): void {
    this.#idleDeadline.clear();
  }

  #startBodyTimer(): void {
    this.#bodyDeadline.set(this.downstream.context.limits.bodyTimeoutMs);
  }

  #clearBodyTimer(): void {
    this.#bodyDeadline.clear();
  }

  #clearResponseTimer(): void {
    const upstream = this.#responseDeadlineOn;
    if (upstream === undefined) return;
    this.#responseDeadlineOn = undefined;
    // Once released, the connection may belong to the next exchange, whose deadline stays.
    if (upstream.owner === this || upstream.owner === undefined) upstream.responseDeadline.clear();
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

/** Returns the protocol name of `name/version`, lower-cased for comparison. */
function protocolName(protocol: string): string {
  const slash = protocol.indexOf("/");
  return (slash === -1 ? protocol : protocol.slice(0, slash)).toLowerCase();
}

/** Replaces the `X-Request-Id` fields of a response head with one that carries `requestId`. */
function setRequestIdField(fields: FieldList, requestId: string): void {
  for (let i = fields.length - 2; i >= 0; i -= 2) {
    if (fields[i].toLowerCase() === "x-request-id") fields.splice(i, 2);
  }
  fields.push("X-Request-Id", requestId);
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
