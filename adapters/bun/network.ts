/**
 * The `Network` for Bun, on `Bun.listen` and `Bun.connect`.
 *
 * Bun's socket API differs from Node's in ways this adapter hides (checked on Bun 1.4.5):
 * - `socket.write` takes only what the kernel accepts and returns that byte count, so the
 *   adapter queues the rest and writes it from Bun's `drain` callback.
 * - `socket.end()` closes both directions, so half-close uses `socket.shutdown()`.
 * - `socket.terminate()` and `socket.end()` call the `close` callback synchronously.
 * - `Bun.connect` resolves before the TLS handshake, which the adapter waits for.
 *
 * `resolve` uses Bun's `node:dns` `lookup`, which calls the operating system's resolver, so the
 * hosts file entries apply.
 */

import { lookupAddresses } from "../node/lookup.ts";

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
} from "../../src/net/types.ts";
import { invoke, rethrowLater } from "../../src/net/invoke.ts";
import { toNetworkError } from "../node/errors.ts";

/** The part of Bun's socket API that this adapter uses, because bun-types is not installed. */
interface BunSocket {
  /** Returns the number of bytes written, or -1 when the socket is closed. */
  write(data: Uint8Array): number;
  shutdown(halfClose?: boolean): void;
  terminate(): void;
  pause(): void;
  resume(): void;
  setNoDelay(noDelay?: boolean): boolean;
  data: BunConnection | undefined;
  readonly localAddress?: string;
  readonly localPort?: number;
  readonly localFamily?: string;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  readonly remoteFamily?: string;
  readonly alpnProtocol: string | false | null;
  getTLSVersion(): string | null;
  getServername?(): string | undefined;
}

interface BunSocketHandlers {
  open(socket: BunSocket): void;
  handshake(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}

interface BunTlsOptions {
  cert?: string;
  key?: string;
  ca?: string;
  serverName?: string;
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  ALPNProtocols?: Uint8Array;
}

interface BunServer {
  readonly hostname?: string;
  readonly port?: number;
  stop(closeActiveConnections?: boolean): void;
}

interface BunApi {
  listen(options: {
    hostname?: string;
    port?: number;
    unix?: string;
    allowHalfOpen: boolean;
    reusePort?: boolean;
    tls?: BunTlsOptions;
    socket: BunSocketHandlers;
  }): BunServer;
  connect(options: {
    hostname?: string;
    port?: number;
    unix?: string;
    allowHalfOpen: boolean;
    tls?: BunTlsOptions;
    data: BunConnection;
    socket: BunSocketHandlers;
  }): Promise<BunSocket>;
}

declare const Bun: BunApi;

export interface BunNetworkOptions {
  /** Queued bytes per connection above which `write` returns `false`. Default 64 KiB. */
  highWaterMark?: number;
}

const DEFAULT_HIGH_WATER_MARK = 64 * 1024;


export class BunNetwork implements Network {
  readonly highWaterMark: number;

  constructor(options: BunNetworkOptions = {}) {
    const highWaterMark = options.highWaterMark ?? DEFAULT_HIGH_WATER_MARK;
    if (!Number.isInteger(highWaterMark) || highWaterMark <= 0) {
      throw new RangeError(`highWaterMark must be a positive integer, got ${highWaterMark}`);
    }
    this.highWaterMark = highWaterMark;
  }

  listen(options: ListenOptions, onOpen: OpenHandler): Promise<Listener> {
    const serverTls = options.tls;
    const highWaterMark = this.highWaterMark;
    const open = (socket: BunSocket, info: TlsInfo | undefined) => {
      const connection = new BunConnection(highWaterMark, options.path);
      socket.data = connection;
      connection.bind(socket, info);
      try {
        connection.attach(onOpen(connection));
      } catch (error) {
        connection.destroy();
        rethrowLater(error);
      }
    };

    const socketHandlers: BunSocketHandlers = {
      ...forwardEvents,
      open(socket) {
        if (serverTls === undefined) {
          open(socket, undefined);
        }
      },
      handshake(socket, success, authorizationError) {
        // Without a client CA, Bun still reports that the missing client certificate is
        // unverified, so the error only counts when a certificate was requested.
        const rejected = serverTls?.clientCa !== undefined && authorizationError !== null;
        if (!success || rejected) {
          socket.terminate();
          return;
        }
        open(socket, serverTlsInfo(socket));
      },
    };

    try {
      const server = Bun.listen({
        ...(options.path !== undefined
          ? { unix: options.path }
          : { hostname: options.hostname, port: options.port }),
        allowHalfOpen: true,
        reusePort: options.reusePort,
        tls: serverTls === undefined ? undefined : bunServerTls(serverTls),
        socket: socketHandlers,
      });
      return Promise.resolve(new BunListener(server, options));
    } catch (error) {
      return Promise.reject(toNetworkError(error, false));
    }
  }

