import assert from "node:assert/strict";
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { after, before, describe, test } from "node:test";
import {
  type ProxyProcess,
  type RuntimeName,
  startProxy,
  waitFor,
  writeTempConfig,
} from "../e2e/harness.ts";
import { RawClient } from "../e2e/raw-client.ts";
import { ScenarioOrigin } from "./scenario-origin.ts";

/** How a test client writes the request bytes of a case. */
export type Delivery = "one write" | "byte by byte";

/** Every request-side case runs once per delivery, because streaming parsers break at boundaries. */
export const DELIVERIES: Delivery[] = ["one write", "byte by byte"];

/** Path prefix routed to an upstream group whose response-head and idle timeouts are short. */
export const SHORT_TIMEOUTS = "/short";

/** Timeouts of the `SHORT_TIMEOUTS` group, in milliseconds. */
export const SHORT_TIMEOUT_MS = 400;

/**
 * Path prefix routed to an upstream group of its own, so its connection pool holds only the
 * connections of the case that runs.
 */
export const ISOLATED_POOL = "/solo";

/** Sends `bytes` in one write, or one byte per write. */
export async function deliver(client: RawClient, bytes: string, delivery: Delivery): Promise<void> {
  if (delivery === "one write") client.send(bytes);
  else await client.sendByteByByte(bytes);
}

/**
 * Number of TCP connections a process has open, listening sockets not counted: the socket
 * descriptors in `/proc/<pid>/fd` whose inode `/proc/<pid>/net/tcp` lists in a state other than
 * LISTEN (Linux only). Pipes and Unix sockets for standard output are not counted.
 */
export function openConnectionCount(pid: number): number {
  const connectionInodes = new Set<string>();
  for (const table of ["tcp", "tcp6"]) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${table}`, "utf8");
    } catch {
      continue;
    }
    for (const line of text.split("\n").slice(1)) {
      const columns = line.trim().split(/\s+/);
      // Columns: sl, local, remote, state (hex, 0A is LISTEN), queues, timer, retransmits, uid, timeout, inode.
      if (columns.length > 9 && columns[3] !== "0A") connectionInodes.add(columns[9]);
    }
  }
  let count = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let link: string;
    try {
      link = readlinkSync(`/proc/${pid}/fd/${fd}`);
    } catch {
      // The descriptor closed between the listing and the readlink.
      continue;
    }
    const inode = /^socket:\[(\d+)\]$/.exec(link)?.[1];
    if (inode !== undefined && connectionInodes.has(inode)) count++;
  }
  return count;
}

function configFor(originPort: number): string {
  const peer = `    peers:\n      - url: http://127.0.0.1:${originPort}\n`;
  return `
listeners:
  - address: 127.0.0.1:0
upstreams:
  main:
${peer}
  short:
${peer}    timeouts:
      responseHeader: ${SHORT_TIMEOUT_MS}ms
      idle: ${SHORT_TIMEOUT_MS}ms
  solo:
${peer}
routes:
  - match:
      pathPrefix: ${SHORT_TIMEOUTS}/
    upstream: short
  - match:
      pathPrefix: ${ISOLATED_POOL}/
    upstream: solo
  - upstream: main
`;
}

/**
 * One Cairn process on one runtime in front of one scenario origin, shared by the cases of a
 * test file. Each case takes its own path prefix, so the origin's handlers and records of
 * different cases never mix.
 */
export class ProxyFixture {
  readonly runtime: RuntimeName;
  readonly origin: ScenarioOrigin;
  readonly proxy: ProxyProcess;
  #clients: RawClient[] = [];
  #prefixCount = 0;

  private constructor(runtime: RuntimeName, origin: ScenarioOrigin, proxy: ProxyProcess) {
    this.runtime = runtime;
    this.origin = origin;
    this.proxy = proxy;
  }

  static async start(runtime: RuntimeName): Promise<ProxyFixture> {
    const origin = await ScenarioOrigin.start();
    try {
      const proxy = await startProxy(runtime, [
        "--config",
        writeTempConfig(configFor(origin.port)),
      ]);
      return new ProxyFixture(runtime, origin, proxy);
    } catch (error) {
      await origin.close();
      throw error;
    }
  }

