/**
 * An in-memory `Network` for tests: no sockets and no runtime APIs. It models the parts of TCP
 * that the proxy core depends on: a send queue with a high-water mark, a bounded buffer in the
 * simulated kernel, pause and resume, half-close, and reset.
 */

import {
  type ClientTlsOptions,
  type Connection,
  type ConnectionHandlers,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type Network,
  NetworkError,
  type OpenHandler,
  type ServerTlsOptions,
  type SocketAddress,
  type TlsInfo,
} from "./types.ts";
import { ipAddressFamily } from "./ip-address.ts";
import { invoke, rethrowLater } from "./invoke.ts";

export interface MemoryNetworkOptions {
  /** Queued bytes per connection above which `write` returns `false`. Default 64 KiB. */
  highWaterMark?: number;
  /**
   * Bytes per direction that the simulated kernel takes from the sender before the receiver
   * reads them. Writes beyond it stay queued and count in `bufferedAmount`. Default 256 KiB.
   */
  socketBufferSize?: number;
  /** Maximum size of one `data` chunk in bytes. Default 64 KiB. */
  maxChunkSize?: number;
  /**
   * Host names and the addresses `resolve` returns for them. Names match without regard to
   * letter case. `localhost` resolves to `127.0.0.1` unless this table lists it.
   */
  hosts?: Readonly<Record<string, readonly string[]>>;
}

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
const DEFAULT_SOCKET_BUFFER_SIZE = 256 * 1024;
const DEFAULT_MAX_CHUNK_SIZE = 64 * 1024;
const FIRST_EPHEMERAL_PORT = 49152;
const LAST_PORT = 65535;

/**
 * Consecutive deliveries run as microtasks, but every this many the network yields to the
 * event loop with `setTimeout`, so a peer that writes from its `drain` handler cannot starve
 * timers.
 */
const MICROTASK_DELIVERIES_PER_YIELD = 64;

/**
 * A `Network` whose listeners and connections live in this object. Two instances never see
 * each other's ports.
 *
 * Deviations from real sockets:
 * - TLS is metadata only. A TLS client reaching a TLS listener gets `tls` info with the ALPN
 *   protocol chosen by the server's preference, and no certificate is checked.
 * - A TLS client reaching a plain listener stays in its handshake until `signal` aborts it or
 *   the server side closes. A plain client reaching a TLS listener connects and is then reset.
 * - `localhost` resolves to `127.0.0.1`, and a listener on `0.0.0.0` or `::` accepts any host.
 * - `resolve` reads only the host table (`hosts` and `setHost`). `connect` does not read it, so
 *   a test connects to the addresses that `resolve` returned.
 */
export class MemoryNetwork implements Network {
  readonly highWaterMark: number;
  readonly socketBufferSize: number;
  readonly maxChunkSize: number;

  readonly #listeners = new Map<string, MemoryListener[]>();
  readonly #roundRobin = new Map<string, number>();
  readonly #hosts = new Map<string, string[]>();
  #nextPort = FIRST_EPHEMERAL_PORT;
  #deliveriesSinceYield = 0;

  constructor(options: MemoryNetworkOptions = {}) {
    this.highWaterMark = positiveOption(
      "highWaterMark",
      options.highWaterMark,
      DEFAULT_HIGH_WATER_MARK,
    );
    this.socketBufferSize = positiveOption(
      "socketBufferSize",
      options.socketBufferSize,
      DEFAULT_SOCKET_BUFFER_SIZE,
    );
    this.maxChunkSize = positiveOption(
      "maxChunkSize",
      options.maxChunkSize,
      DEFAULT_MAX_CHUNK_SIZE,
    );
    for (const [hostname, addresses] of Object.entries(options.hosts ?? {})) {
      this.setHost(hostname, addresses);
    }
  }

  /** Makes `resolve(hostname)` return `addresses`. With an empty list, it rejects. */
  setHost(hostname: string, addresses: readonly string[]): void {
    for (const address of addresses) {
      if (ipAddressFamily(address) === undefined) {
        throw new RangeError(`MemoryNetwork host ${hostname}: "${address}" is not an IP address`);
      }
    }
    this.#hosts.set(normalizeHostname(hostname), [...new Set(addresses)]);
  }

