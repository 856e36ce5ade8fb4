import { connect, type Socket } from "node:net";

/** A response as a test client read it off the wire. */
export interface RawResponse {
  status: number;
  reason: string;
  /** Field lines in order, names as sent. */
  headers: [string, string][];
  body: Buffer;
  /** The exact bytes of the head, for checks on framing fields. */
  rawHead: string;
}

export function header(response: RawResponse, name: string): string | undefined {
  const lower = name.toLowerCase();
  return response.headers.find(([key]) => key.toLowerCase() === lower)?.[1];
}

export function headerValues(response: RawResponse, name: string): string[] {
  const lower = name.toLowerCase();
  return response.headers.filter(([key]) => key.toLowerCase() === lower).map(([, value]) => value);
}

/** Never changes, so `Atomics.wait` on it always waits its full timeout. */
const GAP_CELL = new Int32Array(new SharedArrayBuffer(4));

/**
 * A raw-TCP client on 127.0.0.1 that sends exact bytes and reads responses with an independent
 * minimal parser (Content-Length, chunked, or until close).
 */
export class RawClient {
  readonly socket: Socket;
  #buffer = Buffer.alloc(0);
  #ended = false;
  #closed = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on("data", (chunk: Buffer) => {
      this.#buffer = Buffer.concat([this.#buffer, chunk]);
      this.#wake();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#wake();
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
      socket.once("connect", () => resolve(new RawClient(socket)));
      socket.once("error", reject);
    });
  }

  /** True once the proxy closed its side (FIN or reset). */
  get ended(): boolean {
    return this.#ended || this.#closed;
  }

  /** Bytes received and not yet read as a response. */
  get pending(): string {
    return this.#buffer.toString("latin1");
  }

  send(data: string | Uint8Array): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /**
   * Sends one byte per write, waiting for each write to be taken. With `untilClosed`, stops
   * once the proxy has closed its side, so a rejected oversized input is not sent whole.
   *
   * Writes this close together usually reach the proxy in one read. `gapMs` blocks this thread
   * for that long after each byte, so that the proxy process reads most bytes on their own: 0.1
   * ms did on a 2-core Linux machine with Bun 1.4, Deno 2.9 and Node 20. A timer cannot wait
   * less than a millisecond.
   */
  async sendByteByByte(data: string, options: { untilClosed?: boolean; gapMs?: number } = {}): Promise<void> {
    const bytes = Buffer.from(data, "latin1");
    for (let i = 0; i < bytes.length; i++) {
      if (options.untilClosed && this.ended) return;
      await new Promise<void>((resolve) => this.socket.write(bytes.subarray(i, i + 1), () => resolve()));
      if (options.gapMs) Atomics.wait(GAP_CELL, 0, 0, options.gapMs);
    }
  }

  end(): void {
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Waits until the proxy closes the connection; false when it is still open at the timeout. */
  async waitForClose(timeoutMs = 5_000): Promise<boolean> {
    await this.#waitUntil(() => this.ended, timeoutMs).catch(() => {});
    return this.ended;
  }

  /**
   * Reads one response. `requestMethod` HEAD means no body. Rejects when the connection closes
   * before a complete response, or after `timeoutMs`.
   */
  async readResponse(options: { requestMethod?: string; timeoutMs?: number } = {}): Promise<RawResponse> {
    const timeoutMs = options.timeoutMs ?? 10_000;
    await this.#waitUntil(() => this.#buffer.indexOf("\r\n\r\n") !== -1, timeoutMs);
    const headEnd = this.#buffer.indexOf("\r\n\r\n") + 4;
    const rawHead = this.#buffer.subarray(0, headEnd).toString("latin1");
    const lines = rawHead.slice(0, -4).split("\r\n");
    const statusLine = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(lines[0]);
    if (!statusLine) throw new Error(`invalid status line ${JSON.stringify(lines[0])}`);
    const status = Number(statusLine[1]);
    const headers = lines.slice(1).map((line): [string, string] => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon), line.slice(colon + 1).trim()];
    });
    const response: RawResponse = { status, reason: statusLine[2], headers, body: Buffer.alloc(0), rawHead };
    this.#buffer = this.#buffer.subarray(headEnd);
    const length = header(response, "content-length");
    // The last transfer coding decides the framing (RFC 9112 §6.3); others describe the body.
    const codings = header(response, "transfer-encoding")?.toLowerCase().split(",") ?? [];
    const chunked = codings.length > 0 && codings[codings.length - 1].trim() === "chunked";
    if (options.requestMethod === "HEAD" || status < 200 || status === 204 || status === 304) return response;
    if (chunked) {
      response.body = await this.#readChunked(timeoutMs);
    } else if (length !== undefined) {
      const size = Number(length);
      await this.#waitUntil(() => this.#buffer.length >= size, timeoutMs);
      response.body = this.#buffer.subarray(0, size);
      this.#buffer = this.#buffer.subarray(size);
    } else {
      await this.#waitUntil(() => this.ended, timeoutMs);
      response.body = this.#buffer;
      this.#buffer = Buffer.alloc(0);
    }
    return response;
  }

  async #readChunked(timeoutMs: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    for (;;) {
      await this.#waitUntil(() => this.#buffer.indexOf("\r\n") !== -1, timeoutMs);
      const lineEnd = this.#buffer.indexOf("\r\n");
      const size = parseInt(this.#buffer.subarray(0, lineEnd).toString("latin1"), 16);
      if (Number.isNaN(size)) throw new Error(`invalid chunk size line ${JSON.stringify(this.#buffer.subarray(0, lineEnd).toString("latin1"))}`);
      if (size === 0) {
        await this.#waitUntil(() => this.#buffer.indexOf("\r\n\r\n", lineEnd) !== -1, timeoutMs);
        const end = this.#buffer.indexOf("\r\n\r\n", lineEnd) + 4;
        this.#buffer = this.#buffer.subarray(end);
        return Buffer.concat(parts);
      }
      await this.#waitUntil(() => this.#buffer.length >= lineEnd + 2 + size + 2, timeoutMs);
      parts.push(Buffer.from(this.#buffer.subarray(lineEnd + 2, lineEnd + 2 + size)));
      this.#buffer = this.#buffer.subarray(lineEnd + 2 + size + 2);
    }
  }

  async #waitUntil(check: () => boolean, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check()) {
      if (this.#closed && !check()) throw new Error(`connection closed; unread bytes ${JSON.stringify(this.pending)}`);
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`timed out after ${timeoutMs} ms; unread bytes ${JSON.stringify(this.pending.slice(0, 500))}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 50));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}
