/**
 * The `Network` for Node, on `node:net` and `node:tls`. Sockets are half-open (`allowHalfOpen`)
 * so that a peer's FIN only ends reading. `resolve` uses `dns.lookup`, which calls the operating
 * system's resolver (getaddrinfo), so entries in the hosts file apply.
 */

import { lookupAddresses } from "./lookup.ts";
import net from "node:net";
import tls from "node:tls";

import {
  type Connection,
  type ConnectionHandlers,
  type ConnectOptions,
  type Listener,
  type ListenOptions,
  type Network,
  NetworkError,
  type OpenHandler,
  type SocketAddress,
  type TlsInfo,
} from "../../src/net/types.ts";
import { invoke, rethrowLater } from "../../src/net/invoke.ts";
import { toNetworkError } from "./errors.ts";


export class NodeNetwork implements Network {
  listen(options: ListenOptions, onOpen: OpenHandler): Promise<Listener> {
    const serverTls = options.tls;
    const server = serverTls === undefined
      ? net.createServer({ allowHalfOpen: true })
      : tls.createServer({
        allowHalfOpen: true,
        cert: serverTls.cert,
        key: serverTls.key,
        ALPNProtocols: serverTls.alpnProtocols,
        ca: serverTls.clientCa,
        requestCert: serverTls.clientCa !== undefined,
        rejectUnauthorized: serverTls.clientCa !== undefined,
      });

    const accept = (socket: net.Socket) => {
      const info = socket instanceof tls.TLSSocket ? serverTlsInfo(socket) : undefined;
      const connection = new NodeConnection(socket, info, options.path);
      try {
        connection.attach(onOpen(connection));
      } catch (error) {
        connection.destroy();
        rethrowLater(error);
      }
    };
    server.on(serverTls === undefined ? "connection" : "secureConnection", accept);
    // Node destroys the socket of a client that fails the handshake. There is nothing to add.
    server.on("tlsClientError", () => {});

    return new Promise((resolve, reject) => {
      const onListenError = (error: Error) => {
        reject(toNetworkError(error, false));
      };
      server.once("error", onListenError);
      // Node 20 ignores `reusePort` (checked on 20.20.2). Processes share a port through the
      // cluster module instead: in a cluster worker, a listener is shared through the primary
      // unless `exclusive` is set, so only listeners that ask for `reusePort` are shared.
      const listening = options.path !== undefined
        ? { path: options.path }
        : { host: options.hostname, port: options.port, exclusive: options.reusePort !== true };
      server.listen(listening, () => {
        server.off("error", onListenError);
        // Accept errors after listening (such as EMFILE) do not stop the server, and an
        // 'error' event without a listener would crash the process.
        server.on("error", () => {});
        resolve(new NodeListener(server, options));
      });
    });
  }

