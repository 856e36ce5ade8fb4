import { type BodyDecoder, createBodyDecoder } from "../http/body.ts";
import { concatBytes } from "../http/bytes.ts";
import { httpDate } from "../http/date.ts";
import { analyzeRequest, type RequestInfo } from "../http/framing.ts";
import { parseRequestHead, type RequestHead } from "../http/head-parser.ts";
import { HeadScanner } from "../http/head-scanner.ts";
import { HttpParseError } from "../http/parse-error.ts";
import { serializeResponseHead } from "../http/serialize.ts";
import { reasonPhrase } from "../http/status.ts";
import type { Connection, ConnectionHandlers, Listener, Network } from "../net/types.ts";
import { listenOrExplain } from "../net/listen.ts";

/** Largest body `/echo` returns; the demo origin is a showcase, not a file server. */
const MAX_ECHO_BYTES = 1024 * 1024;

/**
 * Starts the built-in demo origin: `GET /` returns an HTML page listing the request fields it
 * received (so the fields Cairn adds are visible), `POST /echo` returns the request body, and
 * every other path is 404. It speaks HTTP/1.1 with keep-alive through Cairn's own parser.
 */
export function startDemoOrigin(
  network: Network,
  address: { hostname: string; port: number },
): Promise<Listener> {
  return listenOrExplain(network, "demo origin", address, (connection) => new DemoConnection(connection));
}

class DemoConnection implements ConnectionHandlers {
  #connection: Connection;
  #scanner = new HeadScanner("request", { maxStartLineBytes: 8192, maxHeadBytes: 65536, maxFieldCount: 100 });
  #request: { head: RequestHead; info: RequestInfo; body: BodyDecoder; chunks: Uint8Array[] } | undefined;

  constructor(connection: Connection) {
    this.#connection = connection;
    // Without it, Nagle's algorithm held each response until the client's delayed ACK, about
    // 40 ms on Linux, on Node and Deno.
    connection.setNoDelay(true);
  }

  data(chunk: Uint8Array): void {
    let offset = 0;
    try {
      while (offset < chunk.length) {
        if (!this.#request) {
          const result = this.#scanner.push(chunk, offset);
          if (!result) return;
          offset = result.end;
          const head = parseRequestHead(result.head);
          const info = analyzeRequest(head, MAX_ECHO_BYTES);
          this.#request = { head, info, body: createBodyDecoder(info.framing), chunks: [] };
        }
        const request = this.#request;
        offset = request.body.decode(chunk, offset, (data) => request.chunks.push(data.slice()));
        if (!request.body.done) return;
        this.#request = undefined;
        this.#respond(request.head, request.info, concatBytes(request.chunks));
      }
    } catch (error) {
      const status = error instanceof HttpParseError ? error.status : 500;
      this.#send(status, "text/plain; charset=utf-8", new TextEncoder().encode(`${reasonPhrase(status)}\n`), false, true);
    }
  }

  drain(): void {}

  end(): void {
    this.#connection.end();
  }

  close(): void {}

  #respond(head: RequestHead, info: RequestInfo, body: Uint8Array): void {
    const headOnly = head.method === "HEAD";
    if (info.path === "/" && (head.method === "GET" || headOnly)) {
      this.#send(200, "text/html; charset=utf-8", renderPage(head), headOnly, !info.keepAlive);
    } else if (info.path === "/echo") {
      this.#send(200, "application/octet-stream", body, headOnly, !info.keepAlive);
    } else {
      this.#send(404, "text/plain; charset=utf-8", new TextEncoder().encode("Not Found\n"), headOnly, !info.keepAlive);
    }
  }

  #send(status: number, contentType: string, body: Uint8Array, headOnly: boolean, close: boolean): void {
    const fields = [
      "Date",
      httpDate(),
      "Server",
      "cairn-demo",
      "Content-Type",
      contentType,
      "Content-Length",
      String(body.length),
    ];
    if (close) fields.push("Connection", "close");
    const responseHead = serializeResponseHead(status, reasonPhrase(status), fields);
    // One write for head and body, so that the response leaves in one segment.
    this.#connection.write(headOnly || body.length === 0 ? responseHead : concatBytes([responseHead, body]));
    if (close) this.#connection.end();
  }
}

function renderPage(head: RequestHead): Uint8Array {
  const rows: string[] = [];
  for (let i = 0; i < head.fields.length; i += 2) {
    rows.push(`<tr><th>${escapeHtml(head.fields[i])}</th><td>${escapeHtml(head.fields[i + 1])}</td></tr>`);
  }
  const page = `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Cairn demo origin</title>
<style>body{font:16px system-ui,sans-serif;margin:2rem auto;max-width:48rem}th{text-align:left;padding-right:1rem}</style>
</head>
<body>
<h1>Cairn is proxying</h1>
<p>This page comes from Cairn's built-in demo origin, through the proxy. It received
<code>${escapeHtml(head.method)} ${escapeHtml(head.target)}</code> with these fields:</p>
<table>
${rows.join("\n")}
</table>
</body>
</html>
`;
  return new TextEncoder().encode(page);
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
