import type { ClientTlsOptions, Connection, Network } from "../net/types.ts";
import { NetworkError } from "../net/types.ts";

/** Where an upstream connection goes; connections are pooled per `key`. */
export interface PeerTarget {
  /** Pool key: scheme, address and TLS settings. Connections are reused only within one key. */
  readonly key: string;
  readonly hostname: string;
  readonly port: number;
  readonly tls?: ClientTlsOptions;
}

/** Receives the events of an upstream connection while an exchange owns it. */
export interface UpstreamOwner {
  onUpstreamData(chunk: Uint8Array): void;
  onUpstreamDrain(): void;
  onUpstreamEnd(): void;
  onUpstreamClose(error: Error | undefined): void;
}

export interface PoolOptions {
  /** Most idle connections kept per peer; more are closed on release. */
  maxIdlePerPeer: number;
  /** An idle connection unused this long is closed. */
  idleTimeoutMs: number;
  /** A connect that takes longer fails with `ETIMEDOUT`. */
  connectTimeoutMs: number;
}

/** Counts for metrics and status pages, cheap to take at any time. */
export interface PoolStats {
  /** Open connections, idle and in use. */
  connected: number;
  idle: number;
  inUse: number;
  /** Connects under way. */
  connecting: number;
  /** Connections handed out again from the idle set since start. */
  reused: number;
  /** Connections opened since start. */
  opened: number;
}

/**
 * One connection to an origin. While idle in the pool, any byte or FIN from the origin closes
 * it: a clean origin sends nothing between responses, so such bytes could only be read as part
 * of the next response.
 */
export class UpstreamConnection {
  readonly target: PeerTarget;
  readonly connection: Connection;
  /** Exchanges this connection has served to completion. */
  completedExchanges = 0;
  owner: UpstreamOwner | undefined;
  closed = false;
  #pool: ConnectionPool;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(pool: ConnectionPool, target: PeerTarget, connection: Connection) {
    this.#pool = pool;
    this.target = target;
    this.connection = connection;
  }

  /** True when the connection was used before, so a failure may mean the origin closed it idle. */
  get reused(): boolean {
    return this.completedExchanges > 0;
  }

  write(chunk: Uint8Array): boolean {
    return this.connection.write(chunk);
  }

  /** Closes the connection for good; it is never pooled again. */
  destroy(): void {
    if (this.closed) return;
    this.owner = undefined;
    this.connection.destroy();
  }

  handleData(chunk: Uint8Array): void {
    if (this.owner) this.owner.onUpstreamData(chunk);
    else this.#pool.discard(this);
  }

  handleDrain(): void {
    this.owner?.onUpstreamDrain();
  }

  handleEnd(): void {
    if (this.owner) this.owner.onUpstreamEnd();
    else this.#pool.discard(this);
  }

  handleClose(error: Error | undefined): void {
    this.closed = true;
    this.stopIdleTimer();
    const owner = this.owner;
    this.owner = undefined;
    this.#pool.forget(this);
    owner?.onUpstreamClose(error);
  }

  startIdleTimer(ms: number): void {
    this.stopIdleTimer();
    this.#idleTimer = setTimeout(() => this.#pool.discard(this), ms);
  }

  stopIdleTimer(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

/**
 * Upstream connections pooled per peer key. A connection returns to the pool only after a
 * complete, clean exchange; the most recently used idle connection is handed out first, so
 * surplus connections age out.
 */
export class ConnectionPool {
  readonly options: PoolOptions;
  #network: Network;
  #idle = new Map<string, UpstreamConnection[]>();
  #open = new Set<UpstreamConnection>();
  #connecting = 0;
  #reused = 0;
  #opened = 0;
  #closed = false;

  constructor(network: Network, options: PoolOptions) {
    this.#network = network;
    this.options = options;
  }

  /** Takes an idle connection to `target`, or undefined when there is none. */
  takeIdle(target: PeerTarget, owner: UpstreamOwner): UpstreamConnection | undefined {
    const idle = this.#idle.get(target.key);
    while (idle && idle.length > 0) {
      const upstream = idle.pop()!;
      if (upstream.closed) continue;
      upstream.stopIdleTimer();
      upstream.owner = owner;
      upstream.connection.resume();
      this.#reused++;
      return upstream;
    }
    return undefined;
  }

  /** Opens a new connection to `target` for `owner`. Rejects with NetworkError. */
  async connect(target: PeerTarget, owner: UpstreamOwner): Promise<UpstreamConnection> {
    if (this.#closed) throw new NetworkError("ABORTED", "connection pool is closed");
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.options.connectTimeoutMs);
    this.#connecting++;
    let upstream: UpstreamConnection | undefined;
    try {
      await this.#network.connect(
        { hostname: target.hostname, port: target.port, tls: target.tls, signal: abort.signal },
        (connection) => {
          upstream = new UpstreamConnection(this, target, connection);
          upstream.owner = owner;
          this.#open.add(upstream);
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
    }
    this.#opened++;
    upstream!.connection.setNoDelay(true);
    if (this.#closed) upstream!.destroy();
    return upstream!;
  }

  /** Returns a connection after a clean exchange; it waits idle for the next one. */
  release(upstream: UpstreamConnection): void {
    upstream.owner = undefined;
    upstream.completedExchanges++;
    if (upstream.closed) return;
    if (this.#closed || this.options.maxIdlePerPeer === 0) {
      upstream.destroy();
      return;
    }
    let idle = this.#idle.get(upstream.target.key);
    if (!idle) {
      idle = [];
      this.#idle.set(upstream.target.key, idle);
    }
    if (idle.length >= this.options.maxIdlePerPeer) {
      // The oldest idle connection makes room.
      idle.shift()!.destroy();
    }
    idle.push(upstream);
    upstream.startIdleTimer(this.options.idleTimeoutMs);
  }

  /** Closes an idle connection and removes it from the pool. */
  discard(upstream: UpstreamConnection): void {
    this.#removeIdle(upstream);
    upstream.destroy();
  }

  /** Called once a connection has closed, whatever the reason. */
  forget(upstream: UpstreamConnection): void {
    this.#removeIdle(upstream);
    this.#open.delete(upstream);
  }

  stats(): PoolStats {
    let idle = 0;
    for (const list of this.#idle.values()) idle += list.length;
    return {
      connected: this.#open.size,
      idle,
      inUse: this.#open.size - idle,
      connecting: this.#connecting,
      reused: this.#reused,
      opened: this.#opened,
    };
  }

  /** Closes every idle connection and refuses to pool any more; used connections finish first. */
  close(): void {
    this.#closed = true;
    for (const list of this.#idle.values()) {
      for (const upstream of list.splice(0)) upstream.destroy();
    }
  }

  #removeIdle(upstream: UpstreamConnection): void {
    upstream.stopIdleTimer();
    const idle = this.#idle.get(upstream.target.key);
    if (!idle) return;
    const index = idle.indexOf(upstream);
    if (index !== -1) idle.splice(index, 1);
  }
}