  connect(options: ConnectOptions, onOpen: OpenHandler): Promise<Connection> {
    const signal = options.signal;
    if (signal?.aborted) {
      return Promise.reject(abortError(signal));
    }

    const clientTls = options.tls;
    const target = options.path !== undefined
      ? { path: options.path }
      : { host: options.hostname, port: options.port };
    let socket: net.Socket;
    if (clientTls === undefined) {
      socket = net.connect({ ...target, allowHalfOpen: true });
    } else {
      const serverName = clientTls.serverName ??
        (net.isIP(options.hostname) === 0 ? options.hostname : undefined);
      // @types/node leaves `allowHalfOpen` out of tls.ConnectionOptions, but Node 20 passes it
      // on to the socket.
      const tlsOptions: tls.ConnectionOptions & { allowHalfOpen: boolean } = {
        ...target,
        allowHalfOpen: true,
        servername: serverName,
        ca: clientTls.ca,
        rejectUnauthorized: clientTls.verify !== false,
        ALPNProtocols: clientTls.alpnProtocols,
      };
      socket = tls.connect(tlsOptions);
    }

    return new Promise((resolve, reject) => {
      const cleanup = () => {
        socket.off("error", onError);
        socket.off(readyEvent, onReady);
        signal?.removeEventListener("abort", onAbort);
      };
      const onError = (error: Error) => {
        cleanup();
        // A failure once TCP is up but before `secureConnect` comes from the TLS handshake.
        reject(toNetworkError(error, clientTls !== undefined && !socket.connecting));
        socket.on("error", () => {});
        socket.destroy();
      };
      const onAbort = () => {
        cleanup();
        reject(abortError(signal));
        socket.on("error", () => {});
        socket.destroy();
      };
      const onReady = () => {
        cleanup();
        const info = socket instanceof tls.TLSSocket ? clientTlsInfo(socket) : undefined;
        const connection = new NodeConnection(socket, info, options.path);
        try {
          connection.attach(onOpen(connection));
        } catch (error) {
          connection.destroy();
          reject(error);
          return;
        }
        resolve(connection);
      };
      const readyEvent = clientTls === undefined ? "connect" : "secureConnect";
      socket.on("error", onError);
      socket.once(readyEvent, onReady);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  resolve(hostname: string): Promise<string[]> {
    return lookupAddresses(hostname, (error) => toNetworkError(error, false));
  }
}

class NodeListener implements Listener {
  readonly address: SocketAddress;
  readonly #server: net.Server;

  constructor(server: net.Server, options: ListenOptions) {
    this.#server = server;
    const bound = server.address();
    if (bound === null || typeof bound === "string") {
      this.address = { hostname: options.path ?? bound ?? "", port: 0, family: "unix" };
    } else {
      this.address = { hostname: bound.address, port: bound.port, family: ipFamily(bound.family) };
    }
  }

  close(): Promise<void> {
    // `server.close` stops accepting at once. Its callback would wait for every open
    // connection to end, but `Listener.close` leaves them open.
    if (this.#server.listening) {
      this.#server.close();
    }
    return Promise.resolve();
  }
}

class NodeConnection implements Connection {
  readonly localAddress: SocketAddress;
  readonly remoteAddress: SocketAddress;
  readonly tls: TlsInfo | undefined;
  readonly #socket: net.Socket;
  #handlers: ConnectionHandlers | undefined;
  #ended = false;
  #destroyed = false;
  #closed = false;
  /** The first failure: a socket error or the error passed to `destroy`. */
  #closeError: Error | undefined;

  constructor(socket: net.Socket, info: TlsInfo | undefined, unixPath: string | undefined) {
    this.#socket = socket;
    this.tls = info;
    if (unixPath !== undefined) {
      this.localAddress = { hostname: unixPath, port: 0, family: "unix" };
      this.remoteAddress = { hostname: unixPath, port: 0, family: "unix" };
    } else {
      this.localAddress = {
        hostname: socket.localAddress ?? "",
        port: socket.localPort ?? 0,
        family: ipFamily(socket.localFamily),
      };
      this.remoteAddress = {
        hostname: socket.remoteAddress ?? "",
        port: socket.remotePort ?? 0,
        family: ipFamily(socket.remoteFamily),
      };
    }
    // An 'error' event without a listener would crash the process, so one is always present.
    socket.on("error", (error) => {
      this.#closeError ??= toNetworkError(error, false);
    });
  }

  get bufferedAmount(): number {
    return this.#closed ? 0 : this.#socket.writableLength;
  }

  /** Starts delivering events. Adding the 'data' listener starts the flow of data. */
  attach(handlers: ConnectionHandlers): void {
    this.#handlers = handlers;
    const socket = this.#socket;
    socket.on("data", (chunk: Uint8Array) => invoke(() => handlers.data(chunk)));
    socket.on("drain", () => invoke(() => handlers.drain()));
    socket.on("end", () => invoke(() => handlers.end()));
    socket.on("close", () => {
      this.#closed = true;
      const error = this.#closeError;
      invoke(() => handlers.close(error));
    });
  }

  write(chunk: Uint8Array): boolean {
    // Node turns a write after end into an error that destroys the socket, so drop it here.
    if (this.#ended || this.#destroyed || this.#socket.destroyed) {
      return false;
    }
    return this.#socket.write(chunk);
  }

  end(): void {
    if (this.#ended || this.#destroyed) {
      return;
    }
    this.#ended = true;
    this.#socket.end();
  }

  destroy(error?: Error): void {
    if (this.#destroyed || this.#closed) {
      return;
    }
    this.#destroyed = true;
    if (error !== undefined) {
      this.#closeError ??= error;
    }
    // Node would emit an error passed to `destroy` as an 'error' event, so `close` reports it.
    this.#socket.destroy();
  }

  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    if (!this.#destroyed) {
      this.#socket.resume();
    }
  }

  setNoDelay(noDelay: boolean): void {
    if (!this.#socket.destroyed) {
      this.#socket.setNoDelay(noDelay);
    }
  }
}

function clientTlsInfo(socket: tls.TLSSocket): TlsInfo {
  const options = socket as tls.TLSSocket & { servername?: string };
  return {
    protocol: socket.getProtocol() ?? undefined,
    alpnProtocol: socket.alpnProtocol || undefined,
    serverName: options.servername || undefined,
  };
}

function serverTlsInfo(socket: tls.TLSSocket): TlsInfo {
  const withServerName = socket as tls.TLSSocket & { servername?: string | false };
  return {
    protocol: socket.getProtocol() ?? undefined,
    alpnProtocol: socket.alpnProtocol || undefined,
    serverName: withServerName.servername || undefined,
  };
}


function abortError(signal: AbortSignal | undefined): NetworkError {
  return new NetworkError("ABORTED", "connect aborted", { cause: signal?.reason });
}

function ipFamily(family: string | number | undefined): "IPv4" | "IPv6" {
  return family === "IPv6" || family === 6 ? "IPv6" : "IPv4";
}
