import type { ReloadSummary } from "../proxy/server.ts";
import type { ProxySnapshot } from "../proxy/snapshot.ts";
import type { Runtime, WorkerProcess } from "../runtime.ts";
import { mergeMetrics } from "./merge-metrics.ts";
import { mergeSnapshots, mergeTraffic } from "./merge-snapshots.ts";
import type { TrafficStats } from "../admin/metrics.ts";

/** Environment variable that tells a process it is worker number N of a supervisor. */
export const WORKER_INDEX_ENV = "CAIRN_WORKER_INDEX";
/** Environment variable with the bearer token of a worker's private admin API. */
export const WORKER_TOKEN_ENV = "CAIRN_WORKER_TOKEN";

/** Longest wait for a worker's start line. */
const START_TIMEOUT_MS = 30_000;
/** Longest wait for one request to a worker's admin API. */
const WORKER_REQUEST_TIMEOUT_MS = 5_000;
/** First wait before a crashed worker starts again; it doubles with each crash in a row. */
const RESTART_BASE_MS = 250;
const RESTART_MAX_MS = 15_000;
/** A worker that ran this long before it crashed starts again after `RESTART_BASE_MS`. */
const STABLE_RUN_MS = 30_000;
/** Time a worker gets after its drain deadline before it is killed. */
const EXIT_GRACE_MS = 5_000;

export interface SupervisorOptions {
  runtime: Runtime;
  count: number;
  /** The command-line arguments every worker gets. */
  args: string[];
  /** The access log file, when workers append to one. */
  accessFile?: string;
  /** Writes one diagnostic line of the supervisor. */
  log(level: "info" | "warn" | "error", message: string, fields?: Record<string, unknown>): void;
}