  connect(options: ConnectOptions, onOpen: OpenHandler): Promise<Connection> {
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(abortError(signal));
    }
    const clientTls = options.tls;
    const connection = new BunConnection(this.highWaterMark, options.path);

    return new Promise((resolve, reject) => {
      let settled = false;
      const fail = (error: unknown) => {
        if (settled) {
          return;
        }
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        connection.abandon();
        reject(error);
      };
      const onAbort = () => fail(abortError(signal));
      signal?.addEventListener("abort", onAbort, { once: true });

      const open = (socket: BunSocket, info: TlsInfo | undefined) => {
        if (settled) {
          socket.terminate();
          return;
        }
        settled = true;
        signal?.removeEventListener("abort", onAbort);
        connection.bind(socket, info);
        try {
          connection.attach(onOpen(connection));
        } catch (error) {
          connection.destroy();
          reject(error);
          return;
        }
        resolve(connection);
      };

      connection.beforeOpen = {
        opened(socket) {
          connection.adopt(socket);
          if (clientTls === undefined) {
            open(socket, undefined);
          }
        },
        handshaken(socket, success, authorizationError) {
          if (!success || (clientTls?.verify !== false && authorizationError !== null)) {
            const reason = authorizationError?.message ?? "handshake did not complete";
            fail(
              new NetworkError("TLS", `TLS handshake failed: ${reason}`, {
                cause: authorizationError,
              }),
            );
            return;
          }
          open(socket, clientTlsInfo(socket, clientTls, options.hostname));
        },
        closed(error) {
          const handshakeFailure = clientTls !== undefined && connection.adopted;
          fail(
            error === undefined
              ? new NetworkError(
                handshakeFailure ? "TLS" : "ECONNRESET",
                "connection closed before it opened",
              )
              : toNetworkError(error, handshakeFailure),
          );
        },
      };

      Bun.connect({
        ...(options.path !== undefined
          ? { unix: options.path }
          : { hostname: options.hostname, port: options.port }),
        allowHalfOpen: true,
        tls: clientTls === undefined ? undefined : bunClientTls(clientTls),
        data: connection,
        socket: clientSocketHandlers,
      }).then(
        (socket) => {
          // An abort that came while Bun was connecting leaves this socket unused.
          if (settled && !connection.adopted) {
            socket.terminate();
          }
        },
        (error) => fail(toNetworkError(error, false)),
      );
    });
  }

  resolve(hostname: string): Promise<string[]> {
    return lookupAddresses(hostname, (error) => toNetworkError(error, false));
  }
}

class BunListener implements Listener {
  readonly address: SocketAddress;
  readonly #server: BunServer;
  #closed = false;

  constructor(server: BunServer, options: ListenOptions) {
    this.#server = server;
    if (options.path !== undefined) {
      this.address = { hostname: options.path, port: 0, family: "unix" };
    } else {
      const hostname = server.hostname ?? options.hostname;
      this.address = { hostname, port: server.port ?? 0, family: familyOf(hostname) };
    }
  }

  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#server.stop(false);
    }
    return Promise.resolve();
  }
}

/** Callbacks of a client connection until it opens, or fails to. */
interface BeforeOpen {
  opened(socket: BunSocket): void;
  handshaken(socket: BunSocket, success: boolean, authorizationError: Error | null): void;
  closed(error: Error | undefined): void;
}

class BunConnection implements Connection {
  localAddress: SocketAddress = { hostname: "", port: 0, family: "IPv4" };
  remoteAddress: SocketAddress = { hostname: "", port: 0, family: "IPv4" };
  tls: TlsInfo | undefined;
  beforeOpen: BeforeOpen | undefined;

