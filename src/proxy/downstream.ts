import { concatBytes } from "../http/bytes.ts";
import { httpDate } from "../http/date.ts";
import { type RequestHead, parseRequestHead } from "../http/head-parser.ts";
import { HeadScanner } from "../http/head-scanner.ts";
import { HttpParseError } from "../http/parse-error.ts";
import { serializeResponseHead } from "../http/serialize.ts";
import { reasonPhrase } from "../http/status.ts";
import type { Connection, ConnectionHandlers } from "../net/types.ts";
import type { ProxyContext } from "./context.ts";
import { ProxyError } from "./errors.ts";
import { Exchange } from "./exchange.ts";
import { Deadline } from "../net/deadline.ts";
import type { Tunnel } from "./tunnel.ts";

/**
 * Bytes read ahead of the current exchange before reading pauses: enough for a pipelined
 * request or a request body in flight, small enough that a stalled upstream keeps little in memory.
 */
const INBOX_HIGH_WATER_BYTES = 64 * 1024;

const textEncoder = new TextEncoder();

/** How long a connection Cairn has finished with waits for the client to close its side. */
const LINGER_TIMEOUT_MS = 5_000;

/**
 * One client connection: reads request heads, runs one exchange at a time, and keeps the
 * connection alive between them. Pipelined requests wait in the inbox until the exchange before
 * them is done, so responses go out in request order (RFC 9112 §9.3.2).
 */
export class DownstreamConnection implements ConnectionHandlers {
  readonly connection: Connection;
  readonly context: ProxyContext;
  readonly clientAddress: string;
  /** Exchanges started on this connection. */
  requestCount = 0;
  #scanner: HeadScanner;
  #inbox: Uint8Array[] = [];
  #inboxBytes = 0;
  #exchange: Exchange | undefined;
  /** Set once the connection became a tunnel; no HTTP is parsed after that. */
  #tunnel: Tunnel | undefined;
  #paused = false;
  #peerEnded = false;
  #closing = false;
  #closed = false;
  #abortedByShutdown = false;
  /** When the current request head began, for the access log of a rejected head. */
  #headStartedAt = 0;
  #pumping = false;
  #pumpAgain = false;
  /**
   * One deadline serves both waits of a connection, which never overlap: for the next request
   * (keep-alive) and for the rest of a request head. One timer per connection keeps 10,000 idle
   * connections cheap.
   */
  #deadline = new Deadline(() => this.#onDeadline());
  #waitingFor: "idle" | "head" = "idle";
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;
  #onClosed: (connection: DownstreamConnection) => void;

