import type { Network } from "../net/types.ts";
import { NetworkError } from "../net/types.ts";
import { type PeerTarget, UpstreamConnection, type UpstreamOwner } from "./upstream-connection.ts";

export { type PeerTarget, UpstreamConnection, type UpstreamOwner } from "./upstream-connection.ts";

/** Default of `PoolOptions.maxQueue`. */
export const DEFAULT_MAX_QUEUE = 1024;
/** Default of `PoolOptions.queueTimeoutMs`. */
export const DEFAULT_QUEUE_TIMEOUT_MS = 5_000;
/**
 * Default of `PoolOptions.keepAliveMarginMs`. An origin's idle timer starts when it sends the
 * last byte of a response and the proxy's when that byte arrives, so the proxy stops reusing a
 * connection this long before the origin's announced timeout.
 */
export const DEFAULT_KEEP_ALIVE_MARGIN_MS = 1_000;

export interface PoolOptions {
  /** Most idle connections kept per peer; more are closed on release. */
  maxIdlePerPeer: number;
  /** An idle connection unused this long is closed. */
  idleTimeoutMs: number;
  /** A connect that takes longer fails with `ETIMEDOUT`. */
  connectTimeoutMs: number;
  /**
   * Maximum connections per peer, idle, in use and connecting together. `acquire` waits for a
   * free one beyond it, and `connect` ignores it. Default: no limit.
   */
  maxConnectionsPerPeer?: number;
  /** Maximum `acquire` calls waiting per peer. More fail at once with `QUEUE_FULL`. */
  maxQueue?: number;
  /** Maximum wait of an `acquire` call for a connection. It then fails with `QUEUE_TIMEOUT`. */
  queueTimeoutMs?: number;
  /** A connection is closed instead of pooled once it has served this many exchanges. */
  maxRequestsPerConnection?: number;
  /** A connection is closed instead of pooled once it is this old. */
  maxConnectionAgeMs?: number;
  /** Time before an origin's `Keep-Alive: timeout` at which a connection stops being reused. */
  keepAliveMarginMs?: number;
}

/** Options of `ConnectionPool.acquire`. */
export interface AcquireOptions {
  /** Aborting it while the call waits or connects rejects the call with `ABORTED`. */
  signal?: AbortSignal;
  /**
   * Skips idle connections, such as for a retry after a pooled connection turned out to be
   * closed. A connection released to a waiting call is still handed over, because it has just
   * carried a complete exchange.
   */
  fresh?: boolean;
}

/** Facts from the last response on a released connection. */
export interface ReleaseOptions {
  /** The idle timeout the origin announced with `Keep-Alive: timeout=N`, in milliseconds. */
  keepAliveTimeoutMs?: number;
}

/** Counts for metrics and status pages, cheap to take at any time. */
export interface PoolStats {
  /** Open connections, idle and in use. */
  connected: number;
  idle: number;
  inUse: number;
  /** Connects under way. */
  connecting: number;
  /** `acquire` calls waiting for a connection. */
  queued: number;
  /** Connections handed out again from the idle set since start. */
  reused: number;
  /** Connections opened since start. */
  opened: number;
}

/** Counts for the connections to one peer key. */
export interface PeerPoolStats {
  connected: number;
  idle: number;
  connecting: number;
  queued: number;
}

export type PoolErrorCode = "QUEUE_FULL" | "QUEUE_TIMEOUT" | "ABORTED" | "POOL_CLOSED";

/** An `acquire` call that got no connection for a reason of the pool's own, not the network's. */
export class PoolError extends Error {
  readonly code: PoolErrorCode;

  constructor(code: PoolErrorCode, message: string) {
    super(message);
    this.name = "PoolError";
    this.code = code;
  }
}

/** An `acquire` call waiting for a connection to its peer. */
interface Waiter {
  readonly target: PeerTarget;
  readonly owner: UpstreamOwner;
  readonly signal: AbortSignal | undefined;
  readonly fresh: boolean;
  resolve(upstream: UpstreamConnection): void;
  reject(error: Error): void;
  /** Removes the waiter's timer and abort listener. */
  cleanup(): void;
}

/** Connections and waiters of one peer key. */
interface PeerEntry {
  /** Open connections, idle or in use. */
  open: number;
  connecting: number;
  /** Idle connections, the most recently used last. */
  idle: UpstreamConnection[];
  waiters: Waiter[];
}

/**
 * Upstream connections pooled per peer key. A connection returns to the pool only after a
 * complete, clean exchange; the most recently used idle connection is handed out first, so
 * surplus connections age out.
 */
export class ConnectionPool {
  readonly options: PoolOptions;
  #network: Network;
  #peers = new Map<string, PeerEntry>();
  #open = new Set<UpstreamConnection>();
  #connecting = 0;
  #reused = 0;
  #opened = 0;
  #closed = false;
  #retired = false;