  readonly #highWaterMark: number;
  readonly #unixPath: string | undefined;
  #socket: BunSocket | undefined;
  #handlers: ConnectionHandlers | undefined;
  readonly #queue: Uint8Array[] = [];
  #queuedBytes = 0;
  #needDrain = false;
  #endRequested = false;
  #finSent = false;
  #paused = false;
  /** Events that arrived while paused, delivered in order on `resume`. */
  readonly #held: Uint8Array[] = [];
  #endHeld = false;
  #closeHeld = false;
  #endDelivered = false;
  /** Set once `destroy` ran or the socket closed. No event but `close` follows. */
  #closing = false;
  #closed = false;
  #closeError: Error | undefined;
  /** Depth of public method calls on the stack. Bun events that arrive inside one are deferred. */
  #callDepth = 0;

  constructor(highWaterMark: number, unixPath: string | undefined) {
    this.#highWaterMark = highWaterMark;
    this.#unixPath = unixPath;
  }

  /** Whether a socket is attached, possibly still in its TLS handshake. */
  get adopted(): boolean {
    return this.#socket !== undefined;
  }

  get bufferedAmount(): number {
    return this.#queuedBytes;
  }

  /** Attaches the socket as soon as TCP is up, so that `abandon` can terminate it. */
  adopt(socket: BunSocket): void {
    this.#socket = socket;
  }

