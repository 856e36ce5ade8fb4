import { type BodyDecoder, createBodyDecoder } from "../http/body.ts";
import { concatBytes } from "../http/bytes.ts";
import { httpDate } from "../http/date.ts";
import { analyzeRequest, type RequestInfo } from "../http/framing.ts";
import { parseRequestHead, type RequestHead } from "../http/head-parser.ts";
import { HeadScanner } from "../http/head-scanner.ts";
import { HttpParseError } from "../http/parse-error.ts";
import { serializeResponseHead } from "../http/serialize.ts";
import { reasonPhrase } from "../http/status.ts";
import { formatSocketAddress } from "../net/ip-address.ts";
import { listenOrExplain } from "../net/listen.ts";
import type {
  Connection,
  ConnectionHandlers,
  Listener,
  Network,
  SocketAddress,
} from "../net/types.ts";

/** Maximum request body the admin server reads, because its routes take no body. */
const MAX_REQUEST_BODY_BYTES = 64 * 1024;
/** Maximum response body it sends. A larger one is replaced with a 500. */
const MAX_RESPONSE_BODY_BYTES = 8 * 1024 * 1024;
/** Requests read ahead of their responses before the connection stops reading. */
const MAX_PIPELINED_REQUESTS = 8;
/** A connection with no request under way for this long is closed. */
const IDLE_TIMEOUT_MS = 60_000;

/** The `fetch` of a Web framework app, such as `Hono.fetch`. */
export type FetchHandler = (request: Request) => Response | Promise<Response>;

export interface AdminServerOptions {
  /** Called when `fetch` rejects or its response body fails to read; the client gets 500. */
  onError?: (error: unknown) => void;
}

export interface AdminServer {
  readonly address: SocketAddress;
  /** Stops accepting and closes every open connection. */
  close(): Promise<void>;
}

/**
 * Starts an HTTP/1.1 server that turns each request into a Web `Request`, passes it to `fetch`
 * and writes the `Response` back with a Content-Length body. It keeps connections alive and
 * responds to pipelined requests in order. Request bodies above `MAX_REQUEST_BODY_BYTES` get 413.
 */
export async function startAdminServer(
  network: Network,
  address: { hostname: string; port: number },
  fetch: FetchHandler,
  options: AdminServerOptions = {},
): Promise<AdminServer> {
  const connections = new Set<AdminConnection>();
  const onError = options.onError ?? (() => {});
  const listener: Listener = await listenOrExplain(
    network,
    "admin listener",
    address,
    (connection) => {
      const admin = new AdminConnection(
        connection,
        fetch,
        onError,
        () => connections.delete(admin),
      );
      connections.add(admin);
      return admin;
    },
  );
  return {
    address: listener.address,
    async close() {
      await listener.close();
      for (const connection of connections) connection.destroy();
      connections.clear();
    },
  };
}

interface PendingRequest {
  head: RequestHead;
  info: RequestInfo;
  body: BodyDecoder;
  chunks: Uint8Array[];
}

