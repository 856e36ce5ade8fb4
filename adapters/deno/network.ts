/**
 * The `Network` for Deno, on `Deno.listen`, `Deno.connect` and their TLS variants.
 *
 * Each connection runs one `read()` loop and one writer loop on the `Deno.Conn`. The
 * `readable` and `writable` streams are not used, because in Deno 2.9.6 the readable stream
 * closes the socket at EOF, so a half-closed peer could get no reply.
 *
 * Limits of Deno 2.9.6 that the adapter cannot hide:
 * - `tls.verify: false` is rejected: only `--unsafely-ignore-certificate-errors` turns off
 *   certificate checks.
 * - `tls.ca` is added to the default roots instead of replacing them.
 * - `Deno.listenTls` cannot request client certificates, so `clientCa` is rejected.
 * - TLS connections have no `setNoDelay`, and server-side `tls` carries only the ALPN protocol.
 *
 * `resolve` uses `Deno.resolveDns` for A and AAAA records, which in Deno 2.9.6 reads the hosts
 * file and then queries the system's name server. It needs `--allow-net` for that name server's
 * address (such as `10.0.0.53:53`), so a `--allow-net` list must include it.
 */

import {
  type Connection,
  type ConnectionHandlers,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type Network,
  NetworkError,
  type NetworkErrorCode,
  type OpenHandler,
  type SocketAddress,
  type TlsInfo,
} from "../../src/net/types.ts";
import { ipAddressFamily } from "../../src/net/ip-address.ts";
import { invoke, rethrowLater } from "../../src/net/invoke.ts";

export interface DenoNetworkOptions {
  /** Queued bytes per connection above which `write` returns `false`. Default 64 KiB. */
  highWaterMark?: number;
  /**
   * Largest buffer for one `read()` call in bytes. Default 64 KiB. Each connection starts with
   * a small buffer and doubles it while reads fill it, because a pending read holds its
   * buffer: 10,000 idle connections with 64 KiB each would hold 640 MiB.
   */
  readBufferSize?: number;
}

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;
const DEFAULT_READ_BUFFER_SIZE = 64 * 1024;
/** First read buffer of a connection: enough for a typical request or response head. */
const INITIAL_READ_BUFFER_SIZE = 4 * 1024;
/** Pause before the next `accept()` after it failed, such as on EMFILE. */
const ACCEPT_RETRY_DELAY_MS = 100;

/** Error codes (set by Deno 2 on its error classes) that keep their name. */
const SOCKET_ERROR_CODES: Record<string, NetworkErrorCode> = {
  ECONNREFUSED: "ECONNREFUSED",
  ECONNRESET: "ECONNRESET",
  ECONNABORTED: "ECONNRESET",
  ETIMEDOUT: "ETIMEDOUT",
  EADDRINUSE: "EADDRINUSE",
  EADDRNOTAVAIL: "EADDRNOTAVAIL",
  ENOTFOUND: "ENOTFOUND",
  EPIPE: "EPIPE",
};

export class DenoNetwork implements Network {
  readonly highWaterMark: number;
  readonly readBufferSize: number;

  constructor(options: DenoNetworkOptions = {}) {
    this.highWaterMark = positiveOption(
      "highWaterMark",
      options.highWaterMark,
      DEFAULT_HIGH_WATER_MARK,
    );
    this.readBufferSize = positiveOption(
      "readBufferSize",
      options.readBufferSize,
      DEFAULT_READ_BUFFER_SIZE,
    );
  }

  listen(options: ListenOptions, onOpen: OpenHandler): Promise<Listener> {
    const serverTls = options.tls;
    if (serverTls?.clientCa !== undefined) {
      return Promise.reject(
        new NetworkError("TLS", "Deno.listenTls cannot request client certificates (clientCa)"),
      );
    }

    let listener: Deno.Listener;
    try {
      if (options.path !== undefined) {
        listener = Deno.listen({ transport: "unix", path: options.path });
      } else if (serverTls !== undefined) {
        listener = Deno.listenTls({
          hostname: options.hostname,
          port: options.port,
          cert: serverTls.cert,
          key: serverTls.key,
          alpnProtocols: serverTls.alpnProtocols,
        });
      } else {
        const tcpOptions: Deno.TcpListenOptions & { reusePort?: boolean } = {
          hostname: options.hostname,
          port: options.port,
        };
        // NOTE: Deno 2.9.6 ends the process with exit code 70, which no `catch` can stop, when
        // `reusePort` is passed without --unstable-net. The option is therefore only passed
        // when `Deno.listenDatagram`, another --unstable-net API, exists, and ignored otherwise.
        if (options.reusePort === true && unstableNetEnabled()) {
          tcpOptions.reusePort = true;
        }
        listener = Deno.listen(tcpOptions);
      }
    } catch (error) {
      return Promise.reject(toNetworkError(error, false));
    }
    const settings = { highWaterMark: this.highWaterMark, readBufferSize: this.readBufferSize };
    return Promise.resolve(new DenoListener(listener, serverTls !== undefined, onOpen, settings));
  }

