import { formatProblems } from "../config/load.ts";
import { sameValue } from "../config/same-value.ts";
import type { Config } from "../config/schema.ts";
import { describeError } from "../log/describe-error.ts";
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
  logger.log("warn", `config file watch failed for ${path}, retrying at each interval: ${describeError(error)}`, {
    path,
  });
}

/**
 * Warns when a reload changes the `admin` or `demo` section, whose listeners keep their
 * running addresses until a restart.
 */
export function warnRestartOnlyChanges(logger: Logger, running: Config, next: Config): void {
  if (!sameValue(running.admin, next.admin)) {
    logger.log("warn", "the admin section changed: the admin listener keeps its address and token until a restart");
  }
  if (!sameValue(running.demo, next.demo)) {
    logger.log("warn", "the demo section changed: the demo origin keeps its address until a restart");
  }
}
