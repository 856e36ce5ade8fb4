// Origin for the memory benchmark, on raw TCP so that its own buffering is plain to see:
//   GET /small           100-byte body
//   GET /stream?bytes=N  N bytes, written in 64 KiB chunks, each after the socket drained
//   POST /sink           reads the Content-Length body at most RATE MiB/s, then responds 200
// Arguments: PORT SINK_RATE_MIB_PER_S. Stops on SIGTERM.
import { createServer, type Socket } from "node:net";

const port = Number(process.argv[2]);
const sinkRate = Number(process.argv[3]) * 2 ** 20;
if (!Number.isInteger(port) || !(sinkRate > 0)) {
  console.error("usage: stream-origin.ts PORT SINK_RATE_MIB_PER_S");
  process.exit(2);
}

const CHUNK = new Uint8Array(64 * 1024).fill(0x64);
const SMALL = "x".repeat(99) + "\n";

function serve(socket: Socket): void {
  let buffered = Buffer.alloc(0);
  let bodyLeft = 0;
  let bodyStarted = 0;
  let bodyBytes = 0;

  socket.on("data", (data: Buffer) => {
    if (bodyLeft > 0) return readBody(data);
    buffered = Buffer.concat([buffered, data]);
    const end = buffered.indexOf("\r\n\r\n");
    if (end === -1) return;
    const head = buffered.subarray(0, end).toString("latin1");
    const rest = buffered.subarray(end + 4);
    buffered = Buffer.alloc(0);
    const [method, target] = head.split(" ", 2);
    if (method === "GET" && target === "/small") {
      socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${SMALL.length}\r\n\r\n${SMALL}`);
    } else if (method === "GET" && target.startsWith("/stream?bytes=")) {
      stream(Number(target.slice("/stream?bytes=".length)));
    } else if (method === "POST" && target === "/sink") {
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? "0");
      bodyLeft = length;
      bodyBytes = length;
      bodyStarted = Date.now();
      if (rest.length > 0) readBody(rest);
      else if (bodyLeft === 0) answerSink();
    } else {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n");
    }
  });
  socket.on("error", () => socket.destroy());

  // Counts body bytes and pauses the socket whenever reading has got ahead of the rate.
  function readBody(data: Buffer): void {
    bodyLeft -= data.length;
    if (bodyLeft <= 0) return answerSink();
    const read = bodyBytes - bodyLeft;
    const aheadMs = read / sinkRate * 1000 - (Date.now() - bodyStarted);
    if (aheadMs > 5) {
      socket.pause();
      setTimeout(() => socket.resume(), aheadMs);
    }
  }

  function answerSink(): void {
    bodyLeft = 0;
    socket.write("HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nok\n");
  }

  function stream(total: number): void {
    socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${total}\r\n\r\n`);
    let left = total;
    const writeMore = (): void => {
      while (left > 0) {
        const piece = left >= CHUNK.length ? CHUNK : CHUNK.subarray(0, left);
        left -= piece.length;
        if (!socket.write(piece)) {
          socket.once("drain", writeMore);
          return;
        }
      }
    };
    writeMore();
  }
}

const server = createServer(serve);
server.listen(port, "127.0.0.1");
process.on("SIGTERM", () => process.exit(0));
