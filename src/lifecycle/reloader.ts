import { type ConfigProblem, parseConfigText } from "../config/load.ts";
import type { Config } from "../config/schema.ts";
import type { ReloadSummary } from "../proxy/server.ts";

/** What asked for a reload, as the log names it. */
export type ReloadTrigger = "SIGHUP" | "file change" | "admin API";

export type ReloadOutcome =
  | { status: "reloaded"; summary: ReloadSummary }
  /** The file does not validate; the running config stays in force. */
  | { status: "invalid"; problems: ConfigProblem[] }
  /** The file could not be read, or the new config could not be applied; the running one stays. */
  | { status: "failed"; message: string }
  /** There is nothing to reload: the config came from command-line flags. */
  | { status: "unavailable"; message: string };

export interface ReloaderOptions {
  /** The config file, or undefined when the config came from command-line flags. */
  path: string | undefined;
  /** The text the running config was loaded from, so the watcher sees changes from there on. */
  initialText: string | undefined;
  readTextFile(path: string): Promise<string>;
  /** Switches the running proxy to `config`; rejects when it cannot, leaving the old one. */
  apply(config: Config): Promise<ReloadSummary>;
  /** Receives every outcome, after the switch or the rejection. */
  onOutcome(outcome: ReloadOutcome, trigger: ReloadTrigger): void;
}

/**
 * Reads, validates and applies the config file again, one reload at a time: a reload asked for
 * while another runs starts after it. Optionally watches the file by reading it at an interval
 * and reloads when its text changes, which also catches a file replaced by a rename or a
 * Kubernetes ConfigMap update, where file-system events would follow the old file.
 */
export class ConfigReloader {
  readonly #options: ReloaderOptions;
  #queue: Promise<unknown> = Promise.resolve();
  /** The text last read, by a reload or by the watcher. */
  #lastText: string | undefined;
  #watchTimer: ReturnType<typeof setTimeout> | undefined;
  /** The interval the watcher reads at, or undefined when it does not run. */
  #watchIntervalMs: number | undefined;

  constructor(options: ReloaderOptions) {
    this.#options = options;
    this.#lastText = options.initialText;
  }

  /** Reloads the config file once the reloads asked for earlier have finished. */
  reload(trigger: ReloadTrigger): Promise<ReloadOutcome> {
    const outcome = this.#queue.then(() => this.#reloadNow(trigger));
    this.#queue = outcome;
    return outcome;
  }

  /**
   * Reads the file every `intervalMs` and reloads when its text differs from the text last read.
   * A file that cannot be read, such as one being replaced, is read again at the next interval.
   * Calling it again changes the interval from the next read on.
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
      } catch {
        // Read again at the next interval.
      }
      if (this.#watchIntervalMs !== undefined && this.#watchTimer === undefined) {
        this.#watchTimer = setTimeout(check, this.#watchIntervalMs);
      }
    };
    this.#watchTimer = setTimeout(check, intervalMs);
  }

  /** Stops watching the file; a reload under way finishes. */
  stopWatching(): void {
    this.#watchIntervalMs = undefined;
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
        message: "the config came from command-line flags, so there is no file to reload; " +
          "restart Cairn to change it",
      };
    }
    let text: string;
    try {
      text = await this.#options.readTextFile(path);
    } catch (error) {
      return { status: "failed", message: `cannot read config file ${path}: ${describe(error)}` };
    }
    // Set before validating, so the watcher does not retry a file that failed until it changes.
    this.#lastText = text;
    const loaded = parseConfigText(text, path);
    if (!loaded.ok) return { status: "invalid", problems: loaded.errors };
    try {
      return { status: "reloaded", summary: await this.#options.apply(loaded.config) };
    } catch (error) {
      return { status: "failed", message: describe(error) };
    }
  }
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