  /** Removes `hostname` from the host table, so `resolve` rejects it with `ENOTFOUND`. */
  removeHost(hostname: string): void {
    this.#hosts.delete(normalizeHostname(hostname));
  }

  resolve(hostname: string): Promise<string[]> {
    if (ipAddressFamily(hostname) !== undefined) {
      return Promise.resolve([hostname]);
    }
    const name = normalizeHostname(hostname);
    const addresses = this.#hosts.get(name) ?? (name === "localhost" ? ["127.0.0.1"] : []);
    if (addresses.length === 0) {
      return Promise.reject(new NetworkError("ENOTFOUND", `host not found: ${hostname}`));
    }
    return Promise.resolve([...addresses]);
  }

  listen(options: ListenOptions, onOpen: OpenHandler): Promise<Listener> {
    let address: SocketAddress;
    if (options.path !== undefined) {
      address = { hostname: options.path, port: 0, family: "unix" };
    } else {
      const hostname = resolveHostname(options.hostname);
      const port = options.port === 0 ? this.#pickFreePort(hostname) : options.port;
      if (!Number.isInteger(port) || port < 1 || port > LAST_PORT) {
        return Promise.reject(
          new NetworkError("UNKNOWN", `invalid port ${options.port}: expected 0 to ${LAST_PORT}`),
        );
      }
      address = { hostname, port, family: addressFamily(hostname) };
    }

    const key = registryKey(address);
    const existing = this.#listeners.get(key) ?? [];
    const reusePort = options.reusePort === true;
    if (existing.length > 0 && !(reusePort && existing.every((other) => other.reusePort))) {
      return Promise.reject(
        new NetworkError("EADDRINUSE", `address already in use: ${formatAddress(address)}`),
      );
    }

    const listener = new MemoryListener(address, reusePort, options.tls, onOpen, () => {
      const entries = this.#listeners.get(key) ?? [];
      const remaining = entries.filter((entry) => entry !== listener);
      if (remaining.length === 0) {
        this.#listeners.delete(key);
      } else {
        this.#listeners.set(key, remaining);
      }
    });
    this.#listeners.set(key, [...existing, listener]);
    return Promise.resolve(listener);
  }

  connect(options: ConnectOptions, onOpen: OpenHandler): Promise<Connection> {
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(abortError(signal));
    }

    return new Promise<Connection>((resolve, reject) => {
      let settled = false;
      let client: MemoryConnection | undefined;

      const onAbort = () => {
        if (settled) {
          return;
        }
        settled = true;
        client?.destroy();
        reject(abortError(signal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });

      const settle = (outcome: () => void) => {
        if (settled) {
          return;
        }
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        outcome();
      };

      // Establishing a connection is asynchronous on every real runtime, so it is here too.
      queueMicrotask(() => {
        if (settled) {
          return;
        }
        const listener = this.#findListener(options);
        if (listener === undefined) {
          const target = options.path ?? `${options.hostname}:${options.port}`;
          settle(() => reject(new NetworkError("ECONNREFUSED", `connection refused: ${target}`)));
          return;
        }

        const pair = this.#createPair(options, listener);
        client = pair.client;
        const clientTls = options.tls;
        const serverTls = listener.tls;

        if (clientTls !== undefined && serverTls === undefined) {
          // The server never responds to the ClientHello, so the handshake waits.
          listener.accept(pair.server);
          pair.client.onClose = (error) => {
            settle(() =>
              reject(
                new NetworkError("TLS", "TLS handshake failed: the server closed the connection", {
                  cause: error,
                }),
              )
            );
          };
          return;
        }

        if (clientTls !== undefined && serverTls !== undefined) {
          const tls = negotiateTls(clientTls, serverTls, options.hostname);
          pair.client.tls = tls;
          pair.server.tls = tls;
        }

        try {
          pair.client.attach(onOpen(pair.client));
        } catch (error) {
          pair.client.destroy();
          pair.server.destroy();
          settle(() => reject(error));
          return;
        }

        if (clientTls === undefined && serverTls !== undefined) {
          // The TLS server rejects the plaintext bytes and resets the connection.
          pair.server.destroy(new NetworkError("TLS", "plaintext client reached a TLS listener"));
        } else {
          listener.accept(pair.server);
        }
        settle(() => resolve(pair.client));
      });
    });
  }

