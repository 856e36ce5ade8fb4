// Client for the memory benchmark's streamed bodies, on raw TCP:
//   download PORT BYTES RATE_MIB_PER_S  GET /stream?bytes=BYTES, reading at most RATE MiB/s
//   upload PORT BYTES                   POST BYTES to /sink as fast as the proxy takes them
// Prints one JSON line {"status", "bytes", "seconds"} and exits 0, or exits 1 after 180 s.
import { connect } from "node:net";

const [mode, portText, bytesText, rateText] = process.argv.slice(2);
const port = Number(portText);
const total = Number(bytesText);
const readRate = Number(rateText ?? "0") * 2 ** 20;
if ((mode !== "download" && mode !== "upload") || !Number.isInteger(port) || !(total > 0)) {
  console.error("usage: stream-client.ts download PORT BYTES RATE_MIB_PER_S | upload PORT BYTES");
  process.exit(2);
}

const TIME_LIMIT_MS = 180_000;
setTimeout(() => {
  console.error(`stream-client: ${mode} did not finish within ${TIME_LIMIT_MS / 1000} s`);
  process.exit(1);
}, TIME_LIMIT_MS).unref();

const CHUNK = new Uint8Array(64 * 1024).fill(0x75);
const started = Date.now();
const socket = connect(port, "127.0.0.1");
socket.on("error", (error) => {
  console.error(`stream-client: ${error.message}`);
  process.exit(1);
});

let head = "";
let status = 0;
let expected = -1;
let received = 0;

socket.on("connect", () => {
  if (mode === "download") {
    socket.write(`GET /stream?bytes=${total} HTTP/1.1\r\nHost: bench\r\n\r\n`);
  } else {
    socket.write(
      `POST /sink HTTP/1.1\r\nHost: bench\r\nContent-Type: application/octet-stream\r\n` +
        `Content-Length: ${total}\r\n\r\n`,
    );
    upload();
  }
});

socket.on("data", (data: Buffer) => {
  let body = data;
  if (expected < 0) {
    head += data.toString("latin1");
    const end = head.indexOf("\r\n\r\n");
    if (end === -1) return;
    status = Number(head.slice(9, 12));
    expected = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? "0");
    body = data.subarray(Buffer.byteLength(head.slice(0, end + 4), "latin1"));
  }
  received += body.length;
  if (received >= expected) return finish();
  if (readRate > 0) {
    // Pause whenever reading has got ahead of the rate, so the proxy must hold back the origin.
    const aheadMs = received / readRate * 1000 - (Date.now() - started);
    if (aheadMs > 5) {
      socket.pause();
      setTimeout(() => socket.resume(), aheadMs);
    }
  }
});

function upload(): void {
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

function finish(): void {
  const bytes = mode === "download" ? received : total;
  console.log(JSON.stringify({ status, bytes, seconds: (Date.now() - started) / 1000 }));
  socket.destroy();
  process.exit(status === 200 ? 0 : 1);
}
