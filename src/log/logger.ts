import type { AccessLogFormat, LogLevel } from "../config/schema.ts";
import type { ProxyError } from "../proxy/errors.ts";
import type {
  AccessRecord,
  DiscoveryChange,
  PeerHealthChange,
  ProxyEvents,
  RetryRecord,
} from "../proxy/events.ts";
import { formatCombined } from "./combined.ts";

/** Formats an access record as one JSON line, with the start time first as ISO 8601 `time`. */
function formatJson(record: AccessRecord): string {
  const { startTime, ...fields } = record;
  return JSON.stringify({ time: new Date(startTime).toISOString(), ...fields }) + "\n";
}

const LEVEL_RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** Level of a failed exchange's log line, by the side the error came from. */
const LEVEL_BY_SOURCE: Record<ProxyError["source"], LogLevel> = {
  downstream: "debug",
  upstream: "warn",
  internal: "error",
};

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
  /** Format of access lines; `json` when not given. */
  format?: AccessLogFormat;
  /** Writes a batch of access lines: to standard output or to `logging.accessFile`. */
  writeAccess(text: string): void;
  writeStderr(text: string): void;
}

/**
 * Writes the access log (one JSON or combined-format line per request, in batches, through
 * `writeAccess`) and the diagnostic log (lifecycle events and errors as JSON lines with a level,
 * on standard error, at once).
 *
 * Level policy: `error` for failures of Cairn itself and of its config; `warn` for failed
 * exchanges caused by an upstream (connect failures, timeouts, invalid responses), retries on
 * the next peer, peers leaving the rotation and failed name resolutions; `info` for start, stop
 * and reload, peers rejoining the rotation and peer sets changed by discovery; `debug` for
 * client mistakes (invalid requests, client timeouts and aborts), which a public listener sees
 * all the time, and for retries on a new connection after a stale pooled one.
 */
export class Logger implements ProxyEvents {
  readonly options: LoggerOptions;
  #minRank: number;
  #pendingAccess = "";
  #flushTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: LoggerOptions) {
    // A copy, because `configure` changes it.
    this.options = { ...options };
    this.#minRank = LEVEL_RANK[options.level];
  }

  /** Applies the logging settings of a reloaded config; access lines held back go out first. */
  configure(settings: { level: LogLevel; access: boolean; format: AccessLogFormat }): void {
    this.flush();
    this.options.level = settings.level;
    this.options.access = settings.access;
    this.options.format = settings.format;
    this.#minRank = LEVEL_RANK[settings.level];
  }

  access(record: AccessRecord): void {
    if (!this.options.access) return;
    const line = this.options.format === "combined" ? formatCombined(record) : formatJson(record);
    this.#pendingAccess += line;
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
    this.options.writeAccess(text);
  }

  exchangeError(
    error: ProxyError,
    context: { requestId: string; client: string; upstream?: string },
  ): void {
    const level: LogLevel = LEVEL_BY_SOURCE[error.source];
    this.log(level, error.message, {
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

  retry(record: RetryRecord): void {
    const { kind, reason, ...fields } = record;
    const message = kind === "next_peer"
      ? `retrying on the next peer: ${reason}`
      : `retrying on a new connection: ${reason}`;
    this.log(kind === "next_peer" ? "warn" : "debug", message, { ...fields, kind });
  }

  healthChanged(change: PeerHealthChange): void {
    const { peer, detail } = change;
    const fields = { ...change };
    switch (change.kind) {
      case "unhealthy":
        this.log("warn", `peer ${peer} failed its health checks and left the rotation: ${detail}`, fields);
        return;
      case "healthy":
        this.log("info", `peer ${peer} passed its health checks and rejoined the rotation`, fields);
        return;
      case "ejected":
        this.log("warn", `peer ${peer} ejected for ${change.durationMs} ms after failed requests: ${detail}`, fields);
        return;
      case "ejection_ended":
        this.log("info", `ejection of peer ${peer} ended: its next request is a trial`, fields);
        return;
      case "disabled":
        this.log("warn", `peer ${peer} disabled`, fields);
        return;
      case "enabled":
        this.log("info", `peer ${peer} enabled`, fields);
        return;
    }
  }

  discoveryChanged(change: DiscoveryChange): void {
    this.log("info", `discovery changed the peers of upstream ${change.upstreamName}`, { ...change });
  }

  discoveryError(error: Error, context: { upstreamName: string; hostname: string }): void {
    this.log("warn", `resolving ${context.hostname} failed, so its peers keep their last addresses: ${error.message}`, context);
  }

  /**
   * Writes one diagnostic line when `level` is at or above the configured level, or when
   * `always` is set, as for the start line a worker's supervisor waits for.
   */
  log(level: LogLevel, message: string, fields: Record<string, unknown> = {}, always = false): void {
    if (LEVEL_RANK[level] < this.#minRank && !always) return;
    const line = { time: new Date().toISOString(), level, message, ...fields };
    this.options.writeStderr(JSON.stringify(line) + "\n");
  }
}
