import { parseListenAddress } from "../config/address.ts";
import { editDistance } from "../config/messages.ts";

/** Configuration file loaded when neither `--config` nor `--listen` is given. */
export const DEFAULT_CONFIG_PATH = "config/cairn.yaml";

/** The parsed command line: run, print help or the version, or report a usage error. */
export type ParsedArgs =
  | {
    kind: "run";
    /** Path given with `--config`. Without it and without `listen`, use `DEFAULT_CONFIG_PATH`. */
    configPath?: string;
    /** Address given with `--listen`; when set, `upstreams` is non-empty and there is no file. */
    listen?: string;
    /** URLs given with `--upstream`, in order. */
    upstreams: string[];
    /** Address given with `--admin`, already checked to be a valid `HOST:PORT`. */
    admin?: string;
    /** Whether `--test` was given: check the configuration and exit without serving. */
    test: boolean;
    /** Processes given with `--workers`; 1 when absent, which serves from this process. */
    workers: number;
  }
  | { kind: "help" }
  | { kind: "version" }
  | { kind: "error"; message: string };

/** Long options, which an unknown option is compared with to suggest the intended one. */
const LONG_OPTIONS = [
  "--help",
  "--version",
  "--test",
  "--config",
  "--listen",
  "--upstream",
  "--admin",
  "--workers",
];

/** Most worker processes `--workers` accepts. */
export const MAX_WORKERS = 256;

/**
 * Parses the arguments after the program name. Options take their value as the next argument
 * or after `=` (`--config PATH`, `--config=PATH`). `--help` wins over everything else and
 * `--version` over everything but `--help`, so both work even next to a mistake. Otherwise the
 * first mistake is reported.
 */
export function parseArgs(args: readonly string[]): ParsedArgs {
  let configPath: string | undefined;
  let listen: string | undefined;
  let admin: string | undefined;
  let workers: number | undefined;
  const upstreams: string[] = [];
  let test = false;
  let help = false;
  let version = false;
  let error: string | undefined;

  let index = 0;
  while (index < args.length) {
    const arg = args[index];
    index++;
    // `deno task serve -- --listen ...` passes the separator through; Cairn takes no
    // positional arguments, so it is skipped.
    if (arg === "--") continue;
    const equals = arg.startsWith("--") ? arg.indexOf("=") : -1;
    const flag = equals === -1 ? arg : arg.slice(0, equals);
    const inlineValue = equals === -1 ? undefined : arg.slice(equals + 1);

    // Reads the option's value from after `=`, or else from the next argument unless that
    // argument is itself an option.
    const takeValue = (placeholder: string): string | undefined => {
      let value = inlineValue;
      const next = args[index];
      // A negative number is taken as a value, so that its error names the number.
      if (value === undefined && next !== undefined && (!next.startsWith("-") || /^-\d/.test(next))) {
        value = next;
        index++;
      }
      if (value === undefined || value === "") {
        error ??= `${flag} requires a value: ${flag} ${placeholder}`;
        return undefined;
      }
      return value;
    };
    const rejectValue = (): void => {
      if (inlineValue !== undefined) {
        error ??= `${flag} does not take a value: remove "=${inlineValue}"`;
      }
    };

    switch (flag) {
      case "--help":
      case "-h":
        rejectValue();
        help = true;
        break;
      case "--version":
      case "-v":
        rejectValue();
        version = true;
        break;
      case "--test":
        rejectValue();
        test = true;
        break;
      case "--config": {
        const value = takeValue("PATH");
        if (value !== undefined && configPath !== undefined) {
          error ??= `--config is given twice ("${configPath}" and "${value}"): give it once`;
        }
        configPath ??= value;
        break;
      }
      case "--listen": {
        const value = takeValue("HOST:PORT");
        if (value !== undefined && listen !== undefined) {
          error ??= `--listen is given twice ("${listen}" and "${value}"): give it once`;
        }
        listen ??= value;
        break;
      }
      case "--admin": {
        const value = takeValue("HOST:PORT");
        if (value !== undefined && admin !== undefined) {
          error ??= `--admin is given twice ("${admin}" and "${value}"): give it once`;
        }
        if (value !== undefined) {
          const parsed = parseListenAddress(value);
          if (!parsed.ok) error ??= `--admin: ${parsed.message}`;
        }
        admin ??= value;
        break;
      }
      case "--workers": {
        const value = takeValue("N");
        if (value !== undefined && workers !== undefined) {
          error ??= `--workers is given twice ("${workers}" and "${value}"): give it once`;
        }
        if (value !== undefined) {
          const count = /^[0-9]+$/.test(value) ? Number(value) : NaN;
          if (!(count >= 1 && count <= MAX_WORKERS)) {
            error ??= `--workers takes a whole number from 1 to ${MAX_WORKERS}, not "${value}"`;
          }
          workers ??= count;
        }
        break;
      }
      case "--upstream": {
        const value = takeValue("URL");
        if (value !== undefined) {
          upstreams.push(value);
        }
        break;
      }
      default:
        // The caller follows this message with a pointer to --help, so it does not repeat one.
        error ??= arg.startsWith("-")
          ? unknownOptionMessage(flag)
          : `unexpected argument "${arg}": to load a configuration file, use --config ${arg}`;
    }
  }

  if (help) {
    return { kind: "help" };
  }
  if (version) {
    return { kind: "version" };
  }

  if (error === undefined) {
    if (listen !== undefined && upstreams.length === 0) {
      error = "--listen needs at least one --upstream URL to send requests to";
    } else if (listen === undefined && upstreams.length > 0) {
      error = "--upstream needs --listen HOST:PORT to accept requests on";
    } else if (listen !== undefined && configPath !== undefined) {
      error = "--config cannot be combined with --listen and --upstream: use either a " +
        "configuration file or the flags";
    }
  }
  if (error !== undefined) {
    return { kind: "error", message: error };
  }

  const result: ParsedArgs = { kind: "run", upstreams, test, workers: workers ?? 1 };
  if (configPath !== undefined) {
    result.configPath = configPath;
  }
  if (listen !== undefined) {
    result.listen = listen;
  }
  if (admin !== undefined) {
    result.admin = admin;
  }
  return result;
}