  async connect(options: ConnectOptions, onOpen: OpenHandler): Promise<Connection> {
    const signal = options.signal;
    if (signal?.aborted) {
      throw abortError(signal);
    }
    const clientTls = options.tls;
    if (clientTls?.verify === false) {
      throw new NetworkError(
        "TLS",
        "the Deno adapter cannot turn off certificate checks, so tls.verify: false is not " +
          "supported: remove it and set tls.caFile in the upstream's configuration to the CA " +
          "certificate that signed the server's certificate",
      );
    }

    let conn: Deno.Conn;
    try {
      conn = options.path !== undefined
        ? await abortable(Deno.connect({ transport: "unix", path: options.path }), signal)
        : await Deno.connect({ hostname: options.hostname, port: options.port, signal });
    } catch (error) {
      throw signal?.aborted ? abortError(signal) : toNetworkError(error, false);
    }

    let info: TlsInfo | undefined;
    if (clientTls !== undefined) {
      const serverName = clientTls.serverName ?? options.hostname;
      let tlsConn: Deno.TlsConn | undefined;
      // Closing the connection is the only way to cancel a pending handshake.
      // NOTE: in Deno 2.9.6 the close of a TLS connection waits for its handshake, so the socket
      // of an aborted handshake stays open until the server responds or closes.
      const onAbort = () => closeQuietly(tlsConn ?? conn);
      signal?.addEventListener("abort", onAbort, { once: true });
      try {
        tlsConn = await Deno.startTls(conn as Deno.TcpConn, {
          hostname: serverName,
          caCerts: clientTls.ca === undefined ? undefined : [clientTls.ca],
          alpnProtocols: clientTls.alpnProtocols,
        });
        const handshake = await tlsConn.handshake();
        info = { alpnProtocol: handshake.alpnProtocol ?? undefined, serverName };
        conn = tlsConn;
      } catch (error) {
        closeQuietly(tlsConn ?? conn);
        throw signal?.aborted ? abortError(signal) : toNetworkError(error, true);
      } finally {
        signal?.removeEventListener("abort", onAbort);
      }
    }
    if (signal?.aborted) {
      closeQuietly(conn);
      throw abortError(signal);
    }

    const connection = new DenoConnection(conn, info, this.highWaterMark, this.readBufferSize);
    try {
      connection.start(onOpen(connection));
    } catch (error) {
      connection.destroy();
      throw error;
    }
    return connection;
  }

  async resolve(hostname: string): Promise<string[]> {
    // Deno.resolveDns treats an IP literal as a name and fails to find it.
    if (ipAddressFamily(hostname) !== undefined) {
      return [hostname];
    }
    const [ipv4, ipv6] = await Promise.allSettled([
      Deno.resolveDns(hostname, "A"),
      Deno.resolveDns(hostname, "AAAA"),
    ]);
    const addresses = new Set<string>();
    for (const result of [ipv4, ipv6]) {
      if (result.status === "fulfilled") {
        for (const address of result.value) addresses.add(address);
      }
    }
    if (addresses.size > 0) {
      return [...addresses];
    }
    // A name with records of neither type fails both queries with NotFound.
    const failure = ipv4.status === "rejected" ? ipv4.reason : undefined;
    if (failure === undefined || failure instanceof Deno.errors.NotFound) {
      throw new NetworkError("ENOTFOUND", `host not found: ${hostname}`, { cause: failure });
    }
    throw toNetworkError(failure, false);
  }
}

class DenoListener implements Listener {
  readonly address: SocketAddress;
  readonly #listener: Deno.Listener;
  readonly #tls: boolean;
  readonly #onOpen: OpenHandler;
  readonly #settings: { highWaterMark: number; readBufferSize: number };
  readonly #acceptLoop: Promise<void>;
  #closed = false;

  constructor(
    listener: Deno.Listener,
    tls: boolean,
    onOpen: OpenHandler,
    settings: { highWaterMark: number; readBufferSize: number },
  ) {
    this.#listener = listener;
    this.#tls = tls;
    this.#onOpen = onOpen;
    this.#settings = settings;
    this.address = addressOf(listener.addr);
    this.#acceptLoop = this.#accept();
  }