  /** Records the socket's addresses and TLS details once it is open. */
  bind(socket: BunSocket, info: TlsInfo | undefined): void {
    this.#socket = socket;
    this.tls = info;
    if (this.#unixPath !== undefined) {
      this.localAddress = { hostname: this.#unixPath, port: 0, family: "unix" };
      this.remoteAddress = { hostname: this.#unixPath, port: 0, family: "unix" };
    } else {
      this.localAddress = socketAddress(socket.localAddress, socket.localPort, socket.localFamily);
      this.remoteAddress = socketAddress(
        socket.remoteAddress,
        socket.remotePort,
        socket.remoteFamily,
      );
    }
  }

  attach(handlers: ConnectionHandlers): void {
    this.beforeOpen = undefined;
    this.#handlers = handlers;
  }

  /** Drops a client connection whose connect failed or was aborted. */
  abandon(): void {
    this.beforeOpen = undefined;
    this.#closing = true;
    this.#closed = true;
    this.#socket?.terminate();
  }

  write(chunk: Uint8Array): boolean {
    if (this.#closing || this.#endRequested) {
      return false;
    }
    this.#callDepth += 1;
    try {
      if (this.#queue.length === 0) {
        const written = Math.max(this.#socket!.write(chunk), 0);
        if (written < chunk.length) {
          this.#enqueue(chunk.subarray(written));
        }
      } else {
        this.#enqueue(chunk);
      }
    } finally {
      this.#callDepth -= 1;
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
    if (this.#queue.length === 0) {
      this.#shutdown();
    }
  }

  destroy(error?: Error): void {
    if (this.#closing) {
      return;
    }
    this.#closing = true;
    this.#closeError = error;
    this.#dropQueues();
    this.#callDepth += 1;
    try {
      this.#socket?.terminate();
    } finally {
      this.#callDepth -= 1;
    }
    queueMicrotask(() => this.#deliverClose());
  }

  pause(): void {
    if (this.#closing || this.#paused) {
      return;
    }
    this.#paused = true;
    this.#socket?.pause();
  }

  resume(): void {
    if (this.#closed || !this.#paused || (this.#closing && !this.#closeHeld)) {
      return;
    }
    this.#paused = false;
    this.#callDepth += 1;
    try {
      this.#socket?.resume();
    } finally {
      this.#callDepth -= 1;
    }
    if (this.#held.length > 0 || this.#endHeld || this.#closeHeld) {
      queueMicrotask(() => this.#deliverHeld());
    }
  }

  setNoDelay(noDelay: boolean): void {
    if (!this.#closing) {
      this.#socket?.setNoDelay(noDelay);
    }
  }

  // The methods below receive Bun's socket events.

  onData(chunk: Uint8Array): void {
    if (this.#deferIfInCall(() => this.onData(chunk)) || this.#closing) {
      return;
    }
    if (this.#paused || this.#held.length > 0 || this.#handlers === undefined) {
      this.#held.push(chunk);
      return;
    }
    const handlers = this.#handlers;
    invoke(() => handlers.data(chunk));
  }

  onDrain(): void {
    if (this.#deferIfInCall(() => this.onDrain()) || this.#closing) {
      return;
    }
    this.#flush();
  }

  onEnd(): void {
    if (this.#deferIfInCall(() => this.onEnd()) || this.#closing) {
      return;
    }
    if (this.#paused || this.#held.length > 0) {
      this.#endHeld = true;
      return;
    }
    this.#deliverEnd();
  }

  onError(error: Error): void {
    this.#closeError ??= toNetworkError(error, false);
  }

  onClose(error: Error | undefined): void {
    if (this.#deferIfInCall(() => this.onClose(error)) || this.#closed) {
      return;
    }
    if (this.#handlers === undefined) {
      // A client that had not opened yet.
      const beforeOpen = this.beforeOpen;
      this.beforeOpen = undefined;
      this.#closed = true;
      beforeOpen?.closed(error ?? this.#closeError);
      return;
    }
    if (this.#closing) {
      // `destroy` already scheduled the close event.
      return;
    }

    this.#closing = true;
    if (error !== undefined) {
      this.#closeError ??= toNetworkError(error, false);
    }
    this.#dropQueues();
    if (this.#closeError !== undefined) {
      this.#held.length = 0;
      this.#deliverClose();
      return;
    }

    // A clean close means the peer sent FIN, so `end` comes before `close`.
    // NOTE: Bun 1.4.5 skips the `end` callback when the peer's FIN arrives after this side's
    // shutdown() and calls `close` directly, so the adapter supplies the missing `end`.
    if (this.#paused || this.#held.length > 0) {
      this.#endHeld = true;
      this.#closeHeld = true;
      return;
    }
    this.#deliverEnd();
    this.#deliverClose();
  }

  #enqueue(chunk: Uint8Array): void {
    this.#queue.push(chunk);
    this.#queuedBytes += chunk.length;
  }

  #dropQueues(): void {
    this.#queue.length = 0;
    this.#queuedBytes = 0;
  }

  /** Writes queued bytes until Bun takes less than offered. Bun calls `drain` again later. */
  #flush(): void {
    const socket = this.#socket;
    if (socket === undefined) {
      return;
    }
    while (this.#queue.length > 0) {
      const head = this.#queue[0];
      const written = socket.write(head);
      if (written < 0) {
        return;
      }
      this.#queuedBytes -= written;
      if (written < head.length) {
        this.#queue[0] = head.subarray(written);
        return;
      }
      this.#queue.shift();
    }
    if (this.#endRequested) {
      this.#shutdown();
    }
    if (this.#needDrain) {
      this.#needDrain = false;
      const handlers = this.#handlers;
      if (handlers !== undefined) {
        invoke(() => handlers.drain());
      }
    }
  }

  #shutdown(): void {
    if (this.#finSent) {
      return;
    }
    this.#finSent = true;
    this.#callDepth += 1;
    try {
      this.#socket?.shutdown();
    } finally {
      this.#callDepth -= 1;
    }
  }

  #deliverHeld(): void {
    const handlers = this.#handlers;
    if (handlers === undefined) {
      return;
    }
    while (!this.#paused && this.#held.length > 0) {
      if (this.#closed || (this.#closing && !this.#closeHeld)) {
        return;
      }
      const chunk = this.#held.shift()!;
      invoke(() => handlers.data(chunk));
    }
    if (this.#paused) {
      return;
    }
    if (this.#endHeld) {
      this.#endHeld = false;
      this.#deliverEnd();
    }
    if (this.#closeHeld) {
      this.#closeHeld = false;
      this.#deliverClose();
    }
  }

  #deliverEnd(): void {
    const handlers = this.#handlers;
    if (this.#endDelivered || handlers === undefined) {
      return;
    }
    this.#endDelivered = true;
    invoke(() => handlers.end());
  }

  #deliverClose(): void {
    if (this.#closed) {
      return;
    }
    const handlers = this.#handlers;
    this.#closed = true;
    const error = this.#closeError;
    if (handlers !== undefined) {
      invoke(() => handlers.close(error));
    }
  }

