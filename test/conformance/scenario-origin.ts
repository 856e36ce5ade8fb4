import { type OriginConnection, ScriptedOrigin } from "../e2e/raw-origin.ts";

/** How an origin request's body is delimited, from its framing header. */
type RequestFraming = { kind: "none" } | { kind: "length"; remaining: number } | {
  kind: "chunked";
};

/** One request as the origin read it off a connection from the proxy. */
export class OriginRequest {
  readonly connection: OriginConnection;
  /** Position of the request on its connection, from 0. Above 0 means the connection was reused. */
  readonly indexOnConnection: number;
  readonly method: string;
  readonly target: string;
  /** The request-line and field lines up to and including the empty line, as received. */
  readonly rawHead: string;
  /** Field lines in order, names as sent. */
  readonly headers: [string, string][];
  /** Decoded body bytes received so far. */
  body = Buffer.alloc(0);
  /** True once the whole body has arrived. */
  complete = false;
  #waiters: (() => void)[] = [];

  constructor(connection: OriginConnection, indexOnConnection: number, rawHead: string) {
    this.connection = connection;
    this.indexOnConnection = indexOnConnection;
    this.rawHead = rawHead;
    const lines = rawHead.slice(0, -4).split("\r\n");
    const [method, target] = lines[0].split(" ");
    this.method = method;
    this.target = target;
    this.headers = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon), line.slice(colon + 1).trim()];
    });
  }

  /** Returns the value of the first field with this name, compared without case. */
  header(name: string): string | undefined {
    return this.headerValues(name)[0];
  }

  /** Returns the values of every field with this name, in order. */
  headerValues(name: string): string[] {
    const lower = name.toLowerCase();
    return this.headers.filter(([key]) => key.toLowerCase() === lower).map(([, value]) => value);
  }

  /** Waits until the whole body has arrived, or rejects after `timeoutMs`. */
  async whenComplete(timeoutMs = 5_000): Promise<void> {
    if (this.complete) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`request ${this.target}: body incomplete after ${timeoutMs} ms`)),
        timeoutMs,
      );
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Records body bytes. The origin's parser calls it. */
  appendBody(data: Buffer): void {
    this.body = Buffer.concat([this.body, data]);
  }

  /** Marks the body complete. The origin's parser calls it. */
  markComplete(): void {
    this.complete = true;
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

/** Decides what the origin does with one request, from the moment its head arrives. */
export type RequestHandler = (request: OriginRequest) => void;

/** Writes `response` once the request body is complete, as a usual origin does. */
export function respondWith(response: string): RequestHandler {
  return (request) => {
    request.whenComplete().then(() => request.connection.write(response), () => {});
  };
}

export const OK_RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

/**
 * A raw-TCP origin that parses the requests it receives and hands each one to the handler
 * registered for the longest matching path prefix, so one long-lived origin serves many test
 * cases. Requests without a handler get `200 OK` with body `ok`. Every request is kept, so a
 * test can check exactly what reached the origin under its own prefix.
 */
export class ScenarioOrigin {
  readonly scripted: ScriptedOrigin;
  readonly requests: OriginRequest[] = [];
  /** Connections whose bytes did not parse as requests, with the reason. */
  readonly unparsed: { connection: OriginConnection; reason: string }[] = [];
  #handlers = new Map<string, RequestHandler>();

  private constructor(scripted: ScriptedOrigin) {
    this.scripted = scripted;
  }

  static async start(): Promise<ScenarioOrigin> {
    let origin: ScenarioOrigin | undefined;
    const scripted = await ScriptedOrigin.start((connection) => origin!.#accept(connection));
    origin = new ScenarioOrigin(scripted);
    return origin;
  }

  get port(): number {
    return this.scripted.port;
  }

  get connections(): OriginConnection[] {
    return this.scripted.connections;
  }

  /** Number of connections the proxy has not closed yet, idle pooled connections included. */
  get openConnections(): number {
    return this.scripted.connections.filter((connection) => !connection.finished).length;
  }

  /** Sends requests whose target starts with `prefix` to `handler`. */
  handle(prefix: string, handler: RequestHandler): void {
    this.#handlers.set(prefix, handler);
  }

  /** Requests received whose target starts with `prefix`, in arrival order. */
  requestsUnder(prefix: string): OriginRequest[] {
    return this.requests.filter((request) => request.target.startsWith(prefix));
  }

  /** Connections that carried at least one request whose target starts with `prefix`. */
  connectionsUnder(prefix: string): OriginConnection[] {
    return [...new Set(this.requestsUnder(prefix).map((request) => request.connection))];
  }

  /** Closes every connection that carried a request under `prefix`, and waits until each closed. */
  async closeConnectionsUnder(prefix: string): Promise<void> {
    const connections = this.connectionsUnder(prefix).filter((connection) => !connection.finished);
    for (const connection of connections) connection.end();
    for (const connection of connections) await connection.waitUntil((c) => c.finished);
  }

  async close(): Promise<void> {
    await this.scripted.close();
  }

  #accept(connection: OriginConnection): void {
    connection.socket.setNoDelay(true);
    // The proxy's FIN ends the connection, so the origin closes its side too.
    connection.socket.on("end", () => connection.socket.end());
    let offset = 0;
    let current: { request: OriginRequest; framing: RequestFraming } | undefined;
    let count = 0;
    let broken = false;

    const parse = () => {
      while (!broken) {
        const data = connection.received;
        if (current === undefined) {
          const headEnd = data.indexOf("\r\n\r\n", offset);
          if (headEnd === -1) return;
          const rawHead = data.subarray(offset, headEnd + 4).toString("latin1");
          offset = headEnd + 4;
          if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+ \S+ HTTP\/1\.1\r\n/.test(rawHead)) {
            broken = true;
            this.unparsed.push({
              connection,
              reason: `invalid request-line in ${JSON.stringify(rawHead)}`,
            });
            return;
          }
          const request = new OriginRequest(connection, count++, rawHead);
          const framing = requestFraming(request);
          if (framing === undefined) {
            broken = true;
            this.unparsed.push({
              connection,
              reason: `ambiguous framing in ${JSON.stringify(rawHead)}`,
            });
            return;
          }
          this.requests.push(request);
          current = { request, framing };
          this.#handlerFor(request.target)(request);
          continue;
        }
        const end = readBody(current.framing, current.request, data, offset);
        if (end === undefined) {
          broken = true;
          this.unparsed.push({
            connection,
            reason: `invalid chunked body after ${JSON.stringify(current.request.rawHead)}`,
          });
          return;
        }
        offset = end.offset;
        if (!end.complete) return;
        current.request.markComplete();
        current = undefined;
      }
    };
    connection.socket.on("data", parse);
  }

  #handlerFor(target: string): RequestHandler {
    let best: string | undefined;
    for (const prefix of this.#handlers.keys()) {
      if (target.startsWith(prefix) && (best === undefined || prefix.length > best.length)) {
        best = prefix;
      }
    }
    return best === undefined ? respondWith(OK_RESPONSE) : this.#handlers.get(best)!;
  }
}