  /** Schedules `run` soon, never synchronously, yielding to timers now and then. */
  schedule(run: () => void): void {
    this.#deliveriesSinceYield += 1;
    if (this.#deliveriesSinceYield >= MICROTASK_DELIVERIES_PER_YIELD) {
      this.#deliveriesSinceYield = 0;
      setTimeout(run, 0);
    } else {
      queueMicrotask(run);
    }
  }

  #findListener(options: ConnectOptions): MemoryListener | undefined {
    const candidates: string[] = [];
    if (options.path !== undefined) {
      candidates.push(registryKey({ hostname: options.path, port: 0, family: "unix" }));
    } else {
      const hostname = resolveHostname(options.hostname);
      const family = addressFamily(hostname);
      candidates.push(registryKey({ hostname, port: options.port, family }));
      candidates.push(registryKey({ hostname: "0.0.0.0", port: options.port, family: "IPv4" }));
      candidates.push(registryKey({ hostname: "::", port: options.port, family: "IPv6" }));
    }

    for (const key of candidates) {
      const entries = this.#listeners.get(key);
      if (entries === undefined || entries.length === 0) {
        continue;
      }
      const turn = this.#roundRobin.get(key) ?? 0;
      this.#roundRobin.set(key, turn + 1);
      return entries[turn % entries.length];
    }
    return undefined;
  }

  #createPair(
    options: ConnectOptions,
    listener: MemoryListener,
  ): { client: MemoryConnection; server: MemoryConnection } {
    let clientAddress: SocketAddress;
    let serverAddress: SocketAddress;
    if (listener.address.family === "unix") {
      clientAddress = { hostname: "", port: 0, family: "unix" };
      serverAddress = listener.address;
    } else {
      const hostname = resolveHostname(options.hostname);
      const family = addressFamily(hostname);
      clientAddress = { hostname, port: this.#pickFreePort(hostname), family };
      serverAddress = { hostname, port: listener.address.port, family };
    }

    const toServer = new Pipe();
    const toClient = new Pipe();
    const client = new MemoryConnection(this, toServer, toClient, clientAddress, serverAddress);
    const server = new MemoryConnection(this, toClient, toServer, serverAddress, clientAddress);
    client.peer = server;
    server.peer = client;
    return { client, server };
  }

  #pickFreePort(hostname: string): number {
    const range = LAST_PORT - FIRST_EPHEMERAL_PORT + 1;
    for (let attempt = 0; attempt < range; attempt++) {
      const port = this.#nextPort;
      this.#nextPort = port === LAST_PORT ? FIRST_EPHEMERAL_PORT : port + 1;
      const key = registryKey({ hostname, port, family: addressFamily(hostname) });
      if (!this.#listeners.has(key)) {
        return port;
      }
    }
    throw new NetworkError("EADDRNOTAVAIL", `no free port left on ${hostname}`);
  }
}

class MemoryListener implements Listener {
  readonly address: SocketAddress;
  readonly reusePort: boolean;
  readonly tls: ServerTlsOptions | undefined;
  readonly #onOpen: OpenHandler;
  readonly #unregister: () => void;
  #closed = false;

  constructor(
    address: SocketAddress,
    reusePort: boolean,
    tls: ServerTlsOptions | undefined,
    onOpen: OpenHandler,
    unregister: () => void,
  ) {
    this.address = address;
    this.reusePort = reusePort;
    this.tls = tls;
    this.#onOpen = onOpen;
    this.#unregister = unregister;
  }

  /** Hands the server side of a new connection to the listener's open handler. */
  accept(server: MemoryConnection): void {
    try {
      server.attach(this.#onOpen(server));
    } catch (error) {
      server.destroy();
      rethrowLater(error);
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#unregister();
    }
    return Promise.resolve();
  }
}

/**
 * One direction of a connection: the sender's queue, then the simulated kernel buffer that the
 * receiver reads from.
 */
class Pipe {
  /** Written by the sender and not yet taken by the kernel. */
  readonly queue: Uint8Array[] = [];
  queuedBytes = 0;
  /** Taken by the kernel and not yet delivered to the receiver. */
  readonly kernel: Uint8Array[] = [];
  kernelBytes = 0;
  /** The sender called `end`, so FIN follows the queued bytes. */
  endQueued = false;
  /** FIN reached the kernel, after every byte written before it. */
  finSent = false;

