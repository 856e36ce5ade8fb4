import assert from "node:assert/strict";
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RUNTIMES, startProxy, waitFor } from "./harness.ts";
import { header, RawClient } from "./raw-client.ts";

function findNginx(): string | undefined {
  for (const candidate of ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]) {
    try {
      execFileSync(candidate, ["-v"], { stdio: "ignore" });
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return typeof address === "object" && address ? address.port : 0;
}

const nginxPath = findNginx();

describe("nginx as origin", { skip: nginxPath === undefined ? "nginx is not installed" : false }, () => {
  let nginx: ChildProcess;
  let port = 0;
  const bigFile = Buffer.alloc(3 * 1024 * 1024, "abcdefghijklmnopqrstuvwxyz");

  before(async () => {
    const prefix = mkdtempSync(join(tmpdir(), "cairn-nginx-"));
    const html = join(prefix, "html");
    mkdirSync(html);
    writeFileSync(join(html, "index.html"), "<h1>served by nginx</h1>\n");
    writeFileSync(join(html, "big.bin"), bigFile);
    port = await freePort();
    const conf = join(prefix, "nginx.conf");
    writeFileSync(
      conf,
      `daemon off;
master_process off;
error_log ${prefix}/error.log warn;
pid ${prefix}/nginx.pid;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path ${prefix}/body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  keepalive_requests 1000;
  server {
    listen 127.0.0.1:${port};
    root ${html};
    location = /echo-headers { return 200 "$http_x_forwarded_for|$http_via|$host\\n"; }
  }
}
`,
    );
    nginx = spawn(nginxPath!, ["-p", prefix, "-c", conf], { stdio: "ignore" });
    const client = async () => {
      try {
        const raw = await RawClient.connect(port);
        raw.destroy();
        return true;
      } catch {
        return false;
      }
    };
    const deadline = Date.now() + 10_000;
    while (!(await client())) {
      if (Date.now() > deadline) throw new Error("nginx did not start");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  after(() => {
    nginx?.kill("SIGKILL");
  });

  for (const runtime of RUNTIMES) {
    test(`proxies to nginx on ${runtime}`, async () => {
      const proxy = await startProxy(runtime, ["--listen", "127.0.0.1:0", "--upstream", `http://127.0.0.1:${port}`]);
      try {
        const client = await RawClient.connect(proxy.port);
        client.send("GET / HTTP/1.1\r\nHost: site.test\r\n\r\n");
        const page = await client.readResponse();
        assert.equal(page.status, 200);
        assert.equal(page.body.toString(), "<h1>served by nginx</h1>\n");
        assert.match(header(page, "server") ?? "", /nginx/);

        client.send("GET /echo-headers HTTP/1.1\r\nHost: site.test\r\n\r\n");
        const echoed = await client.readResponse();
        assert.equal(echoed.body.toString(), "127.0.0.1|1.1 cairn|site.test\n");

        client.send("GET /big.bin HTTP/1.1\r\nHost: site.test\r\n\r\n");
        const big = await client.readResponse();
        assert.equal(big.status, 200);
        assert.equal(big.body.length, bigFile.length);
        assert.ok(big.body.equals(bigFile), "the file arrives byte for byte");

        client.send("GET /missing HTTP/1.1\r\nHost: site.test\r\n\r\n");
        assert.equal((await client.readResponse()).status, 404);
        client.destroy();
        assert.ok(await waitFor(() => proxy.accessRecords().length === 4));
      } finally {
        await proxy.stop("SIGKILL");
      }
    });
  }
});