  /** Returns a path prefix no other case uses. `group` selects an upstream group by its route prefix. */
  prefix(group = ""): string {
    return `${group}/t${++this.#prefixCount}`;
  }

  /** Connects a client to the proxy. `closeClients` destroys it after the case. */
  async connect(): Promise<RawClient> {
    const client = await RawClient.connect(this.proxy.port);
    this.#clients.push(client);
    return client;
  }

  closeClients(): void {
    for (const client of this.#clients.splice(0)) client.destroy();
  }

  async stop(): Promise<void> {
    this.closeClients();
    await this.proxy.stop("SIGKILL");
    await this.origin.close();
  }

  /** Sends a GET through the upstream group of `group` on a new connection and expects `200 ok`. */
  async assertServes(group = ""): Promise<void> {
    const client = await this.connect();
    const path = `${this.prefix(group)}/follow-up`;
    client.send(`GET ${path} HTTP/1.1\r\nHost: p.test\r\n\r\n`);
    const response = await client.readResponse({ timeoutMs: 5_000 });
    assert.equal(response.status, 200, `GET ${path} after the fault`);
    assert.equal(response.body.toString(), "ok", `body of GET ${path} after the fault`);
    client.destroy();
  }

  /**
   * Checks that the proxy has no TCP connection open beyond the upstream connections the origin
   * still sees open (pooled ones), once every test client is closed.
   */
  async assertNoLeakedConnections(): Promise<void> {
    this.closeClients();
    const pid = this.proxy.pid;
    const settled = await waitFor(
      () => openConnectionCount(pid) === this.origin.openConnections,
      5_000,
      25,
    );
    assert.ok(
      settled,
      `the proxy holds ${openConnectionCount(pid)} TCP connections, expected the ` +
        `${this.origin.openConnections} upstream connections the origin sees open`,
    );
  }

  /** Checks that the process runs and logged no uncaught exception or unhandled rejection. */
  assertNoCrash(): void {
    const child = this.proxy.child;
    assert.equal(child.exitCode, null, `the proxy exited with code ${child.exitCode}`);
    assert.equal(child.signalCode, null, `the proxy was killed by ${child.signalCode}`);
    const stray = this.proxy.stderrLines.filter((line) =>
      /uncaught exception|unhandled rejection/i.test(line)
    );
    assert.deepEqual(stray, [], "no uncaught exception or unhandled rejection in the proxy's log");
  }

  /** After a fault: no crash, the upstream group still serves, and no connection leaked. */
  async assertRecovered(group = ""): Promise<void> {
    this.assertNoCrash();
    await this.assertServes(group);
    await this.assertNoLeakedConnections();
  }
}

/** One conformance case: a rule and the steps that check it through the proxy. */
export interface ConformanceCase {
  /** Identifier of the case in the conformance corpus, to trace a failure back to its source. */
  id: string;
  /** The rule the case checks, as the test name. */
  name: string;
  /** Set while the behaviour is not implemented; the test is then reported as a to-do. */
  todo?: string;
  run(fixture: ProxyFixture, delivery: Delivery): Promise<void>;
}

/**
 * Registers every case once per runtime and delivery. The cases of one runtime share one proxy
 * and one origin, and `sections` groups them under a title each.
 */
export function defineCases(
  title: string,
  runtimes: readonly RuntimeName[],
  sections: Record<string, readonly ConformanceCase[]>,
): void {
  for (const runtime of runtimes) {
    describe(`${title} on ${runtime}`, () => {
      let fixture: ProxyFixture | undefined;
      before(async () => {
        fixture = await ProxyFixture.start(runtime);
      });
      after(async () => {
        await fixture?.stop();
      });
      for (const [section, cases] of Object.entries(sections)) {
        describe(section, () => {
          for (const conformanceCase of cases) {
            for (const delivery of DELIVERIES) {
              const options = conformanceCase.todo === undefined
                ? {}
                : { todo: conformanceCase.todo };
              test(`${conformanceCase.name} (${delivery})`, options, async () => {
                try {
                  await conformanceCase.run(fixture!, delivery);
                } finally {
                  fixture!.closeClients();
                }
              });
            }
          }
        });
      }
    });
  }
}