interface WorkerSlot {
  readonly index: number;
  process: WorkerProcess | undefined;
  /** Base URL of the worker's private admin API, known once it logged its start. */
  adminUrl: string | undefined;
  startedAt: number;
  /** Crashes in a row, for the restart back-off. */
  crashes: number;
  restarts: number;
  restartTimer: ReturnType<typeof setTimeout> | undefined;
  onStarted: ((error?: Error) => void) | undefined;
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
 * its own. The supervisor passes the workers' diagnostic lines on with a `worker` field, starts
 * a crashed worker again with back-off, and answers for all of them: merged snapshots and
 * metrics, reloads sent to every worker, and shutdown.
 */
export class Supervisor {
  readonly #options: SupervisorOptions;
  readonly #token: string;
  readonly #slots: WorkerSlot[];
  #stopping = false;
  /** Set once every worker started: from then on, a worker that exits is started again. */
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
    }));
  }

  /**
   * Starts every worker and waits until each has logged its start. Rejects, after stopping the
   * others, when one exits first or does not start in time; its own lines say why.
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

  /** Workers running now, with their process ids and restarts. */
  workers(): WorkerStatus[] {
    return this.#slots.map((slot) => ({
      index: slot.index,
      pid: slot.process?.pid,
      running: slot.adminUrl !== undefined,
      restarts: slot.restarts,
    }));
  }

  /** Merges the snapshots of the running workers. */
  async snapshot(): Promise<ProxySnapshot> {
    const answers = await this.#askAll("/snapshot");
    const snapshots = answers.map((answer) => JSON.parse(answer.text) as ProxySnapshot);
    return mergeSnapshots(snapshots, this.#stopping);
  }

  /** Adds up the running workers' traffic counts and rates. */
  async traffic(): Promise<TrafficStats> {
    const answers = await this.#askAll("/traffic");
    return mergeTraffic(answers.map((answer) => JSON.parse(answer.text) as TrafficStats));
  }

  /** The running workers' metrics with a `worker` label, then the supervisor's own. */
  async metrics(): Promise<string> {
    const answers = await this.#askAll("/metrics");
    const running = this.#slots.filter((slot) => slot.adminUrl !== undefined).length;
    const restarts = this.#slots.reduce((sum, slot) => sum + slot.restarts, 0);
    return mergeMetrics(answers.map((answer) => ({ worker: answer.index, text: answer.text }))) +
      "# HELP cairn_workers Worker processes by state: running, or starting after a crash.\n" +
      "# TYPE cairn_workers gauge\n" +
      `cairn_workers{state="running"} ${running}\n` +
      `cairn_workers{state="starting"} ${this.#slots.length - running}\n` +
      "# HELP cairn_worker_restarts_total Worker processes started again after they exited.\n" +
      "# TYPE cairn_worker_restarts_total counter\n" +
      `cairn_worker_restarts_total ${restarts}\n`;
  }

  /**
   * Asks every running worker to reload the config file. Resolves to the first worker's summary
   * when all reloaded; rejects with each failing worker's reason otherwise.
   */
  async reload(): Promise<ReloadSummary> {
    const running = this.#slots.filter((slot) => slot.adminUrl !== undefined);
    const results = await Promise.all(running.map(async (slot) => {
      try {
        const response = await this.#request(slot, "/reload", "POST");
        const body = JSON.parse(response.text);
        if (body.status === "reloaded") return { slot, summary: body as ReloadSummary & { status: string } };
        const detail = body.message ?? JSON.stringify(body.problems ?? body);
        return { slot, error: `worker ${slot.index}: ${detail}` };
      } catch (error) {
        return { slot, error: `worker ${slot.index}: ${describe(error)}` };
      }
    }));
    const errors = results.flatMap((result) => result.error === undefined ? [] : [result.error]);
    if (errors.length > 0) throw new Error(errors.join("; "));
    const first = results[0]?.summary;
    if (first === undefined) throw new Error("no worker is running");
    const { status: _status, ...summary } = first;
    return summary;
  }

  /**
   * Sends SIGTERM to every worker, which drains within `drainTimeoutMs`, and waits for them to
   * exit; a worker still running `EXIT_GRACE_MS` later is killed. Resolves to how many were.
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
    try {
      child = runtime.spawnWorker({
        args: this.#options.args,
        env: { [WORKER_INDEX_ENV]: String(slot.index), [WORKER_TOKEN_ENV]: this.#token },
        accessFile: this.#options.accessFile,
        onStderrLine: (line) => this.#onLine(slot, line),
      });
    } catch (error) {
      slot.onStarted = undefined;
      return Promise.reject(error);
    }
    slot.process = child;
    slot.startedAt = Date.now();
    const timer = setTimeout(() => {
      const pending = slot.onStarted;
      slot.onStarted = undefined;
      pending?.(new Error(`worker ${slot.index} did not start within ${START_TIMEOUT_MS} ms`));
      child.kill("SIGKILL");
    }, START_TIMEOUT_MS);
    void child.exited.then((code) => {
      clearTimeout(timer);
      this.#onExit(slot, child, code);
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
        // Not a start line; passed on below.
      }
    }
    const tagged = line.startsWith("{") ? `{"worker":${slot.index},${line.slice(1)}` : `worker ${slot.index}: ${line}`;
    runtime.writeStderr(tagged + "\n");
  }

  #onExit(slot: WorkerSlot, child: WorkerProcess, code: number | null): void {
    if (slot.process !== child) return;
    slot.process = undefined;
    slot.adminUrl = undefined;
    const how = code === null ? "was killed by a signal" : `exited with code ${code}`;
    const pending = slot.onStarted;
    slot.onStarted = undefined;
    pending?.(new Error(`worker ${slot.index} ${how} before it started`));
    if (this.#stopping || !this.#started) return;
    slot.crashes = Date.now() - slot.startedAt >= STABLE_RUN_MS ? 1 : slot.crashes + 1;
    const delayMs = Math.min(RESTART_MAX_MS, RESTART_BASE_MS * 2 ** (slot.crashes - 1));
    this.#options.log("error", `worker ${slot.index} (pid ${child.pid}) ${how}: starting it again in ${delayMs} ms`, {
      worker: slot.index,
      pid: child.pid,
      code,
    });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.#stopping) return;
      slot.restarts++;
      this.#spawn(slot).then(
        () => this.#options.log("info", `worker ${slot.index} started again`, { worker: slot.index, pid: slot.process?.pid }),
        () => {
          // #onExit logged the exit and scheduled the next attempt.
        },
      );
    }, delayMs);
  }

  /** Sends `path` to every running worker; a worker that does not answer is left out. */
  async #askAll(path: string): Promise<{ index: number; text: string }[]> {
    const running = this.#slots.filter((slot) => slot.adminUrl !== undefined);
    const answers = await Promise.all(running.map(async (slot) => {
      try {
        const response = await this.#request(slot, path, "GET");
        return response.ok ? { index: slot.index, text: response.text } : undefined;
      } catch {
        return undefined;
      }
    }));
    return answers.filter((answer): answer is { index: number; text: string } => answer !== undefined);
  }

  async #request(slot: WorkerSlot, path: string, method: string): Promise<{ ok: boolean; text: string }> {
    const response = await fetch(`${slot.adminUrl}${path}`, {
      method,
      headers: { Authorization: `Bearer ${this.#token}` },
      signal: AbortSignal.timeout(WORKER_REQUEST_TIMEOUT_MS),
    });
    return { ok: response.ok, text: await response.text() };
  }
}

function randomToken(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return Array.from(bytes, (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
