import { LineCounter, parseDocument, type YAMLError } from "yaml";
import type { SchemaProblem } from "./messages.ts";
import { type Config, validateConfig } from "./schema.ts";

/** One thing wrong with a configuration, with where it came from. */
export interface ConfigProblem {
  /** File name, or `command line` for a configuration built from flags. */
  source: string;
  /**
   * Path to the value, such as `routes[2].upstream`, or the flag, such as `--upstream`. Empty
   * for YAML syntax errors and for problems with the whole document.
   */
  path: string;
  message: string;
  /** 1-based line of a YAML syntax error. */
  line?: number;
  /** 1-based column of a YAML syntax error. */
  column?: number;
}

export type LoadResult = { ok: true; config: Config } | { ok: false; errors: ConfigProblem[] };

/** Command-line values that replace a configuration file. */
export interface FlagOptions {
  /** Listen address `HOST:PORT`. */
  listen: string;
  /** Peer URLs, balanced round robin. */
  upstreams: readonly string[];
}

/** Source name used in problems with a configuration built from command-line flags. */
export const COMMAND_LINE_SOURCE = "command line";

/** Name of the upstream that `configFromFlags` creates. */
export const FLAGS_UPSTREAM_NAME = "default";

/**
 * Parses and validates the YAML text of a configuration file. Returns the YAML syntax errors
 * with line and column, or when the YAML is valid, the schema problems with their paths (see
 * `validateConfig`). `sourceName` labels the problems, usually as the file path the user gave.
 */
export function parseConfigText(text: string, sourceName: string): LoadResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });

  // Warnings, such as an unknown tag, count as errors: the value would not be what was meant.
  const yamlErrors: YAMLError[] = [...document.errors, ...document.warnings];
  if (yamlErrors.length > 0) {
    const errors = yamlErrors.map((error): ConfigProblem => {
      const position = lineCounter.linePos(error.pos[0]);
      return {
        source: sourceName,
        path: "",
        message: error.message,
        line: position.line,
        column: position.col,
      };
    });
    return { ok: false, errors };
  }

  let data: unknown;
  try {
    data = document.toJS();
  } catch (error) {
    // toJS raises ReferenceError for an alias without an anchor and for too many aliases.
    if (error instanceof ReferenceError) {
      return { ok: false, errors: [{ source: sourceName, path: "", message: error.message }] };
    }
    throw error;
  }

  if (data === null || data === undefined) {
    const message = "the file is empty: it must define listeners, upstreams and routes";
    return { ok: false, errors: [{ source: sourceName, path: "", message }] };
  }

  const result = validateConfig(data);
  if (!result.ok) {
    return {
      ok: false,
      errors: result.errors.map((problem) => ({ source: sourceName, ...problem })),
    };
  }
  return result;
}

/**
 * Builds the configuration for `--listen` and `--upstream`: one listener, one upstream named
 * `default` balancing round robin over the URLs, one route for every request, and default
 * limits. It goes through the same validation as a file, and problems name the flag.
 */
export function configFromFlags(flags: FlagOptions): LoadResult {
  if (flags.upstreams.length === 0) {
    return {
      ok: false,
      errors: [{
        source: COMMAND_LINE_SOURCE,
        path: "--upstream",
        message: "missing: give at least one --upstream URL, such as http://127.0.0.1:3000",
      }],
    };
  }

  const input = {
    listeners: [{ address: flags.listen }],
    upstreams: {
      [FLAGS_UPSTREAM_NAME]: { peers: flags.upstreams.map((url) => ({ url })) },
    },
    routes: [{ upstream: FLAGS_UPSTREAM_NAME }],
  };
  const result = validateConfig(input);
  if (!result.ok) {
    return { ok: false, errors: result.errors.map(problemForFlags) };
  }
  return result;
}

/**
 * Renders problems one per line, each ending in a newline:
 * `cairn.yaml: routes[2].upstream: unknown upstream "api"`, or `cairn.yaml:3:1: message` for
 * YAML syntax errors.
 */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  let text = "";
  for (const problem of problems) {
    let location = problem.source;
    if (problem.line !== undefined) {
      location += `:${problem.line}:${problem.column ?? 1}`;
    }
    if (problem.path !== "") {
      location += `: ${problem.path}`;
    }
    text += `${location}: ${problem.message}\n`;
  }
  return text;
}

/** Replaces a schema path in the generated input with the flag that supplied the value. */
function problemForFlags(problem: SchemaProblem): ConfigProblem {
  let path = problem.path;
  if (path.startsWith("listeners[0]")) {
    path = "--listen";
  } else if (path.startsWith(`upstreams.${FLAGS_UPSTREAM_NAME}.peers`)) {
    path = "--upstream";
  }
  return { source: COMMAND_LINE_SOURCE, path, message: problem.message };
}
