import type { UpstreamConnection, UpstreamOwner } from "../pool/pool.ts";
import type { HashKeyRequest } from "../upstream/hash-key.ts";
import type { PeerAttempt } from "../upstream/selector.ts";
import type { RouteTarget, UpstreamGroup, UpstreamPeer } from "./context.ts";
import { ProxyError, type ProxyErrorCode } from "./errors.ts";
import type { ProxyEvents } from "./events.ts";

/**
 * Failures before the response head that count against the peer for passive health. A full
 * or timed-out connection queue and the total deadline are not failures of the peer, so they
 * do not count. After the head, the status has been reported and later failures are ignored.
 */
const PEER_FAILURE_CODES: ReadonlySet<ProxyErrorCode> = new Set<ProxyErrorCode>([
  "CONNECT_FAILED",
  "CONNECT_TIMEOUT",
  "UPSTREAM_CLOSED",
  "INVALID_RESPONSE",
  "RESPONSE_TIMEOUT",
]);

/** `Retry-After` of a 503 for an upstream without an available peer, unless an ejection ends later. */
const DEFAULT_RETRY_AFTER_SECONDS = 1;

/** The request that the attempts serve, for the retry log. */
export interface AttemptsRequest {
  readonly requestId: string;
  readonly client: string;
  readonly events: ProxyEvents;
}

/**
 * The peers one request may go to, and its attempts on them. It tracks the candidates in the
 * order to try them, the attempt under way (counted in flight and reported to passive
 * health), the request's share of the retry budget and the deadline of `timeouts.total`.
 */
export class UpstreamAttempts {
  readonly group: UpstreamGroup;
  readonly #request: AttemptsRequest;
  /** `timeouts.total` of the route, which may differ from the group's. */
  readonly #totalMs: number | undefined;
  readonly #candidates: UpstreamPeer[];
  #index = 0;
  #attempt: PeerAttempt<UpstreamPeer> | undefined;
  /** True while the attempt under way counts as a retry in the retry budget. */
  #holdsRetry = false;
  /** True once the retry budget turned down a retry of this request. */
  #budgetRejected = false;
  #started = false;
  #finished = false;
  #abort: AbortController | undefined;
  #totalTimer: ReturnType<typeof setTimeout> | undefined;

  /** Orders the available peers of the route's group for `hashRequest`. */
  constructor(route: RouteTarget, hashRequest: HashKeyRequest, request: AttemptsRequest) {
    this.group = route.group;
    this.#request = request;
    this.#totalMs = route.timeouts.totalMs;
    this.#candidates = route.group.selector.candidates(hashRequest);
  }

  /** False when every peer is disabled, unhealthy or ejected. */
  get available(): boolean {
    return this.#candidates.length > 0;
  }

  /** The peer of the attempt under way. */
  get peer(): UpstreamPeer {
    return this.#candidates[this.#index];
  }

