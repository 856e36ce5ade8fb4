import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { Agent, get as httpGet } from "node:http";
import { describe, test } from "node:test";
import { delay, proxyCommand, ROOT, RUNTIMES, startProxy, waitFor, writeTempConfig } from "./harness.ts";

/**
 * A node:http origin for one port, given as its only argument (0 picks a free port). It responds
 * to every request with 200 and the body `PORT PID`, so a test can tell a restarted process from
 * the one before it, and prints `listening PORT` once it accepts connections.
 */
const ORIGIN_SCRIPT = `
const http = require("node:http");
const server = http.createServer((request, response) => {
  request.resume();
  response.writeHead(200, { "content-type": "text/plain" });
  response.end(server.address().port + " " + process.pid);
});
server.listen(Number(process.argv[1]), "127.0.0.1", () => {
  console.log("listening " + server.address().port);
});
`;

/** Longest wait for an origin process to listen. */
const ORIGIN_START_TIMEOUT_MS = 10_000;
/** Clients sending GET requests over keep-alive connections at the same time. */
const CLIENTS = 4;
/** Upper bound on requests per client, whatever the timing. */
const MAX_REQUESTS_PER_CLIENT = 50_000;
const REQUEST_TIMEOUT_MS = 5_000;

interface OriginProcess {
  readonly port: number;
  readonly pid: number;
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
}

function startOriginProcess(port: number): Promise<OriginProcess> {
  const child = spawn("node", ["-e", ORIGIN_SCRIPT, String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`origin on port ${port} did not listen within ${ORIGIN_START_TIMEOUT_MS} ms`));
    }, ORIGIN_START_TIMEOUT_MS);
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`origin on port ${port} exited with code ${code} before it listened`));
    });
    let output = "";
    child.stdout!.setEncoding("utf8");
    child.stdout!.on("data", (text: string) => {
      output += text;
      const match = /listening (\d+)/.exec(output);
      if (match === null) return;
      clearTimeout(timer);
      resolve({ port: Number(match[1]), pid: child.pid!, child, exited });
    });
  });
}

/** Kills an origin process by its pid and waits for it to exit. */
async function killOrigin(origin: OriginProcess): Promise<void> {
  if (origin.child.exitCode === null && origin.child.signalCode === null) {
    process.kill(origin.pid, "SIGKILL");
  }
  await origin.exited;
}

/** One request of the load, with the `PORT PID` body of the origin that responded. */
interface Outcome {
  status: number | undefined;
  body: string;
  error: string | undefined;
}

function getOnce(agent: Agent, port: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const request = httpGet({ host: "127.0.0.1", port, path: "/", agent, timeout: REQUEST_TIMEOUT_MS }, (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (text: string) => (body += text));
      response.on("end", () => resolve({ status: response.statusCode, body, error: undefined }));
      response.on("error", (error) => resolve({ status: response.statusCode, body, error: error.message }));
    });
    request.on("timeout", () => request.destroy(new Error(`no response within ${REQUEST_TIMEOUT_MS} ms`)));
    request.on("error", (error) => resolve({ status: undefined, body: "", error: error.message }));
  });
}

/** Sends GET requests from `CLIENTS` keep-alive clients until `done` returns true. */
async function runLoad(port: number, done: () => boolean, outcomes: Outcome[]): Promise<void> {
  const agent = new Agent({ keepAlive: true, maxSockets: CLIENTS });
  const client = async () => {
    for (let i = 0; i < MAX_REQUESTS_PER_CLIENT && !done(); i++) {
      outcomes.push(await getOnce(agent, port));
    }
  };
  try {
    await Promise.all(Array.from({ length: CLIENTS }, client));
  } finally {
    agent.destroy();
  }
}

function configFor(ports: number[]): string {
  const peers = ports.map((port) => `      - url: http://127.0.0.1:${port}`).join("\n");
  return `
listeners:
  - address: 127.0.0.1:0
upstreams:
  app:
    peers:
${peers}
    healthCheck:
      path: /
      interval: 200ms
      timeout: 200ms
      healthyThreshold: 2
      unhealthyThreshold: 2
    # With 100%, every request in flight may have a retry in flight, so no request of the
    # test fails because the budget turned its retry down.
    retries:
      attempts: 3
      budget: 100%
    timeouts:
      connect: 1s
routes:
  - upstream: app
logging:
  access: false
shutdown:
  drainTimeout: 2s
`;
}

