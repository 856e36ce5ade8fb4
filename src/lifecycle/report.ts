import { formatProblems } from "../config/load.ts";
import type { Logger } from "../log/logger.ts";
import type { ReloadOutcome, ReloadTrigger } from "./reloader.ts";

/**
 * Logs a reload's outcome. The changes go to `info`, an invalid file or a failed reload to
 * `error`, and a reload without a config file to `warn`.
 */
export function logReload(
  logger: Logger,
  outcome: ReloadOutcome,
  trigger: ReloadTrigger,
  accessFile: string | undefined,
): void {
  switch (outcome.status) {
    case "reloaded":
      logger.log("info", `config reloaded on ${trigger}`, { ...outcome.summary, accessFile });
      return;
    case "invalid":
      logger.log("error", `config reload on ${trigger} rejected: the file is invalid, so the running config stays`, {
        problems: formatProblems(outcome.problems).trimEnd().split("\n"),
      });
      return;
    case "failed":
      logger.log("error", `config reload on ${trigger} failed, so the running config stays: ${outcome.message}`);
      return;
    case "unavailable":
      logger.log("warn", `config reload on ${trigger} ignored: ${outcome.message}`);
      return;
  }
}

/**
 * Logs a failed check of the config file watcher, such as a failed read. `ConfigReloader` reports
 * only the first failure of a run, and the watcher keeps reading at its interval.
 */
export function logWatchError(logger: Logger, error: unknown, path: string): void {
  const detail = error instanceof Error ? error.message : String(error);
  logger.log("warn", `config file watch failed for ${path}, retrying at each interval: ${detail}`, { path });
}

/** Formats a socket address as `host:port`, with brackets around IPv6, or a socket path. */
export function formatAddress(address: { hostname: string; port: number; family: string }): string {
  if (address.family === "unix") return address.hostname;
  return address.family === "IPv6" ? `[${address.hostname}]:${address.port}` : `${address.hostname}:${address.port}`;
}
