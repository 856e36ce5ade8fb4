import { type Document, LineCounter, parseDocument, type YAMLError } from "yaml";
import { parsePeerUrl } from "./address.ts";
import { parsePath, type SchemaProblem } from "./messages.ts";
import { type Config, validateConfig } from "./schema.ts";
import { findPathOffset } from "./source-position.ts";

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
  /** 1-based line of a YAML syntax error, or of the value that `path` names when known. */
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
 * `validateConfig`) in the order of their lines. `sourceName` labels the problems, usually as
 * the file path the user gave.
 */
export function parseConfigText(text: string, sourceName: string): LoadResult {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false });

  // Warnings, such as an unknown tag, count as errors: the value would not be what was meant.
  const yamlErrors: YAMLError[] = [...document.errors, ...document.warnings];
  if (yamlErrors.length > 0) {
    const errors = yamlErrors.map((error): ConfigProblem => {
      const position = lineCounter.linePos(error.pos[0]);
      const hint = unquotedIpv6Hint(lineText(text, lineCounter, position.line));
      return {
        source: sourceName,
        path: "",
        message: hint === undefined ? error.message : `${error.message}: ${hint}`,
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
    return { ok: false, errors: locateProblems(result.errors, document, lineCounter, sourceName) };
  }
  return result;
}

/**
 * An IPv6 listen address in brackets at the start of a value, such as `[::1]:8090`. Unquoted,
 * YAML reads the `[` as the start of a flow list and fails at the `:` after the `]`.
 */
const UNQUOTED_IPV6_PATTERN = /(?:^|:|-)\s+(\[[0-9A-Fa-f.]*:[0-9A-Fa-f.:]*\]:[^\s,\]}#]*)/;

/** Returns advice to quote an unquoted bracketed IPv6 address on `line`, if it has one. */
function unquotedIpv6Hint(line: string): string | undefined {
  const address = UNQUOTED_IPV6_PATTERN.exec(line)?.[1];
  if (address === undefined) {
    return undefined;
  }
  return `quote the address, as in "${address}", because YAML reads an unquoted "[" as the ` +
    `start of a list`;
}

/** Returns the text of the 1-based line `line`, without its line break. */
function lineText(text: string, lineCounter: LineCounter, line: number): string {
  const start = lineCounter.lineStarts[line - 1] ?? text.length;
  const end = lineCounter.lineStarts[line] ?? text.length;
  return text.slice(start, end).replace(/\r?\n$/, "");
}

/**
 * Adds the source name and, where the document contains the value, the line to each problem,
 * and sorts the problems by their place in the file. A problem that the document cannot
 * place, such as a missing top-level section, comes first, and such problems are sorted by
 * path.
 */
function locateProblems(
  problems: readonly SchemaProblem[],
  document: Document,
  lineCounter: LineCounter,
  sourceName: string,
): ConfigProblem[] {
  const located = problems.map((problem) => {
    const segments = parsePath(problem.path) ?? [];
    const offset = segments.length === 0 ? undefined : findPathOffset(document, segments);
    const located: ConfigProblem = { source: sourceName, ...problem };
    if (offset !== undefined) {
      located.line = lineCounter.linePos(offset).line;
    }
    return { problem: located, offset, segments };
  });

  located.sort((a, b) => {
    if (a.offset !== undefined && b.offset !== undefined && a.offset !== b.offset) {
      return a.offset - b.offset;
    }
    if (a.offset === undefined && b.offset !== undefined) {
      return -1;
    }
    if (a.offset !== undefined && b.offset === undefined) {
      return 1;
    }
    return comparePaths(a.segments, b.segments);
  });
  return located.map((entry) => entry.problem);
}

/** Orders paths segment by segment: list indexes by number, keys by text, parents first. */
function comparePaths(a: readonly (string | number)[], b: readonly (string | number)[]): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const left = a[i];
    const right = b[i];
    if (left === right) {
      continue;
    }
    if (typeof left === "number" && typeof right === "number") {
      return left - right;
    }
    return String(left) < String(right) ? -1 : 1;
  }
  return a.length - b.length;
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
    const repeatMessages = findRepeatedUpstreams(flags.upstreams);
    const errors = result.errors.map((problem) => problemForFlags(problem, repeatMessages));
    return { ok: false, errors };
  }
  return result;
}

/**
 * Renders problems one per line, each ending in a newline:
 * `cairn.yaml:14: routes[2].upstream: unknown upstream "api"`, or `cairn.yaml:3:1: message`
 * for YAML syntax errors.
 */
export function formatProblems(problems: readonly ConfigProblem[]): string {
  let text = "";
  for (const problem of problems) {
    let location = problem.source;
    if (problem.line !== undefined) {
      location += `:${problem.line}`;
    }
    if (problem.column !== undefined) {
      location += `:${problem.column}`;
    }
    if (problem.path !== "") {
      location += `: ${problem.path}`;
    }
    text += `${location}: ${problem.message}\n`;
  }
  return text;
}

/**
 * Replaces a schema path in the generated input with the flag that supplied the value.
 * `repeatMessages` replaces the schema's message for a repeated peer, keyed by schema path.
 */
function problemForFlags(
  problem: SchemaProblem,
  repeatMessages: ReadonlyMap<string, string>,
): ConfigProblem {
  let path = problem.path;
  const message = repeatMessages.get(path) ?? problem.message;
  if (path.startsWith("listeners[0]")) {
    path = "--listen";
  } else if (path.startsWith(`upstreams.${FLAGS_UPSTREAM_NAME}.peers`)) {
    path = "--upstream";
  }
  return { source: COMMAND_LINE_SOURCE, path, message };
}

/**
 * Finds `--upstream` URLs that name the same peer as an earlier one, comparing scheme, host and
 * port as the schema does. Returns a message for each, keyed by the schema path of its URL,
 * because the schema's message speaks of peers[N] and weights, which flags do not have.
 */
function findRepeatedUpstreams(urls: readonly string[]): Map<string, string> {
  const firstUrlByPeer = new Map<string, string>();
  const messages = new Map<string, string>();
  urls.forEach((url, index) => {
    const parsed = parsePeerUrl(url);
    if (!parsed.ok) {
      return;
    }

    const { scheme, hostname, port } = parsed.value;
    const peer = `${scheme}://${hostname}:${port}`;
    const first = firstUrlByPeer.get(peer);
    if (first === undefined) {
      firstUrlByPeer.set(peer, url);
      return;
    }
    const quotedUrls = first === url ? `"${url}"` : `"${first}" and "${url}"`;
    messages.set(
      `upstreams.${FLAGS_UPSTREAM_NAME}.peers[${index}].url`,
      `the same --upstream URL is given twice (${quotedUrls}): give each URL once, or set a ` +
        `peer's weight in a configuration file to send it more requests`,
    );
  });
  return messages;
}