  async close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      closeQuietly(this.#listener);
    }
    await this.#acceptLoop;
  }

  /** Accepts until the listener closes. */
  async #accept(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closed || error instanceof Deno.errors.BadResource) {
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, ACCEPT_RETRY_DELAY_MS));
        continue;
      }
      // The TLS handshake runs apart from the loop so that a slow client holds up no other.
      void this.#open(conn);
    }
  }

  async #open(conn: Deno.Conn): Promise<void> {
    let info: TlsInfo | undefined;
    if (this.#tls) {
      try {
        const handshake = await (conn as Deno.TlsConn).handshake();
        info = { alpnProtocol: handshake.alpnProtocol ?? undefined };
      } catch {
        // A client that fails the handshake never reaches the open handler.
        closeQuietly(conn);
        return;
      }
    }
    const { highWaterMark, readBufferSize } = this.#settings;
    const connection = new DenoConnection(conn, info, highWaterMark, readBufferSize);
    try {
      connection.start(this.#onOpen(connection));
    } catch (error) {
      connection.destroy();
      rethrowLater(error);
    }
  }
}

class DenoConnection implements Connection {
  readonly localAddress: SocketAddress;
  readonly remoteAddress: SocketAddress;
  readonly tls: TlsInfo | undefined;

  readonly #conn: Deno.Conn;
  readonly #highWaterMark: number;
  readonly #readBufferSize: number;
  #handlers: ConnectionHandlers | undefined;
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #writing = false;
  #needDrain = false;
  #endRequested = false;
  #finSent = false;
  #endDelivered = false;
  #paused = false;
  /** Resolves the read loop's wait while paused. */
  #wake: (() => void) | undefined;
  /** Set once the close is decided. No event but `close` follows. */
  #closing = false;
  #closed = false;

  constructor(
    conn: Deno.Conn,
    info: TlsInfo | undefined,
    highWaterMark: number,
    readBufferSize: number,
  ) {
    this.#conn = conn;
    this.tls = info;
    this.#highWaterMark = highWaterMark;
    this.#readBufferSize = readBufferSize;
    this.localAddress = addressOf(conn.localAddr);
    this.remoteAddress = addressOf(conn.remoteAddr);
  }

  get bufferedAmount(): number {
    return this.#queuedBytes;
  }

  start(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    void this.#readLoop();
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closing || this.#endRequested) {
      return false;
    }
    if (chunk.length > 0) {
      this.#queue.push(chunk);
      this.#queuedBytes += chunk.length;
      this.#startWriter();
    }
    const accepted = this.#queuedBytes < this.#highWaterMark;
    if (!accepted) {
      this.#needDrain = true;
    }
    return accepted;
  }

  end(): void {
    if (this.#closing || this.#endRequested) {
      return;
    }
    this.#endRequested = true;
    this.#startWriter();
  }

  destroy(error?: Error): void {
    if (this.#closing) {
      return;
    }
    this.#closing = true;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    // Closing the resource makes a pending read or write reject, which ends both loops.
    closeQuietly(this.#conn);
    this.#wake?.();
    queueMicrotask(() => this.#deliverClose(error));
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    if (this.#paused) {
      this.#paused = false;
      this.#wake?.();
    }
  }

  setNoDelay(noDelay: boolean): void {
    const conn = this.#conn as Partial<Deno.TcpConn>;
    if (!this.#closing && typeof conn.setNoDelay === "function") {
      conn.setNoDelay(noDelay);
    }
  }

  /** Waits until `resume` or `destroy`, or returns at once when not paused. */
  async #waitWhilePaused(): Promise<void> {
    while (this.#paused && !this.#closing) {
      await new Promise<void>((resolve) => {
        this.#wake = resolve;
      });
      this.#wake = undefined;
    }
  }

  /** Reads until EOF, an error or the close. Runs once per connection. */
  async #readLoop(): Promise<void> {
    const handlers = this.#handlers!;
    let buffer = new Uint8Array(Math.min(INITIAL_READ_BUFFER_SIZE, this.#readBufferSize));
    while (!this.#closing) {
      await this.#waitWhilePaused();
      if (this.#closing) {
        return;
      }
      let count: number | null;
      try {
        count = await this.#conn.read(buffer);
      } catch (error) {
        this.#fail(error);
        return;
      }
      // A read started before `pause` may finish after it, so its bytes wait for `resume`.
      await this.#waitWhilePaused();
      if (this.#closing) {
        return;
      }
      if (count === null) {
        this.#endDelivered = true;
        invoke(() => handlers.end());
        this.#closeIfDone();
        return;
      }
      if (count > 0) {
        const chunk = buffer.slice(0, count);
        if (count === buffer.length && buffer.length < this.#readBufferSize) {
          buffer = new Uint8Array(Math.min(buffer.length * 2, this.#readBufferSize));
        }
        invoke(() => handlers.data(chunk));
      }
    }
  }

  #startWriter(): void {
    if (!this.#writing) {
      void this.#writeLoop();
    }
  }

  /** Writes the queue in order, then sends FIN if `end` was called. One runs at a time. */
  async #writeLoop(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.#closing) {
        const head = this.#queue[0];
        const written = await this.#conn.write(head);
        if (this.#closing) {
          return;
        }
        this.#queuedBytes -= written;
        if (written < head.length) {
          this.#queue[0] = head.subarray(written);
        } else {
          this.#queue.shift();
        }
      }
      if (this.#closing) {
        return;
      }
      if (this.#endRequested && !this.#finSent) {
        this.#finSent = true;
        await this.#conn.closeWrite();
      }
    } catch (error) {
      this.#fail(error);
      return;
    } finally {
      this.#writing = false;
    }

    if (this.#closing) {
      return;
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      const handlers = this.#handlers;
      if (handlers !== undefined) {
        // The handler may write again, which starts a new writer loop.
        invoke(() => handlers.drain());
      }
    }
    this.#closeIfDone();
  }

  /** Closes once both directions are finished: FIN sent and the peer's FIN delivered. */
  #closeIfDone(): void {
    if (this.#closing || !this.#endDelivered || !this.#finSent || this.#writing) {
      return;
    }
    this.#closing = true;
    closeQuietly(this.#conn);
    this.#deliverClose(undefined);
  }

  #fail(error: unknown): void {
    if (this.#closing) {
      // The loop failed because `destroy` or `#closeIfDone` closed the resource.
      return;
    }
    this.#closing = true;
    this.#queue.length = 0;
    this.#queuedBytes = 0;
    closeQuietly(this.#conn);
    this.#wake?.();
    this.#deliverClose(toNetworkError(error, false));
  }

  #deliverClose(error: Error | undefined): void {
    if (this.#closed) {
      return;
    }
    this.#closed = true;
    const handlers = this.#handlers;
    if (handlers !== undefined) {
      invoke(() => handlers.close(error));
    }
  }
}

