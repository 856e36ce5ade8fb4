import { parseResponseHead } from "../http/head-parser.ts";
import { HeadScanner } from "../http/head-scanner.ts";
import { HttpParseError } from "../http/parse-error.ts";
import { serializeRequestHead } from "../http/serialize.ts";
import type { ClientTlsOptions, Connection, Network } from "../net/types.ts";
import { NetworkError } from "../net/types.ts";
import { VERSION } from "../version.ts";
import type { HealthRegistry } from "./health.ts";
import { statusInRanges, type StatusRange } from "./status-ranges.ts";

/** An HTTP check: `GET path` passes when the response status is one of `expectedStatuses`. */
export interface HttpCheckSettings {
  readonly type: "http";
  /** Request target, in origin form such as `/healthz`. */
  readonly path: string;
  readonly expectedStatuses: readonly StatusRange[];
  /** Time from the end of one round of checks to the start of the next. */
  readonly intervalMs: number;
  /** Deadline for one check, from the connect to the response head. */
  readonly timeoutMs: number;
}

/** A TCP check: it passes when a connection opens (and, for TLS peers, its handshake ends). */
export interface TcpCheckSettings {
  readonly type: "tcp";
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

export type ActiveCheckSettings = HttpCheckSettings | TcpCheckSettings;

/** Address a check connects to, and the Host header it sends. */
export interface CheckTarget {
  readonly hostname: string;
  readonly port: number;
  readonly tls?: ClientTlsOptions;
  /** Host header value, `hostname:port` as the proxy sends it to this peer. */
  readonly authority: string;
}

/** Outcome of one check, with a short detail such as `status 503` or `timed out after 2000 ms`. */
export interface CheckResult {
  readonly passed: boolean;
  readonly detail: string;
}

/** A check reads only the response head, so modest limits keep a broken peer from costing much. */
const CHECK_RESPONSE_LIMITS = {
  maxStartLineBytes: 8 * 1024,
  maxHeadBytes: 64 * 1024,
  maxFieldCount: 200,
};

const USER_AGENT = `cairn-health-check/${VERSION}`;

/** Runs one TCP check. It never rejects: failures come back as a result. */
export function runTcpCheck(
  network: Network,
  target: CheckTarget,
  options: { timeoutMs: number },
): Promise<CheckResult> {
  return runCheck(network, target, options.timeoutMs, (_connection, finish) => {
    finish(true, "connected");
    return { data() {}, end() {} };
  });
}

/**
 * Runs one HTTP check: sends `GET path` with `Connection: close` and reads the response head.
 * Interim 1xx responses are skipped. It never rejects: failures come back as a result.
 */
export function runHttpCheck(
  network: Network,
  target: CheckTarget,
  options: { path: string; expectedStatuses: readonly StatusRange[]; timeoutMs: number },
): Promise<CheckResult> {
  return runCheck(network, target, options.timeoutMs, (connection, finish) => {
    const fields = [
      "Host",
      target.authority,
      "User-Agent",
      USER_AGENT,
      "Accept",
      "*/*",
      "Connection",
      "close",
    ];
    connection.write(serializeRequestHead("GET", options.path, fields));
    const scanner = new HeadScanner("response", CHECK_RESPONSE_LIMITS);
    return {
      data(chunk) {
        let offset = 0;
        try {
          while (offset < chunk.length) {
            const result = scanner.push(chunk, offset);
            if (result === undefined) {
              return;
            }
            offset = result.end;
            const status = parseResponseHead(result.head).status;
            if (status >= 200) {
              finish(statusInRanges(status, options.expectedStatuses), `status ${status}`);
              return;
            }
            scanner.reset();
          }
        } catch (error) {
          if (!(error instanceof HttpParseError)) throw error;
          finish(false, `invalid response: ${error.message}`);
        }
      },
      end() {
        finish(false, "connection closed before the response head");
      },
    };
  });
}

/** Work of a check once connected. It calls `finish` as soon as it has the result. */
type CheckBody = (
  connection: Connection,
  finish: (passed: boolean, detail: string) => void,
) => { data(chunk: Uint8Array): void; end(): void };

/** Connects, hands the connection to `body`, and enforces the deadline and the cleanup. */
function runCheck(
  network: Network,
  target: CheckTarget,
  timeoutMs: number,
  body: CheckBody,
): Promise<CheckResult> {
  return new Promise((resolve) => {
    const abort = new AbortController();
    let connection: Connection | undefined;
    let settled = false;
    let handlers: ReturnType<CheckBody> | undefined;

    const finish = (passed: boolean, detail: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      abort.abort();
      connection?.destroy();
      resolve({ passed, detail });
    };
    const timer = setTimeout(() => finish(false, `timed out after ${timeoutMs} ms`), timeoutMs);

    network.connect(
      { hostname: target.hostname, port: target.port, tls: target.tls, signal: abort.signal },
      (opened) => {
        connection = opened;
        return {
          data: (chunk) => handlers?.data(chunk),
          drain: () => {},
          end: () => handlers?.end(),
          close: (error) => {
            const reason = error === undefined ? "" : `: ${error.message}`;
            finish(false, `connection closed before the check ended${reason}`);
          },
        };
      },
    ).then(
      (opened) => {
        if (settled) {
          opened.destroy();
          return;
        }
        handlers = body(opened, finish);
      },
      (error: unknown) => finish(false, describeConnectFailure(error)),
    );
  });
}

function describeConnectFailure(error: unknown): string {
  if (error instanceof NetworkError) {
    return `connect failed (${error.code}): ${error.message}`;
  }
  return `connect failed: ${error instanceof Error ? error.message : String(error)}`;
}

export interface HealthCheckerOptions<P> {
  settings: ActiveCheckSettings;
  /** Receives each result. The checker checks the registry's peers as they are at each round. */
  registry: HealthRegistry<P>;
  /** Maps a peer to the address its checks go to. */
  target: (peer: P) => CheckTarget;
}

/**
 * Runs active checks on every peer of a health registry: one round at `start`, then another
 * `intervalMs` after each round ends. The checks of a round run at once, each bounded by
 * `timeoutMs`, so a round lasts at most about `timeoutMs`.
 */
export class HealthChecker<P> {
  readonly settings: ActiveCheckSettings;
  readonly #network: Network;
  readonly #registry: HealthRegistry<P>;
  readonly #target: (peer: P) => CheckTarget;
  #running = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #round: Promise<void> | undefined;

