import type { z } from "zod";

/** One thing wrong with a configuration, located by its path such as `routes[2].upstream`. */
export interface SchemaProblem {
  /** Path to the offending value; empty for the document as a whole. */
  path: string;
  message: string;
}

/** `params` of the issue that the object schemas in schema.ts raise for each unknown key. */
export interface UnknownKeyParams {
  unknownKey: true;
  knownKeys: readonly string[];
  /** Messages for keys that are settings of another section, in place of a suggestion. */
  misplacedKeys?: Readonly<Record<string, string>>;
}

/**
 * Error map passed to `safeParse`: rewrites zod's built-in messages in the words of a YAML file
 * (map, list, string). Schemas with their own message keep it.
 */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case "invalid_type":
      return invalidTypeMessage(issue.expected, issue.input);
    case "too_small":
      if (issue.origin === "array") {
        return `must list at least ${issue.minimum} ${issue.minimum === 1 ? "item" : "items"}`;
      }
      if (issue.origin === "string") {
        return "must not be empty";
      }
      return `must be at least ${issue.minimum}, got ${describeValue(issue.input)}`;
    case "too_big":
      return `must be at most ${issue.maximum}, got ${describeValue(issue.input)}`;
    case "invalid_value": {
      const allowed = issue.values.map((value) => JSON.stringify(value)).join(", ");
      return `invalid value ${describeValue(issue.input)}: use one of ${allowed}`;
    }
    default:
      return undefined;
  }
};

/** Converts zod issues to problems with dotted paths, one problem per unknown key. */
export function problemsFromIssues(issues: readonly z.core.$ZodIssue[]): SchemaProblem[] {
  const problems: SchemaProblem[] = [];
  for (const issue of issues) {
    if (issue.code === "unrecognized_keys") {
      for (const key of issue.keys) {
        problems.push({ path: formatPath([...issue.path, key]), message: `unknown key "${key}"` });
      }
      continue;
    }

    if (issue.code === "invalid_key") {
      for (const keyIssue of issue.issues) {
        problems.push({ path: formatPath(issue.path), message: keyIssue.message });
      }
      continue;
    }

    const params = issue.code === "custom" ? issue.params : undefined;
    if (isUnknownKeyParams(params)) {
      const key = String(issue.path[issue.path.length - 1]);
      problems.push({ path: formatPath(issue.path), message: unknownKeyMessage(key, params) });
      continue;
    }

    problems.push({ path: formatPath(issue.path), message: issue.message });
  }
  return problems;
}

/** Formats `["routes", 2, "upstream"]` as `routes[2].upstream`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") {
      text += `[${segment}]`;
    } else {
      const key = String(segment);
      const plain = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key);
      if (!plain) {
        text += `[${JSON.stringify(key)}]`;
      } else {
        text += text === "" ? key : `.${key}`;
      }
    }
  }
  return text;
}

/** One segment of a path written by `formatPath`: `.key`, `[index]` or `["quoted key"]`. */
const PATH_SEGMENT_PATTERN = /\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]/y;

/**
 * Splits a path written by `formatPath` back into keys and list indexes: `routes[2].upstream`
 * becomes `["routes", 2, "upstream"]`. Returns undefined for text that `formatPath` does not
 * produce, such as a flag name.
 */
export function parsePath(text: string): (string | number)[] | undefined {
  const segments: (string | number)[] = [];
  let offset = 0;
  while (offset < text.length) {
    PATH_SEGMENT_PATTERN.lastIndex = offset;
    const match = PATH_SEGMENT_PATTERN.exec(text);
    if (match === null) {
      return undefined;
    }
    if (match[1] !== undefined) {
      segments.push(match[1]);
    } else if (match[2] !== undefined) {
      segments.push(Number(match[2]));
    } else {
      segments.push(JSON.parse(match[3]) as string);
    }
    offset = PATH_SEGMENT_PATTERN.lastIndex;
  }
  return segments;
}

/** Describes a parsed YAML value for a message: `"text"`, `the number 5`, `a list`. */
export function describeValue(value: unknown): string {
  if (value === undefined || value === null) {
    return "an empty value";
  }
  if (typeof value === "string") {
    return value.length > 60 ? `${JSON.stringify(value.slice(0, 60))}...` : JSON.stringify(value);
  }
  if (typeof value === "number") {
    return `the number ${value}`;
  }
  if (typeof value === "boolean") {
    return String(value);
  }
  if (Array.isArray(value)) {
    return "a list";
  }
  if (value instanceof Uint8Array) {
    return "binary data";
  }
  if (typeof value === "object") {
    return "a map";
  }
  return typeof value;
}

function invalidTypeMessage(expected: string, input: unknown): string {
  if (input === undefined) {
    return "required field is missing";
  }

  const names: Record<string, string> = {
    string: "a string",
    number: "a number",
    int: "a whole number",
    boolean: "true or false",
    array: "a list",
    object: "a map",
    record: "a map",
  };
  const message = `expected ${names[expected] ?? expected}, got ${describeValue(input)}`;
  const quotable = typeof input === "number" || typeof input === "boolean";
  if (expected === "string" && quotable) {
    return `${message}: quote it to make it a string, as in "${input}"`;
  }
  return message;
}

function isUnknownKeyParams(params: unknown): params is UnknownKeyParams {
  return typeof params === "object" && params !== null && "unknownKey" in params;
}

/** Names the unknown key and suggests the closest known key or lists the known keys. */
function unknownKeyMessage(key: string, params: UnknownKeyParams): string {
  const misplaced = params.misplacedKeys;
  if (misplaced !== undefined && Object.hasOwn(misplaced, key)) {
    return misplaced[key];
  }
  const suggestion = closestKey(key, params.knownKeys);
  if (suggestion !== undefined) {
    return `unknown key "${key}" (did you mean "${suggestion}"?)`;
  }
  return `unknown key "${key}": expected one of ${params.knownKeys.join(", ")}`;
}

/**
 * Returns the known key that `key` most likely misspells: the same letters ignoring case and
 * `_` or `-` (`max_header_bytes` for `maxHeaderBytes`), or at most two edits away.
 */
function closestKey(key: string, knownKeys: readonly string[]): string | undefined {
  const normalize = (text: string) => text.toLowerCase().replace(/[_-]/g, "");
  const normalizedKey = normalize(key);
  let best: string | undefined;
  let bestDistance = 3;
  for (const known of knownKeys) {
    const normalizedKnown = normalize(known);
    if (normalizedKnown === normalizedKey) {
      return known;
    }
    const distance = editDistance(normalizedKey, normalizedKnown);
    if (distance < bestDistance) {
      best = known;
      bestDistance = distance;
    }
  }
  return best;
}

/** Levenshtein distance between two short strings. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = previous[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1);
      current.push(Math.min(previous[j] + 1, current[j - 1] + 1, substitution));
    }
    previous = current;
  }
  return previous[b.length];
}
