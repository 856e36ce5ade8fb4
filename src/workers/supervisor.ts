import type { ReloadSummary } from "../proxy/server.ts";
import type { ProxySnapshot } from "../proxy/snapshot.ts";
import type { Runtime, WorkerExit, WorkerProcess } from "../runtime.ts";
import { mergeMetrics } from "./merge-metrics.ts";
import { mergeSnapshots, mergeTraffic } from "./merge-snapshots.ts";
import { describeError } from "../log/describe-error.ts";
import { MetricWriter, ReloadCounters, type TrafficStats } from "../admin/metrics.ts";

/** Environment variable that marks a process as worker number N of a supervisor. */
export const WORKER_INDEX_ENV = "CAIRN_WORKER_INDEX";
/** Environment variable with the bearer token of a worker's private admin API. */
export const WORKER_TOKEN_ENV = "CAIRN_WORKER_TOKEN";

/** Maximum wait for a worker's start line. */
const START_TIMEOUT_MS = 30_000;
/** Maximum wait for one request to a worker's admin API. */
const WORKER_REQUEST_TIMEOUT_MS = 5_000;
/** First delay before a crashed worker is restarted. It doubles with each crash in a row. */
const RESTART_BASE_MS = 250;
/** Maximum delay before a crashed worker is restarted. */
const RESTART_MAX_MS = 15_000;
/** A worker that ran this long before it crashed is restarted after `RESTART_BASE_MS`. */
const STABLE_RUN_MS = 30_000;
/** Maximum length of a worker's standard output held back while it waits for a line end. */
const MAX_PARTIAL_STDOUT = 1024 * 1024;
/** Time a worker gets after its drain deadline before it is killed. */
const EXIT_GRACE_MS = 5_000;

export interface SupervisorOptions {
  runtime: Runtime;
  count: number;
  /** The command-line arguments every worker gets. */
  args: string[];
  /** The access log file, when workers append to one. */
  accessFile?: string;
  /** Writes one diagnostic line of the supervisor itself. */
  log(level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>): void;
}

interface WorkerSlot {
  readonly index: number;
  process: WorkerProcess | undefined;
  /** Base URL of the worker's private admin API, set once the worker logged its start. */
  adminUrl: string | undefined;
  startedAt: number;
  /** Crashes in a row, for the restart back-off. */
  crashes: number;
  restarts: number;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  onStarted: ((error?: Error) => void) | undefined;
  /** Set after a failed admin request, so that a worker that stops responding is logged once. */
  requestFailing: boolean;
}

/** One worker's state for `/status`. */
export interface WorkerStatus {
  index: number;
  pid: number | undefined;
  running: boolean;
  restarts: number;
}

