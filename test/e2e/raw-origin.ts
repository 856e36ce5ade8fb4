import { createServer, type Server, type Socket } from "node:net";

/** One connection accepted by a ScriptedOrigin, with every byte it received. */
export class OriginConnection {
  readonly socket: Socket;
  readonly index: number;
  received = Buffer.alloc(0);
  ended = false;
  closed = false;
  #waiters: (() => void)[] = [];

  constructor(socket: Socket, index: number) {
    this.socket = socket;
    this.index = index;
    socket.on("data", (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk]);
      this.#wake();
    });
    socket.on("end", () => {
      this.ended = true;
      this.#wake();
    });
    socket.on("close", () => {
      this.closed = true;
      this.#wake();
    });
    socket.on("error", () => {});
  }

  /** True once Cairn closed its side of this connection (FIN or reset). */
  get finished(): boolean {
    return this.ended || this.closed;
  }

  get text(): string {
    return this.received.toString("latin1");
  }

  write(data: string | Uint8Array): void {
    if (!this.socket.destroyed) this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  end(data?: string | Uint8Array): void {
    if (data !== undefined) this.write(data);
    this.socket.end();
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resets the connection (RST) instead of closing it cleanly. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  /** Waits until `check` holds for this connection, or fails after `timeoutMs`. */
  async waitUntil(check: (connection: OriginConnection) => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!check(this)) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) {
        throw new Error(`origin connection ${this.index}: condition not met in ${timeoutMs} ms; received ${JSON.stringify(this.text)}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 50));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Waits until the received bytes contain `text`. */
  waitForText(text: string, timeoutMs?: number): Promise<void> {
    return this.waitUntil((connection) => connection.text.includes(text), timeoutMs);
  }

  /** Waits until a complete request head (up to the empty line) arrived `count` times. */
  waitForHeads(count: number, timeoutMs?: number): Promise<void> {
    return this.waitUntil((connection) => connection.text.split("\r\n\r\n").length - 1 >= count, timeoutMs);
  }

  #wake(): void {
    for (const waiter of this.#waiters.splice(0)) waiter();
  }
}

/**
 * A raw-TCP origin on 127.0.0.1 that records exactly the bytes it receives and answers as its
 * script says, for cases a real server would not produce.
 */
export class ScriptedOrigin {
  readonly server: Server;
  readonly connections: OriginConnection[] = [];
  port = 0;
  #onConnection: (connection: OriginConnection) => void;
  #waiters: (() => void)[] = [];

  private constructor(onConnection: (connection: OriginConnection) => void) {
    this.#onConnection = onConnection;
    this.server = createServer({ allowHalfOpen: true }, (socket) => {
      const connection = new OriginConnection(socket, this.connections.length);
      this.connections.push(connection);
      for (const waiter of this.#waiters.splice(0)) waiter();
      this.#onConnection(connection);
    });
  }

  /** Starts an origin whose script runs once per accepted connection. */
  static async start(onConnection: (connection: OriginConnection) => void = () => {}): Promise<ScriptedOrigin> {
    const origin = new ScriptedOrigin(onConnection);
    await new Promise<void>((resolve, reject) => {
      origin.server.once("error", reject);
      origin.server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = origin.server.address();
    origin.port = typeof address === "object" && address ? address.port : 0;
    return origin;
  }

  /** Replaces the script for connections accepted from now on. */
  onConnection(script: (connection: OriginConnection) => void): void {
    this.#onConnection = script;
  }

  /** Concatenation of what every connection received, in connection order. */
  get allText(): string {
    return this.connections.map((connection) => connection.text).join("");
  }

  async waitForConnections(count: number, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.connections.length < count) {
      const remaining = deadline - Date.now();
      if (remaining <= 0) throw new Error(`origin: expected ${count} connections, got ${this.connections.length}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(remaining, 50));
        this.#waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Number of connections not yet closed. */
  get openConnections(): number {
    return this.connections.filter((connection) => !connection.closed).length;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** Answers every complete request on the connection with `response`, keeping it open. */
export function answerEach(response: string): (connection: OriginConnection) => void {
  return (connection) => {
    let answered = 0;
    connection.socket.on("data", () => {
      const heads = connection.text.split("\r\n\r\n").length - 1;
      while (answered < heads) {
        answered++;
        connection.write(response);
      }
    });
  };
}

export const OK_RESPONSE = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
