import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { proxyCommand, ROOT, RUNTIMES, startProxy, writeTempConfig } from "./harness.ts";

/** Maximum wait for one HTTP request of these tests. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Maximum wait for a Cairn process expected to exit on its own. */
const EXIT_TIMEOUT_MS = 20_000;

async function startOrigin(): Promise<{ server: Server; port: number }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/plain", "content-length": "5" });
    response.end("hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, { headers, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

/** Environment variable that the token test sets; child processes inherit it. */
const TOKEN_ENV = "CAIRN_E2E_ADMIN_TOKEN";

for (const runtime of RUNTIMES) {
  describe(`admin API on ${runtime}`, () => {
    test("serves healthz, metrics and status", async () => {
      const origin = await startOrigin();
      const proxy = await startProxy(runtime, [
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        `http://127.0.0.1:${origin.port}`,
        "--admin",
        "127.0.0.1:0",
      ]);
      try {
        assert.notEqual(proxy.adminPort, undefined, "the start line names no admin address");
        const admin = `http://127.0.0.1:${proxy.adminPort}`;

        const proxied = await get(`http://127.0.0.1:${proxy.port}/`);
        assert.equal(await proxied.text(), "hello");

        const health = await get(`${admin}/healthz`);
        assert.equal(health.status, 200);
        assert.equal(await health.text(), "ok\n");

        const ready = await get(`${admin}/readyz`);
        assert.equal(ready.status, 200);
        await ready.body?.cancel();

        const metrics = await get(`${admin}/metrics`);
        assert.equal(metrics.status, 200);
        assert.match(metrics.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
        const text = await metrics.text();
        assert.match(text, /^cairn_requests_total\{route="route-0",code_class="2xx"\} 1$/m);
        assert.match(text, /^cairn_upstream_connect_duration_seconds_count\{peer="http:\/\/127\.0\.0\.1:\d+"\} 1$/m);
        assert.match(text, /^cairn_upstream_response_duration_seconds_count\{peer="http:\/\/127\.0\.0\.1:\d+"\} 1$/m);
        assert.match(text, /^cairn_bytes_sent_total 5$/m);
        assert.match(text, /^# TYPE cairn_request_duration_seconds histogram$/m);
        assert.match(
          text,
          /^cairn_upstream_peer_healthy\{upstream="default",peer="http:\/\/127\.0\.0\.1:\d+"\} 1$/m,
        );

        const status = await get(`${admin}/status`);
        assert.equal(status.status, 200);
        const body = await status.json();
        assert.deepEqual(body.listeners, [{
          name: "listener-0",
          address: `127.0.0.1:${proxy.port}`,
        }]);
        assert.equal(body.upstreams[0].name, "default");
        assert.equal(body.upstreams[0].peers[0].peer, `http://127.0.0.1:${origin.port}`);
        assert.equal(body.draining, false);

        assert.equal(await proxy.stop("SIGTERM"), 0);
      } finally {
        await proxy.stop("SIGKILL");
        origin.server.close();
      }
    });

    test("token from tokenEnv is required", async () => {
      process.env[TOKEN_ENV] = "e2e-secret";
      const config = writeTempConfig(`
listeners:
  - address: 127.0.0.1:0
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:9
routes:
  - upstream: app
admin:
  address: 127.0.0.1:0
  tokenEnv: ${TOKEN_ENV}
`);
      const proxy = await startProxy(runtime, ["--config", config]);
      try {
        const admin = `http://127.0.0.1:${proxy.adminPort}`;
        const missing = await get(`${admin}/healthz`);
        assert.equal(missing.status, 401);
        await missing.body?.cancel();
        const right = await get(`${admin}/healthz`, { authorization: "Bearer e2e-secret" });
        assert.equal(right.status, 200);
        await right.body?.cancel();
        assert.ok(
          !proxy.stderrLines.join("\n").includes("e2e-secret"),
          "the token appears in the log",
        );
      } finally {
        await proxy.stop("SIGKILL");
        delete process.env[TOKEN_ENV];
      }
    });

    test("rejects non-loopback admin without token", async () => {
      const { command, argv } = proxyCommand(runtime, [
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        "http://127.0.0.1:9",
        "--admin",
        "0.0.0.0:0",
      ]);
      const child = spawn(command, argv, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (text: string) => (stderr += text));
      const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_TIMEOUT_MS);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      assert.equal(code, 1, stderr);
      assert.match(
        stderr,
        /admin address 0\.0\.0\.0:0 is not a loopback address: set admin\.tokenEnv/,
      );
    });
  });
}