  constructor(network: Network, options: HealthCheckerOptions<P>) {
    const { intervalMs, timeoutMs } = options.settings;
    if (!(intervalMs >= 1) || !(timeoutMs >= 1)) {
      throw new RangeError(
        `health check interval and timeout must be at least 1 ms, got ${intervalMs} ms and ` +
          `${timeoutMs} ms`,
      );
    }
    this.settings = options.settings;
    this.#network = network;
    this.#registry = options.registry;
    this.#target = options.target;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Starts the rounds; the first runs at once. Does nothing when already running. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  /** Stops scheduling rounds. Resolves once a round under way has ended. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#round;
  }

  /** Checks every peer once now and records the results. Resolves when all are recorded. */
  checkNow(): Promise<void> {
    const round = Promise.all(this.#registry.peers.map((peer) => this.#checkPeer(peer))).then(
      () => {},
    );
    this.#round = round;
    return round;
  }

  async #loop(): Promise<void> {
    await this.checkNow();
    if (!this.#running) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#loop();
    }, this.settings.intervalMs);
  }

  async #checkPeer(peer: P): Promise<void> {
    const target = this.#target(peer);
    const settings = this.settings;
    const result = settings.type === "http"
      ? await runHttpCheck(this.#network, target, settings)
      : await runTcpCheck(this.#network, target, settings);
    this.#registry.recordCheck(peer, result.passed, result.detail);
  }
}
