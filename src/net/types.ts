/**
 * The socket seam: the core declares these types and each runtime adapter implements them.
 * Nothing under `src/` touches a runtime API directly.
 */

export interface SocketAddress {
  /** IP address, or the socket path for a Unix socket. */
  hostname: string;
  /** TCP port; 0 for a Unix socket. */
  port: number;
  family: "IPv4" | "IPv6" | "unix";
}

export interface TlsInfo {
  /** Negotiated protocol version, such as `TLSv1.3`. */
  protocol?: string;
  /** Protocol selected with ALPN, such as `http/1.1`. */
  alpnProtocol?: string;
  /** Server name the client sent with SNI (server side) or requested (client side). */
  serverName?: string;
}

/**
 * One open byte stream. Every method may be called at any time, including after close, where
 * it does nothing.
 */
export interface Connection {
  /**
   * Queues the whole chunk for sending. Returns `false` once the bytes queued but not yet
   * taken by the operating system exceed the high-water mark; `drain` follows when the queue
   * is empty again. The caller must not reuse the chunk's memory after the call.
   */
  write(chunk: Uint8Array): boolean;
  /** Sends FIN once the queue is flushed. Reading goes on until the peer ends too. */
  end(): void;
  /** Closes both directions at once and drops queued bytes. */
  destroy(error?: Error): void;
  /** Stops `data` events until `resume`. */
  pause(): void;
  resume(): void;
  setNoDelay(noDelay: boolean): void;
  /** Bytes queued by `write` and not yet taken by the operating system. */
  readonly bufferedAmount: number;
  readonly localAddress: SocketAddress;
  readonly remoteAddress: SocketAddress;
  /** Present on TLS connections. */
  readonly tls: TlsInfo | undefined;
}

/**
 * Events of one connection. The adapter calls them in order, never re-entrantly from inside
 * a `write`, `end`, `destroy`, `pause` or `resume` call.
 */
export interface ConnectionHandlers {
  /** Bytes arrived. The chunk belongs to the handler. */
  data(chunk: Uint8Array): void;
  /** The write queue emptied after a `write` returned `false`. */
  drain(): void;
  /** The peer sent FIN. The connection stays open for writing (half-open). */
  end(): void;
  /** The connection is gone. Called exactly once, last; `error` is set when it failed. */
  close(error: Error | undefined): void;
}

/** Called once per connection when it opens; returns the handlers for its events. */
export type OpenHandler = (connection: Connection) => ConnectionHandlers;

export interface ServerTlsOptions {
  /** PEM certificate chain. */
  cert: string;
  /** PEM private key. */
  key: string;
  /** ALPN protocols offered, in order of preference. */
  alpnProtocols?: string[];
  /** PEM CA bundle to verify client certificates against; setting it requests a certificate. */
  clientCa?: string;
}

export interface ClientTlsOptions {
  /** Server name for SNI and certificate verification; defaults to the host name. */
  serverName?: string;
  /** PEM CA bundle that replaces the runtime's default roots. */
  ca?: string;
  /** Verify the server certificate. Defaults to true. */
  verify?: boolean;
  alpnProtocols?: string[];
}

export interface ListenOptions {
  hostname: string;
  /** 0 picks a free port, which `Listener.address` then reports. */
  port: number;
  /** Unix socket path; when set, `hostname` and `port` are ignored. */
  path?: string;
  /** Share the port between processes (SO_REUSEPORT) where the runtime supports it. */
  reusePort?: boolean;
  tls?: ServerTlsOptions;
}

export interface Listener {
  readonly address: SocketAddress;
  /** Stops accepting. Connections already open stay open. */
  close(): Promise<void>;
}

export interface ConnectOptions {
  hostname: string;
  port: number;
  /** Unix socket path; when set, `hostname` and `port` are ignored. */
  path?: string;
  tls?: ClientTlsOptions;
  /** Aborting it cancels a pending connect, which then rejects. */
  signal?: AbortSignal;
}

/** Opens and accepts connections. Each runtime adapter provides one. */
export interface Network {
  listen(options: ListenOptions, onOpen: OpenHandler): Promise<Listener>;
  /**
   * Resolves once the connection is open (and, with TLS, the handshake is done). Rejects with
   * a `NetworkError` when the connect fails or `options.signal` aborts it.
   */
  connect(options: ConnectOptions, onOpen: OpenHandler): Promise<Connection>;
  /**
   * Resolves a host name to its IPv4 and IPv6 addresses, each listed once. An IP address
   * literal resolves to itself. Rejects with a `NetworkError` (`ENOTFOUND` when the name has no
   * address). Each adapter documents which sources it reads, such as the hosts file.
   */
  resolve(hostname: string): Promise<string[]>;
}

/** Error codes that adapters map runtime errors to, named as POSIX and Node name them. */
export type NetworkErrorCode =
  | "ECONNREFUSED"
  | "ECONNRESET"
  | "ETIMEDOUT"
  | "EADDRINUSE"
  | "EADDRNOTAVAIL"
  | "ENOTFOUND"
  | "EPIPE"
  | "ABORTED"
  | "TLS"
  | "UNKNOWN";

export class NetworkError extends Error {
  readonly code: NetworkErrorCode;

  constructor(code: NetworkErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "NetworkError";
    this.code = code;
  }
}