interface LogLine {
  time: string;
  message: string;
  peer?: string;
  from?: string;
}

function logLines(lines: string[]): LogLine[] {
  return lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line) as LogLine);
}

describe("load balancing over origin processes", () => {
  for (const runtime of RUNTIMES) {
    test(`fails over a killed peer and takes it back on ${runtime}`, async () => {
      const origins: OriginProcess[] = [];
      let proxy: Awaited<ReturnType<typeof startProxy>> | undefined;
      try {
        for (let i = 0; i < 3; i++) origins.push(await startOriginProcess(0));
        const ports = origins.map((origin) => origin.port);
        proxy = await startProxy(runtime, ["--config", writeTempConfig(configFor(ports))]);
        const victim = origins[1];
        const victimLabel = `http://127.0.0.1:${victim.port}`;

        const outcomes: Outcome[] = [];
        let stopLoad = false;
        const load = runLoad(proxy.port, () => stopLoad, outcomes);
        await delay(800);
        await killOrigin(victim);
        await delay(1_000);
        const restarted = await startOriginProcess(victim.port);
        origins.push(restarted);
        const restartedAt = Date.now();
        const restartedBody = `${victim.port} ${restarted.pid}`;
        const back = await waitFor(() => outcomes.some((outcome) => outcome.body === restartedBody), 4_000, 20);
        stopLoad = true;
        await load;

        assert.ok(outcomes.length > 100, `only ${outcomes.length} requests were sent`);
        const failures = outcomes.filter((outcome) => outcome.status !== 200 || outcome.error !== undefined);
        assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${outcomes.length} requests failed`);
        for (const origin of origins.slice(0, 3)) {
          const served = outcomes.filter((outcome) => outcome.body === `${origin.port} ${origin.pid}`).length;
          assert.ok(served > 0, `origin ${origin.port} (pid ${origin.pid}) served no request`);
        }
        assert.ok(back, "the restarted peer got no request within 4 s of its restart");

        const lines = logLines(proxy.stderrLines);
        const left = lines.find((line) => line.peer === victimLabel && /left the rotation/.test(line.message));
        assert.ok(left, "the health checks took the killed peer out");
        const rejoined = lines.find((line) => line.peer === victimLabel && /rejoined the rotation/.test(line.message));
        assert.ok(rejoined, "the health checks brought the restarted peer back");
        // Once out of rotation, the dead peer gets no requests, so none is retried away from it.
        // Requests that chose their peers just before it left may still be retried.
        const settled = Date.parse(left.time) + 100;
        const lateRetries = lines.filter((line) =>
          line.from === victimLabel && Date.parse(line.time) > settled && Date.parse(line.time) < restartedAt
        );
        assert.deepEqual(lateRetries, []);

        assert.equal(await proxy.stop(), 0);
      } finally {
        await proxy?.stop("SIGKILL");
        for (const origin of origins) await killOrigin(origin);
      }
    });
  }
});

describe("config/examples/load-balancing.yaml", () => {
  for (const runtime of RUNTIMES) {
    test(`passes --test on ${runtime}`, async () => {
      const { command, argv } = proxyCommand(runtime, ["--test", "--config", "config/examples/load-balancing.yaml"]);
      const child = spawn(command, argv, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
      let output = "";
      child.stdout!.setEncoding("utf8");
      child.stdout!.on("data", (text: string) => (output += text));
      child.stderr!.setEncoding("utf8");
      child.stderr!.on("data", (text: string) => (output += text));
      const timer = setTimeout(() => child.kill("SIGKILL"), 20_000);
      const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
      clearTimeout(timer);
      assert.equal(code, 0, output);
      assert.match(output, /load-balancing\.yaml: configuration is valid/);
    });
  }
});
