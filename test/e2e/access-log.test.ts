import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { describe, test } from "node:test";
import { proxyCommand, ROOT, RUNTIMES, startProxy, waitFor, writeTempConfig } from "./harness.ts";

/** Maximum wait for one HTTP request of these tests. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Maximum wait for a Cairn process expected to exit on its own. */
const EXIT_TIMEOUT_MS = 20_000;

/** Starts an origin that records the `X-Request-Id` of each request it receives. */
async function startOrigin(): Promise<{ server: Server; port: number; requestIds: (string | undefined)[] }> {
  const requestIds: (string | undefined)[] = [];
  const server = createServer((request, response) => {
    const value = request.headers["x-request-id"];
    requestIds.push(Array.isArray(value) ? value.join(", ") : value);
    response.writeHead(200, { "content-type": "text/plain", "content-length": "5" });
    response.end("hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port, requestIds };
}

function configYaml(originPort: number, accessFile: string): string {
  return `
listeners:
  - address: 127.0.0.1:0
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:${originPort}
routes:
  - upstream: app
logging:
  format: combined
  accessFile: ${accessFile}
  echoRequestId: true
`;
}

for (const runtime of RUNTIMES) {
  describe(`access log file on ${runtime}`, () => {
    test("appends combined lines", async () => {
      const origin = await startOrigin();
      // The config's folder is fresh, so the access log starts out missing.
      const configPath = writeTempConfig("");
      const accessFile = join(dirname(configPath), "access.log");
      const args = ["--config", writeConfigNextTo(configPath, configYaml(origin.port, accessFile))];
      const proxy = await startProxy(runtime, args, [`--allow-write=${accessFile}`]);
      try {
        const response = await fetch(`http://127.0.0.1:${proxy.port}/page`, {
          headers: { "x-request-id": "e2e-1", "user-agent": "e2e/1.0", "referer": "http://ref.test/" },
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        assert.equal(await response.text(), "hello");
        assert.equal(response.headers.get("x-request-id"), "e2e-1");
        assert.deepEqual(origin.requestIds, ["e2e-1"]);
        assert.equal(await proxy.stop("SIGTERM"), 0);

        const lines = readFileSync(accessFile, "utf8").split("\n");
        assert.equal(lines.length, 2, "one line and the final newline");
        assert.match(
          lines[0],
          /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "GET \/page HTTP\/1\.1" 200 5 "http:\/\/ref\.test\/" "e2e\/1\.0"$/,
        );
        assert.equal(lines[1], "");
        assert.deepEqual(proxy.stdoutLines, [], "no access lines on standard output");
      } finally {
        await proxy.stop("SIGKILL");
        origin.server.close();
      }
    });

    test("writes to a new file after a rotation and SIGHUP", async () => {
      const origin = await startOrigin();
      const configPath = writeTempConfig("");
      const accessFile = join(dirname(configPath), "access.log");
      const args = ["--config", writeConfigNextTo(configPath, configYaml(origin.port, accessFile))];
      const proxy = await startProxy(runtime, args, [`--allow-write=${dirname(accessFile)}`]);
      const send = async (path: string) => {
        const response = await fetch(`http://127.0.0.1:${proxy.port}${path}`, {
          signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
        });
        assert.equal(await response.text(), "hello");
      };
      try {
        await send("/before");
        // Lines go out in batches, at most 100 ms after the request.
        assert.ok(await waitFor(() => readText(accessFile).includes("/before"), 2_000));
        renameSync(accessFile, `${accessFile}.1`);
        proxy.child.kill("SIGHUP");
        assert.ok(
          await waitFor(() => proxy.stderrLines.some((line) => line.includes("config reloaded on SIGHUP")), 5_000),
          proxy.stderrLines.join("\n"),
        );
        await send("/after");
        assert.equal(await proxy.stop("SIGTERM"), 0);
        assert.match(readText(`${accessFile}.1`), /^[^\n]*"GET \/before HTTP\/1\.1" 200 5[^\n]*\n$/);
        assert.match(readText(accessFile), /^[^\n]*"GET \/after HTTP\/1\.1" 200 5[^\n]*\n$/);
      } finally {
        await proxy.stop("SIGKILL");
        origin.server.close();
      }
    });

    test("exits 1 when the folder is missing", async () => {
      const configPath = writeTempConfig("");
      const accessFile = join(dirname(configPath), "missing", "access.log");
      const args = ["--config", writeConfigNextTo(configPath, configYaml(9, accessFile))];
      const { command, argv } = proxyCommand(runtime, args, [`--allow-write=${accessFile}`]);
      const child = spawn(command, argv, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (text: string) => (stderr += text));
      const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_TIMEOUT_MS);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      assert.equal(code, 1, stderr);
      assert.ok(stderr.includes(`cannot open access log file ${accessFile}`), stderr);
    });
  });
}

/** Replaces the config at `configPath` with `yaml` and returns the path. */
function writeConfigNextTo(configPath: string, yaml: string): string {
  writeFileSync(configPath, yaml);
  return configPath;
}

function readText(path: string): string {
  return existsSync(path) ? readFileSync(path, "utf8") : "";
}