  /** Moves queued bytes into the kernel buffer up to `capacity`. Returns whether anything moved. */
  move(capacity: number): boolean {
    let moved = false;
    while (this.queue.length > 0 && this.kernelBytes < capacity) {
      const head = this.queue[0];
      const room = capacity - this.kernelBytes;
      if (head.length <= room) {
        this.queue.shift();
        this.kernel.push(head);
        this.queuedBytes -= head.length;
        this.kernelBytes += head.length;
      } else {
        this.queue[0] = head.subarray(room);
        this.kernel.push(head.subarray(0, room));
        this.queuedBytes -= room;
        this.kernelBytes += room;
      }
      moved = true;
    }
    if (this.endQueued && !this.finSent && this.queue.length === 0) {
      this.finSent = true;
      moved = true;
    }
    return moved;
  }

  /** Removes and returns a copy of up to `maxBytes` from the kernel buffer. */
  take(maxBytes: number): Uint8Array {
    const head = this.kernel[0];
    let piece: Uint8Array;
    if (head.length <= maxBytes) {
      this.kernel.shift();
      piece = head;
    } else {
      this.kernel[0] = head.subarray(maxBytes);
      piece = head.subarray(0, maxBytes);
    }
    this.kernelBytes -= piece.length;
    // The receiver owns the chunk, and the sender may have written the same memory twice.
    return piece.slice();
  }

  clear(): void {
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.kernel.length = 0;
    this.kernelBytes = 0;
  }
}

class MemoryConnection implements Connection {
  readonly localAddress: SocketAddress;
  readonly remoteAddress: SocketAddress;
  tls: TlsInfo | undefined = undefined;
  peer!: MemoryConnection;
  /** Close callback for a client whose TLS handshake is still pending and has no handlers. */
  onClose: ((error: Error | undefined) => void) | undefined;

  readonly #network: MemoryNetwork;
  readonly #out: Pipe;
  readonly #in: Pipe;
  #handlers: ConnectionHandlers | undefined;
  #scheduled = false;
  #paused = false;
  #needDrain = false;
  #endDelivered = false;
  /** Set once the close is decided. The `close` event follows in the next delivery. */
  #closing = false;
  #closeError: Error | undefined;
  #closed = false;
  /** The peer closed without a reset. Bytes sent from now on make it reset this connection. */
  #peerGone = false;

  constructor(
    network: MemoryNetwork,
    out: Pipe,
    inbound: Pipe,
    localAddress: SocketAddress,
    remoteAddress: SocketAddress,
  ) {
    this.#network = network;
    this.#out = out;
    this.#in = inbound;
    this.localAddress = localAddress;
    this.remoteAddress = remoteAddress;
  }

  get bufferedAmount(): number {
    return this.#out.queuedBytes;
  }

  attach(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    this.#schedule();
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closing || this.#out.endQueued) {
      return false;
    }
    if (chunk.length > 0) {
      this.#out.queue.push(chunk);
      this.#out.queuedBytes += chunk.length;
      this.#moveOut();
    }
    const accepted = this.#out.queuedBytes < this.#network.highWaterMark;
    if (!accepted) {
      this.#needDrain = true;
    }
    this.#schedule();
    return accepted;
  }

  end(): void {
    if (this.#closing || this.#out.endQueued) {
      return;
    }
    this.#out.endQueued = true;
    this.#moveOut();
    this.#schedule();
  }