/** Works out the body framing of a request the proxy sent, or undefined when it is ambiguous. */
function requestFraming(request: OriginRequest): RequestFraming | undefined {
  const lengths = request.headerValues("content-length");
  const codings = request.headerValues("transfer-encoding");
  if (lengths.length > 0 && codings.length > 0) return undefined;
  if (codings.length > 0) {
    return codings.length === 1 && codings[0] === "chunked" ? { kind: "chunked" } : undefined;
  }
  if (lengths.length > 1 || (lengths.length === 1 && !/^\d+$/.test(lengths[0]))) return undefined;
  const length = lengths.length === 1 ? Number(lengths[0]) : 0;
  return length === 0 ? { kind: "none" } : { kind: "length", remaining: length };
}

/**
 * Reads body bytes of `request` from `data` at `offset`. Returns the new offset and whether the
 * body is complete, or undefined when a chunked body is malformed.
 */
function readBody(
  framing: RequestFraming,
  request: OriginRequest,
  data: Buffer,
  offset: number,
): { offset: number; complete: boolean } | undefined {
  if (framing.kind === "none") return { offset, complete: true };
  if (framing.kind === "length") {
    const take = Math.min(framing.remaining, data.length - offset);
    request.appendBody(Buffer.from(data.subarray(offset, offset + take)));
    framing.remaining -= take;
    return { offset: offset + take, complete: framing.remaining === 0 };
  }
  let position = offset;
  for (;;) {
    const lineEnd = data.indexOf("\r\n", position);
    if (lineEnd === -1) return { offset: position, complete: false };
    const sizeText = data.subarray(position, lineEnd).toString("latin1");
    if (!/^[0-9a-fA-F]+$/.test(sizeText)) return undefined;
    const size = parseInt(sizeText, 16);
    if (size === 0) {
      // The proxy sends no trailers, so the last chunk is followed by the empty line.
      if (data.length < lineEnd + 4) return { offset: position, complete: false };
      if (data.subarray(lineEnd + 2, lineEnd + 4).toString("latin1") !== "\r\n") return undefined;
      return { offset: lineEnd + 4, complete: true };
    }
    if (data.length < lineEnd + 2 + size + 2) return { offset: position, complete: false };
    request.appendBody(Buffer.from(data.subarray(lineEnd + 2, lineEnd + 2 + size)));
    if (data.subarray(lineEnd + 2 + size, lineEnd + 4 + size).toString("latin1") !== "\r\n") {
      return undefined;
    }
    position = lineEnd + 4 + size;
  }
}

/** Writes `response` once the request body is complete, then closes the connection. */
export function respondAndClose(response: string): RequestHandler {
  return (request) => {
    request.whenComplete().then(() => request.connection.end(response), () => {});
  };
}
