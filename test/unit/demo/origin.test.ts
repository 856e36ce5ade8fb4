import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { startDemoOrigin } from "../../../src/demo/origin.ts";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import type { Connection, Network } from "../../../src/net/types.ts";

const PORT = 8081;
const latin1 = new TextDecoder("latin1");

/** What the demo origin did to the server side of each connection it accepted. */
interface Recorded {
  noDelay: boolean[];
  writes: string[];
}

/** Wraps the memory network so that each accepted connection records its noDelay and writes. */
function recordingNetwork(network: MemoryNetwork, recorded: Recorded): Network {
  return {
    listen: (options, onOpen) =>
      network.listen(options, (connection) => {
        const recording: Connection = {
          write: (chunk) => {
            recorded.writes.push(latin1.decode(chunk));
            return connection.write(chunk);
          },
          end: () => connection.end(),
          destroy: (error) => connection.destroy(error),
          pause: () => connection.pause(),
          resume: () => connection.resume(),
          setNoDelay: (noDelay) => {
            recorded.noDelay.push(noDelay);
            connection.setNoDelay(noDelay);
          },
          get bufferedAmount() {
            return connection.bufferedAmount;
          },
          localAddress: connection.localAddress,
          remoteAddress: connection.remoteAddress,
          tls: connection.tls,
        };
        return onOpen(recording);
      }),
    connect: (options, onOpen) => network.connect(options, onOpen),
    resolve: (hostname) => network.resolve(hostname),
  };
}

/** Sends `request` and returns what the origin wrote back, once `done` accepts it. */
async function exchange(request: string, done: (text: string) => boolean) {
  const network = new MemoryNetwork();
  const recorded: Recorded = { noDelay: [], writes: [] };
  const listener = await startDemoOrigin(recordingNetwork(network, recorded), { hostname: "127.0.0.1", port: PORT });
  let text = "";
  const client = await network.connect({ hostname: "127.0.0.1", port: PORT }, () => ({
    data: (chunk) => void (text += latin1.decode(chunk)),
    drain: () => {},
    end: () => {},
    close: () => {},
  }));
  client.write(Uint8Array.from(request, (c) => c.charCodeAt(0)));
  const deadline = Date.now() + 2_000;
  while (!done(text)) {
    assert.ok(Date.now() < deadline, `no complete response: ${JSON.stringify(text)}`);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  client.destroy();
  await listener.close();
  return { text, recorded };
}

describe("demo origin", () => {
  test("page lists the request fields", async () => {
    const { text } = await exchange("GET / HTTP/1.1\r\nHost: demo.test\r\nX-Seen: yes\r\n\r\n", (t) => t.includes("</html>"));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(text, /<th>X-Seen<\/th><td>yes<\/td>/);
  });

  test("sends head and body in one write", async () => {
    const { recorded } = await exchange("GET / HTTP/1.1\r\nHost: demo.test\r\n\r\n", (t) => t.includes("</html>"));
    assert.equal(recorded.writes.length, 1);
    assert.match(recorded.writes[0], /^HTTP\/1\.1 200 OK\r\n[\s\S]*\r\n\r\n<!doctype html>/);
  });

  test("turns off Nagle's algorithm", async () => {
    const { recorded } = await exchange("GET / HTTP/1.1\r\nHost: demo.test\r\n\r\n", (t) => t.includes("</html>"));
    assert.deepEqual(recorded.noDelay, [true]);
  });

  test("HEAD gets the head only", async () => {
    const { text, recorded } = await exchange("HEAD / HTTP/1.1\r\nHost: demo.test\r\n\r\n", (t) => t.endsWith("\r\n\r\n"));
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n/);
    assert.ok(text.endsWith("\r\n\r\n"));
    assert.equal(recorded.writes.length, 1);
  });

  test("echo returns the body", async () => {
    const { text } = await exchange(
      "POST /echo HTTP/1.1\r\nHost: demo.test\r\nContent-Length: 5\r\n\r\nhello",
      (t) => t.endsWith("hello"),
    );
    assert.match(text, /^HTTP\/1\.1 200 OK\r\n[\s\S]*Content-Length: 5\r\n/);
  });

  test("unknown path gets 404", async () => {
    const { text } = await exchange("GET /nope HTTP/1.1\r\nHost: demo.test\r\n\r\n", (t) => t.endsWith("Not Found\n"));
    assert.match(text, /^HTTP\/1\.1 404 Not Found\r\n/);
  });
});