  constructor(network: Network, options: PoolOptions) {
    this.#network = network;
    this.options = options;
  }

  /** Takes an idle connection to `target`, or undefined when there is none. */
  takeIdle(target: PeerTarget, owner: UpstreamOwner): UpstreamConnection | undefined {
    const idle = this.#peers.get(target.key)?.idle;
    while (idle && idle.length > 0) {
      const upstream = idle.pop()!;
      if (upstream.closed) continue;
      upstream.stopIdleTimer();
      if (this.#pastMaxAge(upstream)) {
        upstream.destroy();
        continue;
      }
      upstream.owner = owner;
      upstream.connection.resume();
      this.#reused++;
      return upstream;
    }
    return undefined;
  }

  /**
   * Opens a new connection to `target` for `owner`. Rejects with NetworkError. It ignores
   * `maxConnectionsPerPeer`, which only `acquire` enforces, but the connection counts toward it.
   */
  async connect(target: PeerTarget, owner: UpstreamOwner): Promise<UpstreamConnection> {
    if (this.#closed) throw new NetworkError("ABORTED", "connection pool is closed");
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.options.connectTimeoutMs);
    const entry = this.#entry(target.key);
    this.#connecting++;
    entry.connecting++;
    const startedAt = performance.now();
    let upstream: UpstreamConnection | undefined;
    try {
      await this.#network.connect(
        { hostname: target.hostname, port: target.port, tls: target.tls, signal: abort.signal },
        (connection) => {
          upstream = new UpstreamConnection(this, target, connection);
          upstream.owner = owner;
          this.#open.add(upstream);
          entry.open++;
          return {
            data: (chunk) => upstream!.handleData(chunk),
            drain: () => upstream!.handleDrain(),
            end: () => upstream!.handleEnd(),
            close: (error) => upstream!.handleClose(error),
          };
        },
      );
    } catch (error) {
      if (abort.signal.aborted) {
        throw new NetworkError(
          "ETIMEDOUT",
          `connect timed out after ${this.options.connectTimeoutMs} ms`,
          { cause: error },
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
      this.#connecting--;
      entry.connecting--;
      // A failed connect frees its slot for a waiter. After a success the slot stays taken.
      if (upstream === undefined) this.#serveWaiters(target.key);
    }
    this.#opened++;
    upstream!.connectMs = performance.now() - startedAt;
    upstream!.connection.setNoDelay(true);
    if (this.#closed) upstream!.destroy();
    return upstream!;
  }

  /**
   * Returns a connection to `target` for `owner`: an idle one, or a new one while the peer is
   * under `maxConnectionsPerPeer`. Otherwise the call waits for the first connection that a
   * release or close frees, in a queue of at most `maxQueue` calls, for at most
   * `queueTimeoutMs`. Rejects with NetworkError when a connect fails, or with PoolError when
   * the queue is full, the wait times out, `signal` aborts or the pool is closed.
   */
  acquire(
    target: PeerTarget,
    owner: UpstreamOwner,
    options: AcquireOptions = {},
  ): Promise<UpstreamConnection> {
    const { signal, fresh = false } = options;
    if (this.#closed) {
      return Promise.reject(new PoolError("POOL_CLOSED", "connection pool is closed"));
    }
    if (signal?.aborted) {
      return Promise.reject(abortedError(target));
    }
    const idle = fresh ? undefined : this.takeIdle(target, owner);
    if (idle) return Promise.resolve(idle);
    if (this.#hasFreeSlot(target.key)) return this.#connectFor(target, owner, signal);

    const entry = this.#entry(target.key);
    const maxQueue = this.options.maxQueue ?? DEFAULT_MAX_QUEUE;
    if (entry.waiters.length >= maxQueue) {
      return Promise.reject(
        new PoolError(
          "QUEUE_FULL",
          `no connection to ${target.key} is free and ${maxQueue} requests already wait for ` +
            `one: raise pool.maxConnectionsPerPeer or pool.maxQueue`,
        ),
      );
    }
    const waiting = this.#enqueue(entry, { target, owner, signal, fresh });
    if (fresh) this.#closeIdleForFreshWaiter(entry);
    return waiting;
  }

  /**
   * Returns a connection after a clean exchange. It waits idle for the next one, or goes
   * straight to an `acquire` call waiting for its peer. It is closed instead when it reached
   * `maxRequestsPerConnection` or `maxConnectionAgeMs`, or when the origin's announced
   * keep-alive timeout leaves no time to reuse it.
   */
  release(upstream: UpstreamConnection, options: ReleaseOptions = {}): void {
    upstream.owner = undefined;
    upstream.completedExchanges++;
    if (upstream.closed) return;
    const maxRequests = this.options.maxRequestsPerConnection;
    if (this.#closed || (maxRequests !== undefined && upstream.completedExchanges >= maxRequests)) {
      upstream.destroy();
      return;
    }
    const idleMs = this.#idleTimeFor(upstream, options.keepAliveTimeoutMs);
    if (idleMs <= 0) {
      upstream.destroy();
      return;
    }
    const waiter = this.#peers.get(upstream.target.key)?.waiters.shift();
    if (waiter) {
      this.#reused++;
      this.#handOver(waiter, upstream);
      return;
    }
    if (this.#retired) {
      upstream.destroy();
      return;
    }
    this.#park(upstream, idleMs);
  }

  /** Closes an idle connection and removes it from the pool. */
  discard(upstream: UpstreamConnection): void {
    this.#removeIdle(upstream);
    upstream.destroy();
  }

  /** Closes the idle connections to one peer key, such as a peer that discovery removed. */
  closeIdle(key: string): void {
    const idle = this.#peers.get(key)?.idle;
    if (!idle) return;
    for (const upstream of idle.splice(0)) {
      upstream.stopIdleTimer();
      upstream.destroy();
    }
  }

  /** Called once a connection has closed, whatever the reason. */
  forget(upstream: UpstreamConnection): void {
    this.#removeIdle(upstream);
    if (!this.#open.delete(upstream)) return;
    const key = upstream.target.key;
    const entry = this.#peers.get(key);
    if (entry) entry.open--;
    this.#serveWaiters(key);
  }

  stats(): PoolStats {
    let idle = 0;
    let queued = 0;
    for (const entry of this.#peers.values()) {
      idle += entry.idle.length;
      queued += entry.waiters.length;
    }
    return {
      connected: this.#open.size,
      idle,
      inUse: this.#open.size - idle,
      connecting: this.#connecting,
      queued,
      reused: this.#reused,
      opened: this.#opened,
    };
  }

  /** Counts for one peer key, all zero for a key the pool has not seen. */
  peerStats(key: string): PeerPoolStats {
    const entry = this.#peers.get(key);
    if (!entry) return { connected: 0, idle: 0, connecting: 0, queued: 0 };
    return {
      connected: entry.open,
      idle: entry.idle.length,
      connecting: entry.connecting,
      queued: entry.waiters.length,
    };
  }

  /**
   * Closes every idle connection and keeps no connection idle from now on, but goes on serving
   * `acquire`: requests that chose this pool before a config reload replaced it still finish
   * here, retries included. With its last connection closed, a retired pool keeps no resource.
   */
  retire(): void {
    this.#retired = true;
    for (const entry of this.#peers.values()) {
      for (const upstream of entry.idle.splice(0)) {
        upstream.stopIdleTimer();
        upstream.destroy();
      }
    }
  }

  /**
   * Closes every idle connection, rejects every waiting `acquire` and pools nothing from now
   * on. Connections in use finish their exchanges first.
   */
  close(): void {
    this.#closed = true;
    for (const entry of this.#peers.values()) {
      for (const upstream of entry.idle.splice(0)) upstream.destroy();
      for (const waiter of entry.waiters.splice(0)) {
        waiter.cleanup();
        waiter.reject(new PoolError("POOL_CLOSED", "connection pool is closed"));
      }
    }
  }

  #entry(key: string): PeerEntry {
    let entry = this.#peers.get(key);
    if (!entry) {
      entry = { open: 0, connecting: 0, idle: [], waiters: [] };
      this.#peers.set(key, entry);
    }
    return entry;
  }

  #hasFreeSlot(key: string): boolean {
    const cap = this.options.maxConnectionsPerPeer;
    if (cap === undefined) return true;
    const entry = this.#peers.get(key);
    return entry === undefined || entry.open + entry.connecting < cap;
  }

  /** Connects for an `acquire` call. A connection that opens after `signal` aborted is pooled. */
  async #connectFor(
    target: PeerTarget,
    owner: UpstreamOwner,
    signal: AbortSignal | undefined,
  ): Promise<UpstreamConnection> {
    const upstream = await this.connect(target, owner);
    if (signal?.aborted && !upstream.closed) {
      // Nothing was sent on it, so it is as clean as a released connection.
      upstream.owner = undefined;
      const waiter = this.#peers.get(target.key)?.waiters.shift();
      if (waiter) this.#handOver(waiter, upstream);
      else this.#park(upstream, this.#idleTimeFor(upstream, undefined));
      throw abortedError(target);
    }
    return upstream;
  }

  /** Queues an `acquire` call until a connection frees up, the wait times out or it aborts. */
  #enqueue(
    entry: PeerEntry,
    request: Pick<Waiter, "target" | "owner" | "signal" | "fresh">,
  ): Promise<UpstreamConnection> {
    const { target, signal } = request;
    const timeoutMs = this.options.queueTimeoutMs ?? DEFAULT_QUEUE_TIMEOUT_MS;
    const cap = this.options.maxConnectionsPerPeer;
    return new Promise((resolve, reject) => {
      const leave = (error: Error) => {
        const index = entry.waiters.indexOf(waiter);
        if (index === -1) return;
        entry.waiters.splice(index, 1);
        waiter.cleanup();
        reject(error);
      };
      const timer = setTimeout(() => {
        const message = `no connection to ${target.key} became free within ${timeoutMs} ms: ` +
          `all ${cap} (pool.maxConnectionsPerPeer) are in use`;
        leave(new PoolError("QUEUE_TIMEOUT", message));
      }, timeoutMs);
      const onAbort = () => leave(abortedError(target));
      signal?.addEventListener("abort", onAbort, { once: true });
      const waiter: Waiter = {
        ...request,
        resolve,
        reject,
        cleanup: () => {
          clearTimeout(timer);
          signal?.removeEventListener("abort", onAbort);
        },
      };
      entry.waiters.push(waiter);
    });
  }