  destroy(error?: Error): void {
    if (this.#closing) {
      return;
    }
    const unread = this.#in.kernelBytes > 0 || this.#in.queuedBytes > 0;
    this.#beginClose(error);
    this.#out.queue.length = 0;
    this.#out.queuedBytes = 0;

    const peer = this.peer;
    if (error !== undefined || unread) {
      // Closing with unread data, or on an error, sends RST, which drops the peer's buffers.
      peer.#reset();
    } else {
      // A plain close sends FIN after the bytes the kernel already has.
      this.#out.endQueued = true;
      this.#out.finSent = true;
      peer.#peerGone = true;
      peer.#schedule();
    }
    this.#schedule();
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#schedule();
    }
  }

  setNoDelay(_noDelay: boolean): void {
    // Nothing to do: memory delivery has no Nagle delay.
  }

  #reset(): void {
    if (this.#closing) {
      return;
    }
    this.#beginClose(new NetworkError("ECONNRESET", "connection reset by peer"));
    this.#in.clear();
    this.#out.clear();
    this.#schedule();
  }

  #beginClose(error: Error | undefined): void {
    this.#closing = true;
    this.#closeError = error;
  }

  #moveOut(): void {
    if (this.#out.move(this.#network.socketBufferSize)) {
      this.peer.#schedule();
    }
  }

  #schedule(): void {
    if (this.#scheduled || this.#closed) {
      return;
    }
    this.#scheduled = true;
    this.#network.schedule(() => {
      this.#scheduled = false;
      this.#deliver();
    });
  }

  /** Runs every event that is due, in order. Only ever called from the scheduler. */
  #deliver(): void {
    if (this.#closed) {
      return;
    }
    if (!this.#closing && this.#peerGone && this.#out.queuedBytes + this.#out.kernelBytes > 0) {
      // Bytes reached a peer that has closed, so the peer sends RST.
      this.#reset();
    }
    if (this.#closing) {
      this.#finishClose();
      return;
    }
    const handlers = this.#handlers;
    if (handlers === undefined) {
      // A TLS client still in its handshake: it only notices the server going away.
      if (this.#in.finSent) {
        this.#beginClose(new NetworkError("ECONNRESET", "connection closed by the server"));
        this.#finishClose();
      }
      return;
    }

    this.#moveOut();
    if (this.#needDrain && this.#out.queuedBytes === 0) {
      this.#needDrain = false;
      invoke(() => handlers.drain());
    }

    while (!this.#paused && !this.#closing && this.#in.kernel.length > 0) {
      const chunk = this.#in.take(this.#network.maxChunkSize);
      // Room in the kernel buffer lets the peer's queue move on, which may drain it.
      if (this.#in.move(this.#network.socketBufferSize)) {
        this.peer.#schedule();
      }
      invoke(() => handlers.data(chunk));
    }
    if (this.#closing) {
      this.#finishClose();
      return;
    }

    if (!this.#paused && !this.#endDelivered && this.#in.finSent && this.#in.kernel.length === 0) {
      this.#endDelivered = true;
      invoke(() => handlers.end());
    }
    if (this.#endDelivered && this.#out.finSent && !this.#closing) {
      this.#beginClose(undefined);
    }
    if (this.#closing) {
      this.#finishClose();
    }
  }

  #finishClose(): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    this.#in.kernel.length = 0;
    this.#in.kernelBytes = 0;
    const error = this.#closeError;
    const handlers = this.#handlers;
    if (handlers !== undefined) {
      invoke(() => handlers.close(error));
    } else {
      this.onClose?.(error);
    }
  }
}

function negotiateTls(
  client: ClientTlsOptions,
  server: ServerTlsOptions,
  hostname: string,
): TlsInfo {
  const offered = client.alpnProtocols ?? [];
  const alpnProtocol = (server.alpnProtocols ?? []).find((protocol) => offered.includes(protocol));
  return { protocol: "TLSv1.3", alpnProtocol, serverName: client.serverName ?? hostname };
}

function abortError(signal: AbortSignal | undefined): NetworkError {
  return new NetworkError("ABORTED", "connect aborted", { cause: signal?.reason });
}

function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`MemoryNetwork option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}

/** Lower-cases a host name and drops the trailing dot of a fully qualified name. */
function normalizeHostname(hostname: string): string {
  const lower = hostname.toLowerCase();
  return lower.endsWith(".") ? lower.slice(0, -1) : lower;
}

function resolveHostname(hostname: string): string {
  return hostname === "localhost" ? "127.0.0.1" : hostname;
}

function addressFamily(hostname: string): "IPv4" | "IPv6" {
  return hostname.includes(":") ? "IPv6" : "IPv4";
}

function registryKey(address: SocketAddress): string {
  return address.family === "unix" ? `unix:${address.hostname}` : formatAddress(address);
}

function formatAddress(address: SocketAddress): string {
  if (address.family === "unix") {
    return address.hostname;
  }
  return address.family === "IPv6"
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}
