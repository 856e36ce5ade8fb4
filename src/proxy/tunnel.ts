import type { Connection } from "../net/types.ts";
import type { UpstreamConnection, UpstreamOwner } from "../pool/pool.ts";

/** How long one side of a tunnel may stay open after the other side closed. */
const TUNNEL_LINGER_MS = 5_000;

/**
 * A two-way byte relay between a client and an origin after the origin switched protocols
 * (101). Each direction pauses its reader while the other side's write queue is over its
 * high-water mark. A FIN is passed on as a FIN after the bytes before it, so half-closes work
 * in both directions; when either connection closes, the other is ended after its queued bytes
 * are flushed.
 */
export class Tunnel implements UpstreamOwner {
  readonly client: Connection;
  readonly upstream: UpstreamConnection;
  /** Bytes relayed from the client to the origin. */
  bytesUp = 0;
  /** Bytes relayed from the origin to the client. */
  bytesDown = 0;
  #clientClosed = false;
  #upstreamClosed = false;
  #lingerTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(client: Connection, upstream: UpstreamConnection) {
    this.client = client;
    this.upstream = upstream;
    upstream.owner = this;
  }

  // ---- Client side, called by the downstream connection ----

  fromClient(chunk: Uint8Array): void {
    if (this.#upstreamClosed || chunk.length === 0) return;
    this.bytesUp += chunk.length;
    if (!this.upstream.write(chunk)) this.client.pause();
  }

  clientDrained(): void {
    this.upstream.connection.resume();
  }

  clientEnded(): void {
    this.upstream.connection.end();
  }

  clientClosed(): void {
    this.#clientClosed = true;
    if (this.#upstreamClosed) {
      this.#clearLinger();
      return;
    }
    this.upstream.connection.end();
    this.#linger(() => this.upstream.destroy());
  }

  // ---- Upstream side, called through UpstreamOwner ----

  onUpstreamData(chunk: Uint8Array): void {
    if (this.#clientClosed || chunk.length === 0) return;
    this.bytesDown += chunk.length;
    if (!this.client.write(chunk)) this.upstream.connection.pause();
  }

  onUpstreamDrain(): void {
    this.client.resume();
  }

  onUpstreamEnd(): void {
    this.client.end();
  }

  onUpstreamClose(): void {
    this.#upstreamClosed = true;
    if (this.#clientClosed) {
      this.#clearLinger();
      return;
    }
    this.client.end();
    this.#linger(() => this.client.destroy());
  }

  /** Closes both connections at once, dropping queued bytes. */
  destroy(): void {
    this.#clearLinger();
    this.#upstreamClosed = true;
    this.#clientClosed = true;
    this.upstream.destroy();
    this.client.destroy();
  }

  /** Gives the side still open a bounded time to flush and close after the other closed. */
  #linger(closeNow: () => void): void {
    this.#clearLinger();
    this.#lingerTimer = setTimeout(closeNow, TUNNEL_LINGER_MS);
  }

  #clearLinger(): void {
    if (this.#lingerTimer !== undefined) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = undefined;
  }
}