  /**
   * Begins the attempt on the first candidate, counts the request in the retry budget and
   * starts the total deadline, which calls `onTotalTimeout` unless `finish` comes first.
   */
  start(onTotalTimeout: (error: ProxyError) => void): void {
    this.#started = true;
    this.group.retryBudget.requestStarted();
    this.#attempt = this.group.selector.begin(this.peer);
    const totalMs = this.#totalMs;
    if (totalMs === undefined) return;
    this.#totalTimer = setTimeout(() => {
      const message = `exchange did not complete within ${totalMs} ms (timeouts.total)`;
      onTotalTimeout(new ProxyError("TOTAL_TIMEOUT", message, { source: "upstream" }));
    }, totalMs);
  }

  /** Asks the pool for a connection to the current peer; `finish` aborts a wait under way. */
  acquire(owner: UpstreamOwner, fresh: boolean): Promise<UpstreamConnection> {
    this.#abort ??= new AbortController();
    return this.group.pool.acquire(this.peer.target, owner, { signal: this.#abort.signal, fresh });
  }

  /** Reports `error` to passive health when it is a failure of the current peer. */
  recordFailure(error: ProxyError): void {
    if (PEER_FAILURE_CODES.has(error.code)) this.#attempt?.fail(error.message);
  }

  /** Reports the status of the final response head to passive health. */
  respond(status: number): void {
    this.#attempt?.respond(status);
  }

  /** True when `status` is one of `retries.onStatuses`. */
  retriesOnStatus(status: number): boolean {
    return this.group.retries.onStatuses.has(status);
  }

  /**
   * Ends the attempt under way and begins one on the next candidate, when fewer than
   * `retries.attempts` tries were made, a candidate is left and the retry budget has room.
   * Logs the retry with `reason`. Returns false otherwise, and the attempt under way goes on.
   */
  next(reason: string, code: ProxyErrorCode | undefined): boolean {
    const limit = Math.min(this.group.retries.attempts, this.#candidates.length);
    if (this.#finished || this.#index + 1 >= limit) return false;
    // A failed attempt that was a retry stops counting now, whether or not another retry starts.
    this.#releaseRetry();
    if (!this.group.retryBudget.tryStartRetry()) {
      this.#budgetRejected = true;
      return false;
    }
    const from = this.peer;
    this.#endAttempt();
    this.#holdsRetry = true;
    this.#index += 1;
    this.#attempt = this.group.selector.begin(this.peer);
    this.#reportRetry("next_peer", from, reason, code);
    return true;
  }

  /** Logs a retry on a new connection to the same peer after a stale pooled one. */
  reportFreshConnection(reason: string): void {
    this.#reportRetry("fresh_connection", this.peer, reason, "UPSTREAM_CLOSED");
  }

  /**
   * Returns `failure`, with a note in its message when the retry budget turned down the last
   * retry, so that the log shows why the request was not sent to another peer.
   */
  explainNoRetry(failure: ProxyError): ProxyError {
    if (!this.#budgetRejected) return failure;
    const message = `${failure.message} (not retried: the retry budget of upstream ` +
      `${this.group.name} is used up)`;
    return new ProxyError(failure.code, message, {
      source: failure.source,
      retryable: failure.retryable,
      status: failure.status,
      retryAfterSeconds: failure.retryAfterSeconds,
      cause: failure.cause,
    });
  }

  /** Builds the 503 for a request that found no available peer, with its `Retry-After`. */
  noPeerError(): ProxyError {
    const message = `every peer of upstream ${this.group.name} is disabled, unhealthy or ejected`;
    return new ProxyError("NO_PEER", message, {
      source: "upstream",
      retryAfterSeconds: this.#retryAfterSeconds(),
    });
  }

  /**
   * Ends the attempt, the request's part of the retry budget and the total deadline, and
   * aborts a connection wait under way. Later calls do nothing.
   */
  finish(): void {
    if (this.#finished) return;
    this.#finished = true;
    this.#endAttempt();
    if (this.#started) this.group.retryBudget.requestFinished();
    if (this.#totalTimer !== undefined) clearTimeout(this.#totalTimer);
    this.#totalTimer = undefined;
    this.#abort?.abort();
  }

  #endAttempt(): void {
    this.#attempt?.end();
    this.#attempt = undefined;
    this.#releaseRetry();
  }

  #releaseRetry(): void {
    if (this.#holdsRetry) this.group.retryBudget.retryFinished();
    this.#holdsRetry = false;
  }

  #reportRetry(
    kind: "next_peer" | "fresh_connection",
    from: UpstreamPeer,
    reason: string,
    code: ProxyErrorCode | undefined,
  ): void {
    this.#request.events.retry({
      requestId: this.#request.requestId,
      client: this.#request.client,
      upstreamName: this.group.name,
      kind,
      from: from.label,
      to: this.peer.label,
      attempt: this.#index + 1,
      reason,
      code,
    });
  }

  /**
   * Seconds until a peer may take requests again: the shortest ejection left among peers that
   * only an ejection keeps out, rounded up. Active checks and the operator give no such time,
   * so without an ejected peer it is `DEFAULT_RETRY_AFTER_SECONDS`.
   */
  #retryAfterSeconds(): number {
    const selector = this.group.selector;
    let shortestMs = Infinity;
    for (const peer of selector.balancer.peers) {
      const stats = selector.health.stats(peer);
      if (stats !== undefined && stats.enabled && stats.healthy && stats.ejected) {
        shortestMs = Math.min(shortestMs, stats.ejectionRemainingMs);
      }
    }
    if (shortestMs === Infinity) return DEFAULT_RETRY_AFTER_SECONDS;
    return Math.max(1, Math.ceil(shortestMs / 1000));
  }
}
