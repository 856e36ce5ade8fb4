import { Deadline } from "../net/deadline.ts";
import type { ClientTlsOptions, Connection } from "../net/types.ts";
import type { ConnectionPool } from "./pool.ts";

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
  /** Called when `responseDeadline` passes while this owner has the connection. */
  onResponseDeadline?(): void;
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
  /** When the connection opened, on the `performance.now()` clock in milliseconds. */
  readonly openedAt = performance.now();
  /** Time the connect took, TLS handshake included, in milliseconds. */
  connectMs = 0;
  owner: UpstreamOwner | undefined;
  closed = false;
  #pool: ConnectionPool;
  /**
   * Closes the connection when it stays idle in the pool too long. A deadline instead of a timer
   * per request: a connection reused before it fires only moves a number.
   */
  readonly #idleDeadline: Deadline;
  /**
   * The owner's deadline for a response head. It lives on the connection, which serves many
   * exchanges, so a new exchange moves a stored deadline instead of setting a timer.
   */
  readonly responseDeadline: Deadline;

  constructor(pool: ConnectionPool, target: PeerTarget, connection: Connection) {
    this.#pool = pool;
    this.target = target;
    this.connection = connection;
    this.#idleDeadline = new Deadline(() => this.#pool.discard(this));
    this.responseDeadline = new Deadline(() => this.owner?.onResponseDeadline?.());
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
    this.#idleDeadline.dispose();
    this.responseDeadline.dispose();
    const owner = this.owner;
    this.owner = undefined;
    this.#pool.forget(this);
    owner?.onUpstreamClose(error);
  }

  startIdleTimer(ms: number): void {
    this.#idleDeadline.set(ms);
  }

  stopIdleTimer(): void {
    this.#idleDeadline.clear();
  }
}
