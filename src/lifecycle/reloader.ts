import { type ConfigProblem, parseConfigText } from "../config/load.ts";
import type { Config, ReloadConfig } from "../config/schema.ts";
import { describeError } from "../log/describe-error.ts";
import type { ReloadSummary } from "../proxy/server.ts";

/** Source of a reload request, as the log names it. */
export type ReloadTrigger = "SIGHUP" | "file change" | "admin API" | "supervisor";

export type ReloadOutcome =
  | { status: "reloaded"; summary: ReloadSummary }
  /** The file is invalid, so the running config stays in force. */
  | { status: "invalid"; problems: ConfigProblem[] }
  /** Reading the file or applying the new config failed, so the running config stays. */
  | { status: "failed"; message: string }
  /** The config came from command-line flags, so there is no file to reload. */
  | { status: "unavailable"; message: string };

export interface ReloaderOptions {
  /** The config file, or undefined when the config came from command-line flags. */
  path: string | undefined;
  /** Text of the running config, which the watcher compares each read against. */
  initialText: string | undefined;
  readTextFile(path: string): Promise<string>;
  /** Switches the running proxy to `config`. Rejects when it cannot, and then keeps the old one. */
  apply(config: Config): Promise<ReloadSummary>;
  /** Receives every outcome, after the switch or the rejection. */
  onOutcome(outcome: ReloadOutcome, trigger: ReloadTrigger): void;
  /**
   * Receives the error of a failed watcher check, usually a failed read of `path`. It is called
   * once per run of failed checks, not at every interval, and the watcher keeps reading.
   */
  onWatchError?(error: unknown, path: string): void;
}

/**
 * Reads, validates and applies the config file again, one reload at a time. A reload requested
 * while another runs starts after it. Optionally watches the file by reading it at an interval
 * and reloads when its text changes. Polling also catches a file replaced by a rename or a
 * Kubernetes ConfigMap update, where file-system events would follow the old file.
 */
export class ConfigReloader {
  readonly #options: ReloaderOptions;
  #queue: Promise<unknown> = Promise.resolve();
  /** The text last read, by a reload or by the watcher. */
  #lastText: string | undefined;
  #watchTimer: ReturnType<typeof setTimeout> | undefined;
  /** Interval between the watcher's reads, or undefined when the watcher is stopped. */
  #watchIntervalMs: number | undefined;
  /** Set after a failed watcher check, so that `onWatchError` runs once per run of failures. */
  #watchFailing = false;

  constructor(options: ReloaderOptions) {
    this.#options = options;
    this.#lastText = options.initialText;
  }

  /** Reloads the config file once the reloads requested earlier have finished. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const outcome = this.#queue.then(() => this.#reloadNow(trigger));
    // A reload that rejects (only when `onOutcome` throws) must not cancel the ones queued after it.
    this.#queue = outcome.catch(() => undefined);
    return outcome;
  }

  /** Starts, changes or stops the file watch as the `reload` section of a config sets it. */
  configureWatch(settings: ReloadConfig): void {
    if (settings.watch) this.watch(settings.watchIntervalMs);
    else this.stopWatching();
  }

  /**
   * Reads the file every `intervalMs` and reloads when its text differs from the text last read.
   * A file that cannot be read, such as one being replaced, is read again at the next interval.
   * Calling `watch` again changes the interval from the next read on.
   */
  watch(intervalMs: number): void {
    const path = this.#options.path;
    if (path === undefined) return;
    const running = this.#watchIntervalMs !== undefined;
    this.#watchIntervalMs = intervalMs;
    if (running) return;
    const check = async () => {
      this.#watchTimer = undefined;
      try {
        const text = await this.#options.readTextFile(path);
        if (text !== this.#lastText && this.#watchIntervalMs !== undefined) await this.reload("file change");
        this.#watchFailing = false;
      } catch (error) {
        // The next interval reads the file again. Report only the first failure of a run, so
        // that a missing file does not log a line at every interval.
        if (!this.#watchFailing) this.#options.onWatchError?.(error, path);
        this.#watchFailing = true;
      }
      if (this.#watchIntervalMs !== undefined && this.#watchTimer === undefined) {
        this.#watchTimer = setTimeout(check, this.#watchIntervalMs);
      }
    };
    this.#watchTimer = setTimeout(check, intervalMs);
  }

  /** Stops watching the file. A reload under way still finishes. */
  stopWatching(): void {
    this.#watchIntervalMs = undefined;
    this.#watchFailing = false;
    if (this.#watchTimer !== undefined) clearTimeout(this.#watchTimer);
    this.#watchTimer = undefined;
  }

  async #reloadNow(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const outcome = await this.#attempt();
    this.#options.onOutcome(outcome, trigger);
    return outcome;
  }

  async #attempt(): Promise<ReloadOutcome> {
    const path = this.#options.path;
    if (path === undefined) {
      return {
        status: "unavailable",
        message: "the config came from command-line flags, so there is no file to reload. " +
          "Restart Cairn to change it",
      };
    }
    let text: string;
    try {
      text = await this.#options.readTextFile(path);
    } catch (error) {
      return { status: "failed", message: `cannot read config file ${path}: ${describeError(error)}` };
    }
    // Set before validating, so that the watcher retries an invalid file only after it changes.
    this.#lastText = text;
    const loaded = parseConfigText(text, path);
    if (!loaded.ok) return { status: "invalid", problems: loaded.errors };
    try {
      return { status: "reloaded", summary: await this.#options.apply(loaded.config) };
    } catch (error) {
      return { status: "failed", message: describeError(error) };
    }
  }
}