  /** Queues the event for later when it arrived inside a public method call. */
  #deferIfInCall(event: () => void): boolean {
    if (this.#callDepth === 0) {
      return false;
    }
    queueMicrotask(event);
    return true;
  }
}

/** Bun callbacks shared by every socket. Each forwards to the socket's `BunConnection`. */
const forwardEvents = {
  data(socket: BunSocket, data: Uint8Array) {
    socket.data?.onData(data);
  },
  drain(socket: BunSocket) {
    socket.data?.onDrain();
  },
  end(socket: BunSocket) {
    socket.data?.onEnd();
  },
  close(socket: BunSocket, error?: Error) {
    socket.data?.onClose(error);
  },
  error(socket: BunSocket, error: Error) {
    socket.data?.onError(error);
  },
};

const clientSocketHandlers: BunSocketHandlers = {
  ...forwardEvents,
  open(socket) {
    socket.data?.beforeOpen?.opened(socket);
  },
  handshake(socket, success, authorizationError) {
    socket.data?.beforeOpen?.handshaken(socket, success, authorizationError);
  },
  connectError() {
    // The promise from Bun.connect rejects with the same error.
  },
};

function bunServerTls(options: ServerTlsOptions): BunTlsOptions {
  return {
    cert: options.cert,
    key: options.key,
    ca: options.clientCa,
    requestCert: options.clientCa !== undefined,
    rejectUnauthorized: options.clientCa !== undefined,
    ALPNProtocols: alpnWireFormat(options.alpnProtocols),
  };
}

function bunClientTls(options: ClientTlsOptions): BunTlsOptions {
  return {
    ca: options.ca,
    serverName: options.serverName,
    rejectUnauthorized: options.verify !== false,
    ALPNProtocols: alpnWireFormat(options.alpnProtocols),
  };
}

/**
 * Encodes ALPN protocols as length-prefixed bytes.
 * NOTE: Bun 1.4.5 rejects an array for `ALPNProtocols`, and a plain string negotiates no
 * protocol, so only the wire format works.
 */
function alpnWireFormat(protocols: string[] | undefined): Uint8Array | undefined {
  if (protocols === undefined || protocols.length === 0) {
    return undefined;
  }
  const encoder = new TextEncoder();
  const encoded = protocols.map((protocol) => encoder.encode(protocol));
  const wire = new Uint8Array(encoded.reduce((sum, bytes) => sum + 1 + bytes.length, 0));
  let offset = 0;
  for (const bytes of encoded) {
    if (bytes.length === 0 || bytes.length > 255) {
      throw new RangeError(`ALPN protocol names must be 1 to 255 bytes long, got ${bytes.length}`);
    }
    wire[offset] = bytes.length;
    wire.set(bytes, offset + 1);
    offset += 1 + bytes.length;
  }
  return wire;
}

function clientTlsInfo(
  socket: BunSocket,
  options: ClientTlsOptions | undefined,
  hostname: string,
): TlsInfo {
  return {
    protocol: socket.getTLSVersion() ?? undefined,
    alpnProtocol: socket.alpnProtocol || undefined,
    serverName: options?.serverName ?? hostname,
  };
}

function serverTlsInfo(socket: BunSocket): TlsInfo {
  return {
    protocol: socket.getTLSVersion() ?? undefined,
    alpnProtocol: socket.alpnProtocol || undefined,
    serverName: socket.getServername?.() || undefined,
  };
}

function socketAddress(
  hostname: string | undefined,
  port: number | undefined,
  family: string | undefined,
): SocketAddress {
  const address = hostname ?? "";
  return {
    hostname: address,
    port: port ?? 0,
    family: family === "IPv6" || (family === undefined && address.includes(":")) ? "IPv6" : "IPv4",
  };
}

function familyOf(hostname: string): "IPv4" | "IPv6" {
  return hostname.includes(":") ? "IPv6" : "IPv4";
}


function abortError(signal: AbortSignal | undefined): NetworkError {
  return new NetworkError("ABORTED", "connect aborted", { cause: signal?.reason });
}
