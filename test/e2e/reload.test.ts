import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { describe, test } from "node:test";
import { delay, RUNTIMES, startProxy, waitFor, writeTempConfig } from "./harness.ts";

/** Maximum wait for one request. A reload must not make any request wait this long. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Clients sending requests back to back during the test. */
const CLIENTS = 6;
/** Upper bound on requests per client, so a fast machine cannot loop without end. */
const MAX_REQUESTS_PER_CLIENT = 20_000;

/** Starts an origin that responds with its name, after 400 ms for `/slow`. */
async function startOrigin(name: string): Promise<{ server: Server; port: number }> {
  const server = createServer((request, response) => {
    const respond = () => {
      response.writeHead(200, { "content-type": "text/plain", "content-length": String(name.length) });
      response.end(name);
    };
    if (request.url === "/slow") setTimeout(respond, 400);
    else respond();
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

function configYaml(options: { upstream: string; a: number; b: number; weightA?: number; watch: boolean }): string {
  return `
listeners:
  - address: 127.0.0.1:0
upstreams:
  a:
    peers:
      - url: http://127.0.0.1:${options.a}
        weight: ${options.weightA ?? 1}
  b:
    peers:
      - url: http://127.0.0.1:${options.b}
routes:
  - upstream: ${options.upstream}
admin:
  address: 127.0.0.1:0
logging:
  access: false
reload:
  watch: ${options.watch}
  watchInterval: 100ms
`;
}

for (const runtime of RUNTIMES) {
  describe(`config reload on ${runtime}`, () => {
    test("reloads under load without failures", async () => {
      const a = await startOrigin("a");
      const b = await startOrigin("b");
      const ports = { a: a.port, b: b.port };
      const path = writeTempConfig(configYaml({ upstream: "a", ...ports, watch: false }));
      const proxy = await startProxy(runtime, ["--config", path]);
      const url = `http://127.0.0.1:${proxy.port}`;
      const admin = `http://127.0.0.1:${proxy.adminPort}`;
      const failures: string[] = [];
      const seen = { a: 0, b: 0 };
      let last = "";
      let running = true;
      const client = async () => {
        for (let i = 0; running && i < MAX_REQUESTS_PER_CLIENT; i++) {
          try {
            const response = await fetch(`${url}/`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
            const body = await response.text();
            if (response.status !== 200 || (body !== "a" && body !== "b")) {
              failures.push(`status ${response.status}: ${body.slice(0, 80)}`);
            } else {
              seen[body]++;
              last = body;
            }
          } catch (error) {
            failures.push(String(error));
          }
        }
      };
      const clients = Array.from({ length: CLIENTS }, client);
      /** Waits until responses come from `name` only, and counts a few of them. */
      const servedBy = async (name: "a" | "b") => {
        const ok = await waitFor(() => last === name, 5_000);
        assert.ok(ok, `responses did not switch to ${name}`);
        const before = seen[name];
        assert.ok(await waitFor(() => seen[name] >= before + 50, 5_000), `too few responses from ${name}`);
      };
      try {
        await servedBy("a");

        // A request in flight at the reload finishes on the upstream it started with.
        const slow = fetch(`${url}/slow`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        await delay(100);
        writeFileSync(path, configYaml({ upstream: "b", ...ports, watch: false }));
        proxy.child.kill("SIGHUP");
        await servedBy("b");
        const slowResponse = await slow;
        assert.equal(slowResponse.status, 200);
        assert.equal(await slowResponse.text(), "a");

        // A changed upstream gets a new group, and the response lists it as changed.
        writeFileSync(path, configYaml({ upstream: "a", ...ports, weightA: 2, watch: false }));
        const posted = await fetch(`${admin}/reload`, { method: "POST" });
        assert.equal(posted.status, 200);
        const summary = await posted.json();
        assert.equal(summary.status, "reloaded");
        assert.deepEqual(summary.upstreams.changed, ["a"]);
        await servedBy("a");

        // An invalid file is rejected with its problems, and the running config stays.
        writeFileSync(path, configYaml({ upstream: "a", ...ports, watch: false }).replace("upstream: a", "upstream: missing"));
        const rejected = await fetch(`${admin}/reload`, { method: "POST" });
        assert.equal(rejected.status, 422);
        const problems = await rejected.json();
        assert.equal(problems.status, "invalid");
        assert.match(JSON.stringify(problems.problems), /routes\[0\]\.upstream/);
        const countBefore = seen.a;
        assert.ok(await waitFor(() => seen.a >= countBefore + 50, 5_000));
        assert.equal(last, "a");

        // Turning the watcher on by reload, then changing the file, reloads without a signal.
        writeFileSync(path, configYaml({ upstream: "a", ...ports, watch: true }));
        assert.equal((await fetch(`${admin}/reload`, { method: "POST" })).status, 200);
        writeFileSync(path, configYaml({ upstream: "b", ...ports, watch: true }));
        await servedBy("b");

        const metrics = await (await fetch(`${admin}/metrics`)).text();
        assert.match(metrics, /^cairn_config_reloads_total\{result="success"\} 4$/m);
        assert.match(metrics, /^cairn_config_reloads_total\{result="failure"\} 1$/m);
      } finally {
        running = false;
        await Promise.all(clients);
        await proxy.stop();
        a.server.close();
        b.server.close();
        a.server.closeAllConnections();
        b.server.closeAllConnections();
      }
      assert.deepEqual(failures, [], `${failures.length} failed requests`);
      assert.ok(seen.a + seen.b > 300, `only ${seen.a + seen.b} requests ran`);
      const log = proxy.stderrLines.join("\n");
      assert.match(log, /config reloaded on SIGHUP/);
      assert.match(log, /config reloaded on admin API/);
      assert.match(log, /config reloaded on file change/);
      assert.match(log, /config reload on admin API rejected/);
    });
  });
}