/**
 * Builds the message for an unknown option, suggesting the long option it most likely misspells:
 * at most one edit away for names of up to four letters, two edits for longer ones. `-config`
 * suggests `--config`. A single letter, such as `-x`, gets no suggestion, because too many
 * options are one edit away from it.
 */
function unknownOptionMessage(flag: string): string {
  const name = flag.replace(/^-+/, "").toLowerCase();
  let suggestion: string | undefined;
  if (name.length > 1) {
    const maxDistance = name.length <= 4 ? 1 : 2;
    let bestDistance = maxDistance + 1;
    for (const option of LONG_OPTIONS) {
      const distance = editDistance(name, option.slice(2));
      if (distance < bestDistance) {
        suggestion = option;
        bestDistance = distance;
      }
    }
  }
  if (suggestion === undefined) {
    return `unknown option "${flag}"`;
  }
  return `unknown option "${flag}": did you mean "${suggestion}"?`;
}

/** Returns the text that `--help` prints, with lines ending in `\n`. */
export function helpText(programName: string): string {
  const p = programName;
  return `Cairn, an HTTP/1.1 reverse proxy.

Usage:
  ${p} [--config PATH] [--admin HOST:PORT] [--workers N] [--test]
  ${p} --listen HOST:PORT --upstream URL [--upstream URL]...
      [--admin HOST:PORT] [--workers N] [--test]
  ${p} --help | --version

With no arguments, ${p} loads ${DEFAULT_CONFIG_PATH} and serves it. That path,
and a relative --config PATH, are resolved from the working directory, not
from the directory ${p} is installed in.

Options:
  --config PATH       Load the configuration from the YAML file at PATH
                      (default: ${DEFAULT_CONFIG_PATH}). Not with --listen.
  --test              Check the configuration, print any problems and exit
                      without listening.
  --listen HOST:PORT  Serve without a configuration file, listening on
                      HOST:PORT. Write IPv6 in brackets: [::1]:8080.
                      Requires --upstream.
  --upstream URL      Send every request to this http:// or https:// origin.
                      Repeat it to balance round robin over several origins.
                      Requires --listen.
  --admin HOST:PORT   Serve the admin API (/healthz, /readyz, /status,
                      /metrics, a status page at /, POST /reload) on
                      HOST:PORT, replacing admin.address of the
                      configuration. An address other than loopback needs
                      admin.tokenEnv in the configuration file.
  --workers N         Serve from N processes that share the listeners' ports
                      (SO_REUSEPORT on Bun and Deno, the cluster module on
                      Node), under this one, which restarts a crashed
                      worker and serves the admin API for all of them.
                      Listeners need fixed ports. Default: 1, this process.
  -v, --version       Print the version and exit.
  -h, --help          Print this help and exit.

Options that take a value also accept it after "=", as in --config=PATH.
With --listen, every limit and timeout has its default; see config/README.md.

Signals: SIGTERM and SIGINT drain and stop; SIGHUP reloads the configuration
file after checking it, and reopens the access log file.

Examples:
  ${p}
  ${p} --config config/cairn.yaml
  ${p} --listen 127.0.0.1:8081 --upstream http://127.0.0.1:3000
  ${p} --test --config x.yaml
  ${p} --config config/cairn.yaml --workers 2
`;
}
