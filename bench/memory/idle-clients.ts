// Opens COUNT keep-alive connections to 127.0.0.1:PORT, sends one `GET /small` on each, reads
// the response and leaves the connection open and idle. Prints "ready N" once every connection
// is idle, where N counts the connections that got a 200 response, then keeps them open until
// SIGTERM or LIFETIME seconds, whichever comes first. Arguments: PORT COUNT LIFETIME.
import { connect, type Socket } from "node:net";

const port = Number(process.argv[2]);
const count = Number(process.argv[3]);
const lifetimeSeconds = Number(process.argv[4] ?? "300");
if (!Number.isInteger(port) || !Number.isInteger(count)) {
  console.error("usage: idle-clients.ts PORT COUNT [LIFETIME_SECONDS]");
  process.exit(2);
}

/** Connections opened at once; more would overflow the listener's accept backlog. */
const BATCH = 200;
const sockets: Socket[] = [];
let ok = 0;
let failed = 0;

setTimeout(() => process.exit(0), lifetimeSeconds * 1000).unref();
process.on("SIGTERM", () => {
  for (const socket of sockets) socket.destroy();
  process.exit(0);
});

function open(): Promise<void> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    sockets.push(socket);
    let response = "";
    let settled = false;
    const done = (success: boolean) => {
      if (settled) return;
      settled = true;
      if (success) ok++;
      else failed++;
      resolve();
    };
    socket.on("connect", () => socket.write("GET /small HTTP/1.1\r\nHost: bench\r\n\r\n"));
    socket.on("data", (data: Buffer) => {
      response += data.toString("latin1");
      const end = response.indexOf("\r\n\r\n");
      if (end === -1) return;
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(response)?.[1] ?? "0");
      if (response.length >= end + 4 + length) done(response.startsWith("HTTP/1.1 200"));
    });
    socket.on("error", (error) => {
      if (!settled) console.error(`idle-clients: ${error.message}`);
      done(false);
    });
  });
}

for (let opened = 0; opened < count; opened += BATCH) {
  const batch = [];
  for (let i = opened; i < Math.min(count, opened + BATCH); i++) batch.push(open());
  await Promise.all(batch);
}
console.log(`ready ${ok}`);
if (failed > 0) console.error(`idle-clients: ${failed} connections failed`);