  /** Gives waiters of `key` the idle connections and free slots there are, in queue order. */
  #serveWaiters(key: string): void {
    const entry = this.#peers.get(key);
    if (!entry || this.#closed) return;
    while (entry.waiters.length > 0) {
      const waiter = entry.waiters[0];
      const idle = waiter.fresh ? undefined : this.takeIdle(waiter.target, waiter.owner);
      if (idle) {
        entry.waiters.shift();
        waiter.cleanup();
        waiter.resolve(idle);
        continue;
      }
      if (!this.#hasFreeSlot(key)) {
        if (waiter.fresh) this.#closeIdleForFreshWaiter(entry);
        return;
      }
      entry.waiters.shift();
      waiter.cleanup();
      this.#connectFor(waiter.target, waiter.owner, waiter.signal).then(
        waiter.resolve,
        waiter.reject,
      );
    }
  }

  /**
   * Closes the oldest idle connection, when there is one, because a waiter that skips idle
   * connections would otherwise wait for them to time out. Its close frees the slot.
   */
  #closeIdleForFreshWaiter(entry: PeerEntry): void {
    const oldest = entry.idle[0];
    if (oldest) this.discard(oldest);
  }

  /** Gives a connection that no exchange owns to a waiter, which now owns it. */
  #handOver(waiter: Waiter, upstream: UpstreamConnection): void {
    waiter.cleanup();
    upstream.stopIdleTimer();
    upstream.owner = waiter.owner;
    upstream.connection.resume();
    waiter.resolve(upstream);
  }

  /** Puts a connection that no exchange owns in the idle set for `idleMs`. */
  #park(upstream: UpstreamConnection, idleMs: number): void {
    if (this.#closed || this.options.maxIdlePerPeer === 0 || idleMs <= 0) {
      upstream.destroy();
      return;
    }
    const idle = this.#entry(upstream.target.key).idle;
    if (idle.length >= this.options.maxIdlePerPeer) {
      // The oldest idle connection makes room.
      idle.shift()!.destroy();
    }
    idle.push(upstream);
    upstream.startIdleTimer(idleMs);
  }

  /**
   * Time a released connection may stay idle: the idle timeout, shortened to the origin's
   * keep-alive timeout less the margin and to the time left before `maxConnectionAgeMs`.
   */
  #idleTimeFor(upstream: UpstreamConnection, keepAliveTimeoutMs: number | undefined): number {
    let idleMs = this.options.idleTimeoutMs;
    if (keepAliveTimeoutMs !== undefined) {
      const marginMs = this.options.keepAliveMarginMs ?? DEFAULT_KEEP_ALIVE_MARGIN_MS;
      idleMs = Math.min(idleMs, keepAliveTimeoutMs - marginMs);
    }
    const maxAgeMs = this.options.maxConnectionAgeMs;
    if (maxAgeMs !== undefined) {
      idleMs = Math.min(idleMs, maxAgeMs - (performance.now() - upstream.openedAt));
    }
    return idleMs;
  }

  #pastMaxAge(upstream: UpstreamConnection): boolean {
    const maxAgeMs = this.options.maxConnectionAgeMs;
    return maxAgeMs !== undefined && performance.now() - upstream.openedAt >= maxAgeMs;
  }

  #removeIdle(upstream: UpstreamConnection): void {
    upstream.stopIdleTimer();
    const idle = this.#peers.get(upstream.target.key)?.idle;
    if (!idle) return;
    const index = idle.indexOf(upstream);
    if (index !== -1) idle.splice(index, 1);
  }
}

function abortedError(target: PeerTarget): PoolError {
  return new PoolError("ABORTED", `acquire of a connection to ${target.key} was aborted`);
}