  constructor(
    connection: Connection,
    context: ProxyContext,
    onClosed: (connection: DownstreamConnection) => void,
  ) {
    this.connection = connection;
    this.context = context;
    this.#onClosed = onClosed;
    this.clientAddress = connection.remoteAddress.hostname;
    const limits = context.limits;
    this.#scanner = new HeadScanner("request", {
      maxStartLineBytes: limits.maxRequestLineBytes,
      maxHeadBytes: limits.maxHeaderBytes,
      maxFieldCount: limits.maxHeaderCount,
    });
    connection.setNoDelay(true);
    this.#startIdleTimer();
  }

  /** True while no exchange runs and no request head has begun. */
  get idle(): boolean {
    return this.#exchange === undefined && !this.#scanner.started && this.#inboxBytes === 0;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** True once nothing more will be sent: closed, or closing with every byte flushed. */
  get drained(): boolean {
    return this.#closed ||
      (this.#closing && this.#exchange === undefined && this.connection.bufferedAmount === 0);
  }

  data(chunk: Uint8Array): void {
    if (this.#tunnel) {
      this.#tunnel.fromClient(chunk);
      return;
    }
    if (this.#closing) return;
    this.#inbox.push(chunk);
    this.#inboxBytes += chunk.length;
    this.pump();
    if (this.#inboxBytes > INBOX_HIGH_WATER_BYTES && !this.#paused && !this.#closing) {
      this.#paused = true;
      this.connection.pause();
    }
  }

  drain(): void {
    if (this.#tunnel) this.#tunnel.clientDrained();
    else this.#exchange?.onDownstreamDrain();
  }

  end(): void {
    this.#peerEnded = true;
    if (this.#tunnel) {
      this.#tunnel.clientEnded();
      return;
    }
    this.pump();
  }

  close(error: Error | undefined): void {
    this.#closed = true;
    this.#closing = true;
    this.#clearTimers();
    const exchange = this.#exchange;
    this.#exchange = undefined;
    exchange?.onClientClose(error, this.#abortedByShutdown);
    this.#tunnel?.clientClosed();
    this.#onClosed(this);
  }

  /**
   * Processes buffered bytes: the body of the current exchange, or the next request head. Calls
   * made while it runs (an exchange finishing inside it) make it loop again instead of nesting.
   */
  pump(): void {
    if (this.#pumping) {
      this.#pumpAgain = true;
      return;
    }
    this.#pumping = true;
    try {
      do {
        this.#pumpAgain = false;
        this.#pumpOnce();
      } while (this.#pumpAgain && !this.#closing);
    } finally {
      this.#pumping = false;
    }
    if (this.#peerEnded && this.#exchange === undefined && !this.#closing) {
      // Every complete request was served. Bytes left over are a head the client never finished,
      // and there is no request to respond to.
      if (this.#scanner.started || this.#inboxBytes > 0) this.destroy();
      else this.#close();
      return;
    }
    if (this.#paused && this.#inboxBytes <= INBOX_HIGH_WATER_BYTES / 2 && !this.#closing) {
      this.#paused = false;
      this.connection.resume();
    }
  }

  #pumpOnce(): void {
    while (!this.#closing) {
      const exchange = this.#exchange;
      if (exchange) {
        while (exchange.acceptsBody && this.#inbox.length > 0) {
          const chunk = this.#inbox[0];
          const end = exchange.feedBody(chunk);
          if (end >= chunk.length) this.#inbox.shift();
          else this.#inbox[0] = chunk.subarray(end);
          this.#inboxBytes -= end;
        }
        if (exchange.needsBody && this.#inbox.length === 0 && this.#peerEnded) {
          exchange.onClientEnd();
        }
        if (this.#exchange === exchange) return;
        continue;
      }
      if (this.#inbox.length === 0 || !this.#readHead()) return;
    }
  }

  /** Writes response bytes; false means the client is not keeping up. */
  write(bytes: Uint8Array): boolean {
    if (this.#closed) return true;
    return this.connection.write(bytes);
  }

  /** Called by the exchange when its response is complete. */
  finishExchange(exchange: Exchange, keepAlive: boolean): void {
    if (this.#exchange !== exchange) return;
    this.#exchange = undefined;
    if (!keepAlive || this.context.draining) {
      this.#close();
      return;
    }
    this.#startIdleTimer();
    this.pump();
  }

  /** Closes after the current exchange, or now when there is none. A tunnel stays open. */
  closeWhenIdle(): void {
    if (this.#exchange === undefined && this.#tunnel === undefined) this.#close();
  }

  /**
   * Hands the connection to a tunnel after a 101: bytes the client sent after its request are
   * the first tunnel bytes, and from now on every event goes to the tunnel.
   */
  switchToTunnel(exchange: Exchange, tunnel: Tunnel): void {
    if (this.#exchange !== exchange) {
      tunnel.destroy();
      return;
    }
    this.#exchange = undefined;
    this.#tunnel = tunnel;
    this.#clearTimers();
    this.#scanner.reset();
    const buffered = this.#inbox;
    this.#inbox = [];
    this.#inboxBytes = 0;
    for (const chunk of buffered) tunnel.fromClient(chunk);
    if (this.#paused) {
      this.#paused = false;
      this.connection.resume();
    }
    if (this.#peerEnded) tunnel.clientEnded();
  }

  /** Sends a response Cairn generated itself (an error), then closes the connection. */
  respondWithError(error: ProxyError, requestHead?: RequestHead): void {
    this.sendLocalResponse(error.status, error.clientMessage, requestHead?.method === "HEAD", true);
    this.#close();
  }

  /**
   * Writes a small plain-text response that Cairn generated, with `Retry-After` and
   * `X-Request-Id` when the options give them. Returns the body bytes written.
   */
  sendLocalResponse(
    status: number,
    detail: string,
    headOnly: boolean,
    closeAfter: boolean,
    options: { retryAfterSeconds?: number; requestId?: string } = {},
  ): number {
    const { retryAfterSeconds, requestId } = options;
    const reason = reasonPhrase(status);
    const body = textEncoder.encode(`${status} ${reason}: ${detail}\n`);
    const fields = [
      "Date",
      httpDate(),
      "Content-Type",
      "text/plain; charset=utf-8",
      "Content-Length",
      String(body.length),
    ];
    if (retryAfterSeconds !== undefined) fields.push("Retry-After", String(retryAfterSeconds));
    if (requestId !== undefined) fields.push("X-Request-Id", requestId);
    if (closeAfter) fields.push("Connection", "close");
    const head = serializeResponseHead(status, reason, fields);
    this.write(headOnly ? head : concatBytes([head, body]));
    return headOnly ? 0 : body.length;
  }

  /** Closes the connection at once because the shutdown deadline passed. */
  abortForShutdown(): void {
    this.#abortedByShutdown = true;
    this.destroy();
  }

  /** Closes the connection at once, dropping queued bytes; used when a response cannot finish. */
  destroy(): void {
    this.#closing = true;
    this.#clearTimers();
    this.connection.destroy();
  }

  /** Tries to read one request head from the inbox; returns true when an exchange started. */
  #readHead(): boolean {
    if (!this.#scanner.started) {
      this.#stopIdleTimer();
      this.#startHeadTimer();
      this.#headStartedAt = performance.now();
    }
    let head: Uint8Array | undefined;
    try {
      while (this.#inbox.length > 0 && head === undefined) {
        const chunk = this.#inbox.shift()!;
        const result = this.#scanner.push(chunk, 0);
        if (result === undefined) {
          this.#inboxBytes -= chunk.length;
          continue;
        }
        head = result.head;
        this.#inboxBytes -= result.end;
        if (result.end < chunk.length) this.#inbox.unshift(chunk.subarray(result.end));
      }
    } catch (error) {
      this.#rejectHead(error);
      return false;
    }
    if (head === undefined) return false;
    this.#clearHeadTimer();
    let request: RequestHead;
    try {
      request = parseRequestHead(head);
    } catch (error) {
      this.#rejectHead(error);
      return false;
    }
    this.requestCount++;
    const exchange = new Exchange(this, request);
    this.#exchange = exchange;
    exchange.start();
    return true;
  }

  #rejectHead(error: unknown): void {
    const proxyError = error instanceof HttpParseError
      ? ProxyError.fromRequestParse(error)
      : new ProxyError("INTERNAL", String(error), { source: "internal" });
    this.#answerHeadError(proxyError);
  }

  /** Responds to a request head that failed to parse, and logs it like any other request. */
  #answerHeadError(error: ProxyError): void {
    const startedAt = Date.now() - (performance.now() - this.#headStartedAt);
    this.context.events.connectionError(error, { client: this.clientAddress });
    this.respondWithError(error);
    this.context.events.access({
      startTime: startedAt,
      requestId: crypto.randomUUID(),
      client: this.clientAddress,
      method: "",
      target: "",
      host: undefined,
      status: error.status,
      bytesIn: 0,
      bytesOut: 0,
      route: undefined,
      upstream: undefined,
      upstreamTimeMs: undefined,
      totalTimeMs: Math.round((performance.now() - this.#headStartedAt) * 1000) / 1000,
      error: error.detailCode,
    });
  }

  /** Sends FIN after queued bytes and stops reading requests; the peer's FIN or close follows. */
  #close(): void {
    if (this.#closing) return;
    this.#closing = true;
    this.#clearTimers();
    this.connection.end();
    // A client that never closes its side would hold the connection: give it a bounded time.
    this.#lingerTimer = setTimeout(() => this.connection.destroy(), LINGER_TIMEOUT_MS);
  }

  #startIdleTimer(): void {
    this.#waitingFor = "idle";
    this.#deadline.set(this.context.limits.keepAliveTimeoutMs);
  }

  #stopIdleTimer(): void {
    this.#deadline.clear();
  }

  #startHeadTimer(): void {
    this.#waitingFor = "head";
    this.#deadline.set(this.context.limits.headerTimeoutMs);
  }

  #clearHeadTimer(): void {
    this.#deadline.clear();
  }

  #onDeadline(): void {
    if (this.#waitingFor === "idle") {
      if (this.idle) this.#close();
      return;
    }
    const error = new ProxyError("REQUEST_TIMEOUT", "request head was not complete in time", {
      source: "downstream",
    });
    this.#answerHeadError(error);
  }

  /** Removes every timer of the connection, so none outlives it. */
  #clearTimers(): void {
    this.#deadline.dispose();
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
  }
}