/**
 * Runs `count` worker processes of this program with the same arguments. Each worker serves the
 * config's listeners on shared ports and a private admin API on a loopback port with a token of
 * its own. The supervisor forwards the workers' diagnostic lines with a `worker` field and
 * restarts a crashed worker with back-off. For the admin API it merges the workers' snapshots
 * and metrics, sends reloads to every worker, and shuts them all down.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #token: string;
  readonly #slots: WorkerSlot[];
  /** Reloads of the config file as the supervisor saw them, including files it rejected. */
  readonly reloads = new ReloadCounters();
  #stopping = false;
  /** Set once every worker has started. From then on, a worker that exits is restarted. */
  #started = false;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#token = randomToken();
    this.#slots = Array.from({ length: options.count }, (_, index) => ({
      index,
      process: undefined,
      adminUrl: undefined,
      startedAt: 0,
      crashes: 0,
      restarts: 0,
      restartTimer: undefined,
      onStarted: undefined,
      requestFailing: false,
    }));
  }

  /**
   * Starts every worker and waits until each has logged its start. When one exits first or does
   * not start in time, stops the others and rejects. The worker's own log lines give the cause.
   */
  async start(): Promise<void> {
    try {
      await Promise.all(this.#slots.map((slot) => this.#spawn(slot)));
      this.#started = true;
    } catch (error) {
      await this.shutdown();
      throw error;
    }
  }

  get draining(): boolean {
    return this.#stopping;
  }

  /** Returns every worker slot with its process id, whether it runs, and its restart count. */
  workers(): WorkerStatus[] {
    return this.#slots.map((slot) => ({
      index: slot.index,
      pid: slot.process?.pid,
      running: slot.adminUrl !== undefined,
      restarts: slot.restarts,
    }));
  }

  /** Fetches the snapshots of the running workers and merges them. */
  async snapshot(): Promise<ProxySnapshot> {
    const responses = await this.#getFromAll("/snapshot");
    const snapshots = responses.map((response) => JSON.parse(response.text) as ProxySnapshot);
    return mergeSnapshots(snapshots, this.#stopping);
  }

  /** Fetches the running workers' traffic counts and rates and adds them up. */
  async traffic(): Promise<TrafficStats> {
    const responses = await this.#getFromAll("/traffic");
    return mergeTraffic(responses.map((response) => JSON.parse(response.text) as TrafficStats));
  }

  /**
   * Renders the running workers' metrics, each sample with a `worker` label, and the
   * supervisor's reload counters with `worker="supervisor"`, followed by its worker gauges and
   * restart counter.
   */
  async metrics(): Promise<string> {
    const responses = await this.#getFromAll("/metrics");
    const running = this.#slots.filter((slot) => slot.adminUrl !== undefined).length;
    const restarts = this.#slots.reduce((sum, slot) => sum + slot.restarts, 0);
    const reloads = new MetricWriter();
    this.reloads.render(reloads);
    const texts = responses.map((response) => ({ worker: String(response.index), text: response.text }));
    texts.push({ worker: "supervisor", text: reloads.text() });

    const own = new MetricWriter();
    own.family("cairn_workers", "gauge", "Worker processes by state: running, or starting after a crash.");
    own.sample("cairn_workers", { state: "running" }, running);
    own.sample("cairn_workers", { state: "starting" }, this.#slots.length - running);
    own.family("cairn_worker_restarts_total", "counter", "Worker process restarts after a worker exited.");
    own.sample("cairn_worker_restarts_total", {}, restarts);
    return mergeMetrics(texts) + own.text();
  }

  /**
   * Sends `POST /reload` to every running worker, so that each reads the config file again.
   * Resolves to the first worker's summary when all reloaded. Otherwise rejects with the reason
   * of each worker that failed.
   *
   * NOTE: when one worker fails, the workers that reloaded keep the new config, so workers can
   * run different configs until the next successful reload. Each worker also reads the file
   * itself, so an edit made after the supervisor validated the file can reach some workers only.
   */
  async reload(): Promise<ReloadSummary> {
    const running = this.#slots.filter((slot) => slot.adminUrl !== undefined);
    const results = await Promise.all(running.map(async (slot) => {
      try {
        const response = await this.#request(slot, "/reload", "POST");
        return { slot, ...parseReloadResponse(slot, response) };
      } catch (error) {
        return { slot, error: `${workerName(slot, slot.process)}: ${describeError(error)}` };
      }
    }));
    const errors = results.flatMap((result) => result.error === undefined ? [] : [result.error]);
    if (errors.length > 0) throw new Error(errors.join("; "));
    const first = results[0]?.summary;
    if (first === undefined) {
      throw new Error(
        "no worker is running, so no worker reloaded. A worker that starts later reads the current file",
      );
    }
    const { status: _status, ...summary } = first;
    return summary;
  }

  /**
   * Sends SIGTERM to every worker, which drains within `drainTimeoutMs`, and waits for them to
   * exit. A worker still running `EXIT_GRACE_MS` after that deadline gets SIGKILL. Resolves to
   * the number of workers killed.
   */
  async shutdown(drainTimeoutMs = 0): Promise<number> {
    this.#stopping = true;
    let killed = 0;
    await Promise.all(this.#slots.map(async (slot) => {
      if (slot.restartTimer !== undefined) clearTimeout(slot.restartTimer);
      const child = slot.process;
      if (child === undefined) return;
      child.kill("SIGTERM");
      let timer: ReturnType<typeof setTimeout> | undefined;
      const deadline = new Promise<"late">((resolve) => {
        timer = setTimeout(() => resolve("late"), drainTimeoutMs + EXIT_GRACE_MS);
      });
      const outcome = await Promise.race([child.exited, deadline]);
      clearTimeout(timer);
      if (outcome === "late") {
        killed++;
        child.kill("SIGKILL");
        await child.exited;
      }
    }));
    return killed;
  }

  #spawn(slot: WorkerSlot): Promise<void> {
    const { runtime } = this.#options;
    const started = new Promise<void>((resolve, reject) => {
      slot.onStarted = (error) => error === undefined ? resolve() : reject(error);
    });
    let child: WorkerProcess;
    // Per process, so that a line cut off by a crash never joins the next process's output.
    let partialStdout = "";
    try {
      child = runtime.spawnWorker({
        args: this.#options.args,
        env: { [WORKER_INDEX_ENV]: String(slot.index), [WORKER_TOKEN_ENV]: this.#token },
        accessFile: this.#options.accessFile,
        onStdout: (text) => {
          partialStdout = this.#forwardStdout(partialStdout + text);
        },
        onStderrLine: (line) => this.#onLine(slot, line),
      });
    } catch (error) {
      slot.onStarted = undefined;
      return Promise.reject(error);
    }
    slot.process = child;
    slot.startedAt = Date.now();
    slot.requestFailing = false;
    const timer = setTimeout(() => {
      const pending = slot.onStarted;
      slot.onStarted = undefined;
      const message = `${workerName(slot, child)} did not start within ${START_TIMEOUT_MS} ms`;
      // During `start` the rejection below reaches the caller, which logs it. A restarted worker
      // has no such caller, so the supervisor logs the timeout before #onExit logs the kill.
      if (this.#started) this.#options.log("error", `${message}: killing it`, { worker: slot.index, pid: child.pid });
      pending?.(new Error(message));
      child.kill("SIGKILL");
    }, START_TIMEOUT_MS);
    void child.exited.then((exit) => {
      clearTimeout(timer);
      this.#onExit(slot, child, exit);
    });
    return started.finally(() => clearTimeout(timer));
  }

  #onLine(slot: WorkerSlot, line: string): void {
    const { runtime } = this.#options;
    if (slot.adminUrl === undefined && line.includes('"cairn started"')) {
      try {
        const record = JSON.parse(line) as { message?: string; admin?: string };
        if (record.message === "cairn started" && record.admin !== undefined) {
          slot.adminUrl = `http://${record.admin}`;
          slot.onStarted?.();
          slot.onStarted = undefined;
          return;
        }
      } catch {
        // Not a JSON start line, so it is forwarded below like any other line.
      }
    }
    const tagged = line.startsWith("{") ? `{"worker":${slot.index},${line.slice(1)}` : `worker ${slot.index}: ${line}`;
    runtime.writeStderr(tagged + "\n");
  }

  /**
   * Writes the complete lines of `text`, a worker's standard output such as access-log lines, to
   * standard output, and returns the rest. Only the supervisor writes there, so lines of
   * different workers never mix: a pipe keeps only writes of up to 4096 bytes whole when several
   * processes write to it.
   */
  #forwardStdout(text: string): string {
    const end = text.lastIndexOf("\n") + 1;
    if (end === 0 && text.length < MAX_PARTIAL_STDOUT) return text;
    // A line longer than the limit is passed on in parts rather than held without bound.
    const cut = end === 0 ? text.length : end;
    this.#options.runtime.writeStdout(text.slice(0, cut));
    return text.slice(cut);
  }

  #onExit(slot: WorkerSlot, child: WorkerProcess, exit: WorkerExit): void {
    if (slot.process !== child) return;
    slot.process = undefined;
    slot.adminUrl = undefined;
    const { code, signal } = exit;
    const exitReason = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
    const pending = slot.onStarted;
    slot.onStarted = undefined;
    pending?.(new Error(`${workerName(slot, child)} ${exitReason} before it started`));
    if (this.#stopping || !this.#started) return;
    slot.crashes = Date.now() - slot.startedAt >= STABLE_RUN_MS ? 1 : slot.crashes + 1;
    this.#scheduleRestart(slot, `${workerName(slot, child)} ${exitReason}`, { pid: child.pid, code, signal });
  }

  /** Logs why `slot` stopped and restarts it after the back-off delay of its crashes in a row. */
  #scheduleRestart(slot: WorkerSlot, reason: string, fields: Record<string, unknown>): void {
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (slot.crashes - 1));
    this.#options.log("error", `${reason}: restarting it in ${delayMs} ms`, { worker: slot.index, ...fields });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#stopping) return;
      slot.restarts++;
      this.#spawn(slot).then(
        () => this.#options.log("info", `worker ${slot.index} started again`, { worker: slot.index, pid: slot.process?.pid }),
        (error) => this.#onRestartFailed(slot, error),
      );
    }, delayMs);
  }

  /**
   * Handles a restart that did not reach the start line. An exit or a start timeout goes through
   * #onExit, which logs it and schedules the next attempt. Only a spawn that threw is handled here.
   */
  #onRestartFailed(slot: WorkerSlot, error: unknown): void {
    if (this.#stopping || slot.process !== undefined || slot.restartTimer !== undefined) return;
    slot.crashes++;
    this.#scheduleRestart(slot, `worker ${slot.index} failed to start: ${describeError(error)}`, {});
  }

  /**
   * Sends `GET path` to every running worker and returns the successful responses. A worker that
   * fails or times out is left out of the result. Its first failure in a row is logged as a
   * warning, and its recovery at `info`, so that a hung worker polled by the dashboard does not
   * log a line at every poll.
   */
  async #getFromAll(path: string): Promise<{ index: number; text: string }[]> {
    const running = this.#slots.filter((slot) => slot.adminUrl !== undefined);
    const responses = await Promise.all(running.map(async (slot) => {
      let failure: string;
      try {
        const response = await this.#request(slot, path, "GET");
        if (response.ok) {
          this.#noteRequestSucceeded(slot);
          return { index: slot.index, text: response.text };
        }
        failure = `HTTP ${response.status}: ${response.text.trim().slice(0, 200)}`;
      } catch (error) {
        failure = describeError(error);
      }
      this.#noteRequestFailed(slot, path, failure);
      return undefined;
    }));
    return responses.filter((response) => response !== undefined);
  }

  #noteRequestFailed(slot: WorkerSlot, path: string, failure: string): void {
    if (slot.requestFailing) return;
    slot.requestFailing = true;
    this.#options.log(
      "warn",
      `${workerName(slot, slot.process)} failed GET ${path}, so the admin API leaves it out ` +
        `until it responds again: ${failure}`,
      { worker: slot.index, pid: slot.process?.pid, path },
    );
  }

  #noteRequestSucceeded(slot: WorkerSlot): void {
    if (!slot.requestFailing) return;
    slot.requestFailing = false;
    this.#options.log("info", `worker ${slot.index} responds to admin requests again`, {
      worker: slot.index,
      pid: slot.process?.pid,
    });
  }

  async #request(slot: WorkerSlot, path: string, method: string): Promise<WorkerResponse> {
    const response = await fetch(`${slot.adminUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.#token}` },
      signal: AbortSignal.timeout(WORKER_REQUEST_TIMEOUT_MS),
    });
    return { ok: response.ok, status: response.status, text: await response.text() };
  }
}

interface WorkerResponse {
  ok: boolean;
  status: number;
  text: string;
}

type WorkerReloadResult =
  | { summary: ReloadSummary & { status: string }; error?: undefined }
  | { summary?: undefined; error: string };

/**
 * Reads a worker's response to `POST /reload`: its summary when it reloaded, or an error that
 * names the worker and gives its message, its config problems or the HTTP status.
 */
function parseReloadResponse(
  slot: WorkerSlot,
  response: WorkerResponse,
): WorkerReloadResult {
  const worker = workerName(slot, slot.process);
  let body: { status?: string; message?: string; problems?: unknown };
  try {
    body = JSON.parse(response.text);
  } catch {
    return { error: `${worker}: HTTP ${response.status}: ${response.text.trim().slice(0, 200)}` };
  }
  if (body.status === "reloaded") return { summary: body as ReloadSummary & { status: string } };
  const detail = body.message ?? JSON.stringify(body.problems ?? body);
  return { error: `${worker}: ${detail}` };
}

/** Names a worker in messages: `worker 1 (pid 4242)`. */
function workerName(slot: WorkerSlot, process: WorkerProcess | undefined): string {
  return `worker ${slot.index} (pid ${process?.pid})`;
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}