class AdminConnection implements ConnectionHandlers {
  readonly #connection: Connection;
  readonly #fetch: FetchHandler;
  readonly #onError: (error: unknown) => void;
  readonly #onClose: () => void;
  readonly #scanner = new HeadScanner("request", {
    maxStartLineBytes: 8192,
    maxHeadBytes: 65536,
    maxFieldCount: 100,
  });
  #request: PendingRequest | undefined;
  /** Responses are written in request order: each waits for the one before it. */
  #queue: Promise<void> = Promise.resolve();
  #pending = 0;
  #closed = false;
  /** Set once the connection is to close after the queued responses, so later requests are ignored. */
  #closing = false;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    connection: Connection,
    fetch: FetchHandler,
    onError: (error: unknown) => void,
    onClose: () => void,
  ) {
    this.#connection = connection;
    this.#fetch = fetch;
    this.#onError = onError;
    this.#onClose = onClose;
    this.#armIdleTimer();
  }

  data(chunk: Uint8Array): void {
    if (this.#closing) return;
    let offset = 0;
    try {
      while (offset < chunk.length && !this.#closing) {
        if (!this.#request) {
          const result = this.#scanner.push(chunk, offset);
          if (!result) return;
          offset = result.end;
          const head = parseRequestHead(result.head);
          const info = analyzeRequest(head, MAX_REQUEST_BODY_BYTES);
          this.#request = { head, info, body: createBodyDecoder(info.framing), chunks: [] };
        }
        const request = this.#request;
        offset = request.body.decode(chunk, offset, (data) => request.chunks.push(data.slice()));
        if (!request.body.done) return;
        this.#request = undefined;
        this.#enqueue(request);
      }
    } catch (error) {
      const status = error instanceof HttpParseError ? error.status : 500;
      this.#closing = true;
      this.#queue = this.#queue.then(() =>
        this.#sendText(status, `${reasonPhrase(status)}\n`, true)
      );
    }
  }

  drain(): void {}

  end(): void {
    // The client sent FIN, so respond to the requests already received and then close.
    this.#closing = true;
    this.#queue = this.#queue.then(() => this.#connection.end());
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#idleTimer);
    this.#onClose();
  }

  destroy(): void {
    this.#connection.destroy();
  }

  #enqueue(request: PendingRequest): void {
    const close = !request.info.keepAlive;
    if (close) this.#closing = true;
    this.#pending++;
    if (this.#pending >= MAX_PIPELINED_REQUESTS) this.#connection.pause();
    clearTimeout(this.#idleTimer);
    this.#queue = this.#queue.then(async () => {
      await this.#respond(request, close);
      this.#pending--;
      if (this.#pending === MAX_PIPELINED_REQUESTS - 1) this.#connection.resume();
      if (this.#pending === 0) this.#armIdleTimer();
    });
  }

  async #respond(request: PendingRequest, close: boolean): Promise<void> {
    const { head, info } = request;
    if (!info.upstreamTarget.startsWith("/")) {
      return this.#sendText(
        400,
        "Bad Request: the admin API takes origin-form targets only\n",
        close,
      );
    }
    let webRequest: Request;
    try {
      const url = new URL(
        info.upstreamTarget,
        `http://${formatSocketAddress(this.#connection.localAddress)}`,
      );
      const headers = new Headers();
      for (let i = 0; i < head.fields.length; i += 2) {
        headers.append(head.fields[i], head.fields[i + 1]);
      }
      const hasBody = head.method !== "GET" && head.method !== "HEAD";
      webRequest = new Request(url, {
        method: head.method,
        headers,
        body: hasBody ? new Uint8Array(concatBytes(request.chunks)) : undefined,
      });
    } catch {
      return this.#sendText(400, "Bad Request\n", close);
    }

    let response: Response;
    let body: Uint8Array | undefined;
    try {
      response = await this.#fetch(webRequest);
      body = await readBody(response, MAX_RESPONSE_BODY_BYTES);
    } catch (error) {
      this.#onError(error);
      return this.#sendText(500, "Internal Server Error\n", close);
    }
    if (body === undefined) {
      this.#onError(
        new Error(
          `response to ${head.method} ${info.path} exceeds ${MAX_RESPONSE_BODY_BYTES} bytes`,
        ),
      );
      return this.#sendText(500, "Internal Server Error: the response body is too large\n", close);
    }
    this.#send(response.status, response.headers, body, head.method === "HEAD", close);
  }

  #sendText(status: number, text: string, close: boolean): void {
    const headers = new Headers({ "Content-Type": "text/plain; charset=utf-8" });
    this.#send(status, headers, new TextEncoder().encode(text), false, close);
  }

  #send(
    status: number,
    headers: Headers,
    body: Uint8Array,
    headOnly: boolean,
    close: boolean,
  ): void {
    if (this.#closed) return;
    const fields = ["Date", httpDate()];
    for (const [name, value] of headers) {
      // The server frames the body itself, so framing fields from the app are dropped.
      if (name === "content-length" || name === "transfer-encoding" || name === "connection") {
        continue;
      }
      fields.push(name, value);
    }
    fields.push("Content-Length", String(body.length));
    if (close) fields.push("Connection", "close");
    this.#connection.write(serializeResponseHead(status, reasonPhrase(status), fields));
    if (!headOnly && body.length > 0) this.#connection.write(body);
    if (close) this.#connection.end();
  }

  #armIdleTimer(): void {
    clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(() => {
      if (this.#pending === 0) this.#connection.end();
    }, IDLE_TIMEOUT_MS);
  }
}

/** Reads the whole body, or returns undefined once it passes `maxBytes`. */
async function readBody(response: Response, maxBytes: number): Promise<Uint8Array | undefined> {
  if (response.body === null) return new Uint8Array(0);
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    chunks.push(value);
  }
  return concatBytes(chunks);
}
