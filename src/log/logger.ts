import type { LogLevel } from "../config/schema.ts";
import type { ProxyError } from "../proxy/errors.ts";
import type { AccessRecord, ProxyEvents } from "../proxy/events.ts";

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/**
 * Access lines are written in batches, at most this long after the request ended, so a busy
 * proxy makes one write per batch instead of one per request.
 */
const ACCESS_FLUSH_MS = 100;
/** A batch is written at once when it reaches this many characters. */
const ACCESS_FLUSH_BYTES = 64 * 1024;

export interface LoggerOptions {
  /** Least severe level written to the diagnostic log. */
  level: LogLevel;
  /** Write one access line per request. */
  access: boolean;
  writeStdout(text: string): void;
  writeStderr(text: string): void;
}

/**
 * Writes the access log (one JSON line per request, on standard output, in batches) and the
 * diagnostic log (lifecycle events and errors as JSON lines with a level, on standard error,
 * at once).
 *
 * Level policy: `error` for failures of Cairn itself and of its config; `warn` for failed
 * exchanges caused by an upstream (connect failures, timeouts, invalid responses); `info` for
 * start, stop and reload; `debug` for client mistakes (invalid requests, client timeouts and
 * aborts), which a public listener sees all the time.
 */
export class Logger implements ProxyEvents {
  readonly options: LoggerOptions;
  #minRank: number;
  #pendingAccess = "";
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: LoggerOptions) {
    this.options = options;
    this.#minRank = LEVEL_RANK[options.level];
  }

  access(record: AccessRecord): void {
    if (!this.options.access) return;
    this.#pendingAccess += JSON.stringify(record) + "\n";
    if (this.#pendingAccess.length >= ACCESS_FLUSH_BYTES) this.flush();
    else this.#flushTimer ??= setTimeout(() => this.flush(), ACCESS_FLUSH_MS);
  }

  /** Writes access lines still held back. Call before the process exits. */
  flush(): void {
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    if (this.#pendingAccess.length === 0) return;
    const text = this.#pendingAccess;
    this.#pendingAccess = "";
    this.options.writeStdout(text);
  }

  exchangeError(
    error: ProxyError,
    context: { requestId: string; client: string; upstream?: string },
  ): void {
    this.log(error.source === "downstream" ? "debug" : error.source === "upstream" ? "warn" : "error", error.message, {
      code: error.code,
      source: error.source,
      ...context,
    });
  }

  connectionError(error: ProxyError, context: { client: string }): void {
    this.log(error.source === "internal" ? "error" : "debug", error.message, {
      code: error.code,
      source: error.source,
      ...context,
    });
  }

  /** Writes one diagnostic line when `level` is at or above the configured level. */
  log(level: LogLevel, message: string, fields: Record<string, unknown> = {}): void {
    if (LEVEL_RANK[level] < this.#minRank) return;
    const line = { time: new Date().toISOString(), level, message, ...fields };
    this.options.writeStderr(JSON.stringify(line) + "\n");
  }
}