function unstableNetEnabled(): boolean {
  return typeof (Deno as { listenDatagram?: unknown }).listenDatagram === "function";
}

/** Rejects with `ABORTED` when `signal` aborts first. A connection that opens late is closed. */
function abortable<T extends Deno.Conn>(
  connecting: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (signal === undefined) {
    return connecting;
  }
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(abortError(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    connecting.then(
      (conn) => {
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) {
          closeQuietly(conn);
        }
        resolve(conn);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

function addressOf(addr: Deno.Addr): SocketAddress {
  if (addr.transport === "unix" || addr.transport === "unixpacket") {
    return { hostname: addr.path ?? "", port: 0, family: "unix" };
  }
  if (addr.transport === "tcp" || addr.transport === "udp") {
    return {
      hostname: addr.hostname,
      port: addr.port,
      family: addr.hostname.includes(":") ? "IPv6" : "IPv4",
    };
  }
  return { hostname: "", port: 0, family: "IPv4" };
}

/**
 * Maps a Deno error to a `NetworkError`. `duringHandshake` turns errors without a socket code,
 * such as `InvalidData` for a rejected certificate, into `TLS`.
 */
function toNetworkError(error: unknown, duringHandshake: boolean): NetworkError {
  if (error instanceof NetworkError) {
    return error;
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  let mapped = typeof code === "string" ? SOCKET_ERROR_CODES[code] : undefined;
  if (mapped === undefined) {
    if (error instanceof Deno.errors.ConnectionRefused) {
      mapped = "ECONNREFUSED";
    } else if (
      error instanceof Deno.errors.ConnectionReset || error instanceof Deno.errors.ConnectionAborted
    ) {
      mapped = "ECONNRESET";
    } else if (error instanceof Deno.errors.BrokenPipe) {
      mapped = "EPIPE";
    } else if (error instanceof Deno.errors.AddrInUse) {
      mapped = "EADDRINUSE";
    } else if (error instanceof Deno.errors.AddrNotAvailable) {
      mapped = "EADDRNOTAVAIL";
    } else if (error instanceof Deno.errors.TimedOut) {
      mapped = "ETIMEDOUT";
    }
  }
  if (mapped !== undefined) {
    return new NetworkError(mapped, message, { cause: error });
  }
  if (duringHandshake || error instanceof Deno.errors.InvalidData) {
    return new NetworkError("TLS", `TLS handshake failed: ${message}`, { cause: error });
  }
  return new NetworkError("UNKNOWN", message, { cause: error });
}

function abortError(signal: AbortSignal | undefined): NetworkError {
  return new NetworkError("ABORTED", "connect aborted", { cause: signal?.reason });
}

/** Closes a Deno resource that may already be closed. */
function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) {
      throw error;
    }
  }
}

function positiveOption(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) {
    return fallback;
  }
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`DenoNetwork option ${name} must be a positive integer, got ${value}`);
  }
  return value;
}
