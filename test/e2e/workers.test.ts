import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type AddressInfo } from "node:net";
import { before, describe, test } from "node:test";
import {
  buildBinaryIfStale,
  type EntryPointName,
  proxyCommand,
  ROOT,
  RUNTIMES,
  startProxy,
  waitFor,
  writeTempConfig,
} from "./harness.ts";

/** Maximum wait for one request of these tests. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Clients and requests each for the access-log test: 1,200 lines of about 1.7 KB. */
const ACCESS_CLIENTS = 24;
const ACCESS_REQUESTS_PER_CLIENT = 50;
/** Requests sent on new connections, so that both workers get some. */
const REQUESTS = 120;

async function startOrigin(): Promise<{ server: Server; port: number }> {
  const server = createServer((_request, response) => {
    response.writeHead(200, { "content-type": "text/plain", "content-length": "5" });
    response.end("hello");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, port: (server.address() as AddressInfo).port };
}

/** Finds a port that is free now, because workers need a fixed one to share. */
async function freePort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function configYaml(port: number, originPort: number): string {
  return `
listeners:
  - address: 127.0.0.1:${port}
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:${originPort}
routes:
  - upstream: app
admin:
  address: 127.0.0.1:0
logging:
  access: false
shutdown:
  drainTimeout: 5s
`;
}

/** Process ids of the children of `pid`. */
function childPids(pid: number): number[] {
  try {
    return execFileSync("pgrep", ["-P", String(pid)], { encoding: "utf8" }).trim().split("\n").map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Sends a request on a new connection and returns its status, or the error text. */
async function request(url: string): Promise<number | string> {
  try {
    const response = await fetch(url, {
      headers: { connection: "close" },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await response.text();
    return response.status;
  } catch (error) {
    return String(error);
  }
}

interface WorkerStatus {
  index: number;
  pid: number;
  running: boolean;
  restarts: number;
}

// The single-file executable starts its workers from itself instead of from a script.
const ENTRY_POINTS: EntryPointName[] = [...RUNTIMES, "binary"];

for (const runtime of ENTRY_POINTS) {
  describe(`--workers on ${runtime}`, () => {
    if (runtime === "binary") before(() => void buildBinaryIfStale());

    test("shares port, restarts, reloads workers", async () => {
      const origin = await startOrigin();
      const port = await freePort();
      const path = writeTempConfig(configYaml(port, origin.port));
      const proxy = await startProxy(runtime, ["--config", path, "--workers", "2"], ["--allow-run"]);
      const admin = `http://127.0.0.1:${proxy.adminPort}`;
      const workerPids: number[] = [];
      try {
        const statuses: (number | string)[] = [];
        for (let i = 0; i < REQUESTS; i++) statuses.push(await request(`http://127.0.0.1:${port}/`));
        assert.deepEqual(statuses.filter((status) => status !== 200), []);

        const metrics = await (await fetch(`${admin}/metrics`)).text();
        const perWorker = [...metrics.matchAll(/^cairn_requests_total\{worker="(\d)",route="route-0",code_class="2xx"\} (\d+)$/gm)]
          .map((match) => Number(match[2]));
        assert.equal(perWorker.length, 2, metrics);
        assert.equal(perWorker[0] + perWorker[1], REQUESTS);
        assert.ok(perWorker.every((count) => count > 0), `requests per worker: ${perWorker}`);
        assert.match(metrics, /^cairn_workers\{state="running"\} 2$/m);

        const status = await (await fetch(`${admin}/status`)).json();
        const workers = status.workers as WorkerStatus[];
        assert.equal(workers.length, 2);
        assert.ok(workers.every((worker) => worker.running));
        workerPids.push(...workers.map((worker) => worker.pid));
        assert.deepEqual(childPids(proxy.pid).filter((pid) => workerPids.includes(pid)).sort(), [...workerPids].sort());
        assert.equal(status.upstreams[0].pool.opened >= 2, true, "pool counts are summed over workers");
        const page = await (await fetch(`${admin}/`)).text();
        assert.equal([...page.matchAll(/<td>running<\/td>/g)].length, 2, "the dashboard lists both workers");
        assert.match(page, new RegExp(`${REQUESTS} requests, 0 errors`));

        // A killed worker starts again while the other one serves.
        process.kill(workers[0].pid, "SIGKILL");
        const restarted = await waitFor(() => proxy.stderrLines.some((line) => line.includes("worker 0 started again")), 10_000);
        assert.ok(restarted, proxy.stderrLines.join("\n"));
        assert.ok(
          proxy.stderrLines.some((line) => line.includes(`worker 0 (pid ${workers[0].pid}) was killed by SIGKILL: restarting it in`)),
          proxy.stderrLines.join("\n"),
        );
        const after = (await (await fetch(`${admin}/status`)).json()).workers as WorkerStatus[];
        assert.equal(after[0].restarts, 1);
        assert.notEqual(after[0].pid, workers[0].pid);
        workerPids.push(after[0].pid);
        for (let i = 0; i < 20; i++) assert.equal(await request(`http://127.0.0.1:${port}/`), 200);

        const reloaded = await fetch(`${admin}/reload`, { method: "POST" });
        assert.equal(reloaded.status, 200);
        assert.equal((await reloaded.json()).status, "reloaded");
        const workerLines = proxy.stderrLines.filter((line) => line.includes('"config reloaded on supervisor"'));
        assert.equal(workerLines.filter((line) => line.startsWith('{"worker":')).length, 2, workerLines.join("\n"));
        assert.ok(proxy.stderrLines.some((line) => line.startsWith('{"time"') && line.includes('"config reloaded on admin API"')));

        // The supervisor rejects an invalid file itself, and its own series show the failure.
        writeFileSync(path, "listeners: [\n");
        const rejected = await fetch(`${admin}/reload`, { method: "POST" });
        assert.equal(rejected.status, 422);
        assert.equal(rejected.statusText, "Unprocessable Content");
        const afterFailure = await (await fetch(`${admin}/metrics`)).text();
        assert.match(afterFailure, /^cairn_config_last_reload_successful\{worker="supervisor"\} 0$/m);
        assert.match(afterFailure, /^cairn_config_reloads_total\{worker="supervisor",result="failure"\} 1$/m);
        assert.match(afterFailure, /^cairn_config_reloads_total\{worker="supervisor",result="success"\} 1$/m);

        assert.equal(await proxy.stop("SIGTERM"), 0);
        assert.ok(await waitFor(() => workerPids.every((pid) => !alive(pid)), 5_000), "workers still running");
      } finally {
        await proxy.stop("SIGKILL");
        for (const pid of workerPids) if (alive(pid)) process.kill(pid, "SIGKILL");
        origin.server.close();
      }
    });

    // The remaining tests do not depend on how workers start, so one run per runtime suffices.
    if (runtime === "binary") return;

    test("access lines stay whole", async () => {
      const origin = await startOrigin();
      const port = await freePort();
      const path = writeTempConfig(configYaml(port, origin.port).replace("access: false", "access: true"));
      const proxy = await startProxy(runtime, ["--config", path, "--workers", "2"], ["--allow-run"]);
      // Long targets fill the 64 KiB batches quickly, so both workers write large batches at once.
      const target = `/${"p".repeat(1500)}`;
      const total = ACCESS_CLIENTS * ACCESS_REQUESTS_PER_CLIENT;
      try {
        const client = async () => {
          for (let i = 0; i < ACCESS_REQUESTS_PER_CLIENT; i++) {
            assert.equal(await request(`http://127.0.0.1:${port}${target}?${i}`), 200);
          }
        };
        // Reading nothing for a while fills the pipe, so the workers' writes wait for room
        // together, which is when writes above 4096 bytes get interleaved.
        proxy.child.stdout!.pause();
        const resume = setTimeout(() => proxy.child.stdout!.resume(), 1_000);
        try {
          await Promise.all(Array.from({ length: ACCESS_CLIENTS }, client));
        } finally {
          clearTimeout(resume);
          proxy.child.stdout!.resume();
        }
        assert.ok(await waitFor(() => proxy.stdoutLines.length >= total, 5_000), `${proxy.stdoutLines.length} lines`);
        const broken = proxy.stdoutLines.filter((line) => {
          try {
            return JSON.parse(line).status !== 200;
          } catch {
            return true;
          }
        });
        assert.deepEqual(broken.map((line) => line.slice(0, 80)), []);
        assert.equal(proxy.stdoutLines.length, total);
      } finally {
        await proxy.stop("SIGTERM");
        origin.server.close();
      }
    });

    test("workers exit with killed supervisor", async () => {
      const origin = await startOrigin();
      const port = await freePort();
      const path = writeTempConfig(configYaml(port, origin.port));
      const proxy = await startProxy(runtime, ["--config", path, "--workers", "2"], ["--allow-run"]);
      let workerPids: number[] = [];
      try {
        const status = await (await fetch(`http://127.0.0.1:${proxy.adminPort}/status`)).json();
        workerPids = (status.workers as WorkerStatus[]).map((worker) => worker.pid);
        assert.equal(workerPids.length, 2);
        await proxy.stop("SIGKILL");
        assert.ok(await waitFor(() => workerPids.every((pid) => !alive(pid)), 10_000), "orphaned workers kept running");
      } finally {
        for (const pid of workerPids) if (alive(pid)) process.kill(pid, "SIGKILL");
        origin.server.close();
      }
    });

    test("rejects listener on port 0", async () => {
      const origin = await startOrigin();
      const path = writeTempConfig(configYaml(0, origin.port));
      try {
        await assert.rejects(
          startProxy(runtime, ["--config", path, "--workers", "2"], ["--allow-run"]),
          /listener listener-0 has port 0, but --workers needs a fixed port/,
        );
        // --test checks the same, so a config it accepts also starts with --workers.
        const { command, argv } = proxyCommand(runtime, ["--test", "--config", path, "--workers", "2"]);
        const checked = spawnSync(command, argv, { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
        assert.equal(checked.status, 1, checked.stderr);
        assert.match(checked.stderr, /listener listener-0 has port 0, but --workers needs a fixed port/);
        assert.match(checked.stderr, /configuration is invalid/);
      } finally {
        origin.server.close();
      }
    });
  });
}
