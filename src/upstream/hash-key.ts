/** The part of a request whose value is the hash key for consistent hashing. */
export type HashKeySource =
  | { readonly kind: "header"; /** Lower-case field name. */ readonly name: string }
  | {
    readonly kind: "cookie"; /** Cookie name, case-sensitive as in RFC 6265. */
    readonly name: string;
  }
  | { readonly kind: "client_address" }
  | { readonly kind: "path" };

/** Request fields that the key extractor reads. */
export interface HashKeyRequest {
  /** Returns the first value of the field with this lower-case name. */
  header(lowerName: string): string | undefined;
  /** The path without the query. */
  readonly path: string;
  /** IP address of the client connection, without the port. */
  readonly clientAddress: string;
}

export type HashKeyResult = { ok: true; value: HashKeySource } | { ok: false; message: string };

/** The `token` rule of RFC 9110, section 5.6.2, which header and cookie names follow. */
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

const EXAMPLES = "header:x-user, cookie:session, client_address or path";

/**
 * Parses a hash key as the configuration writes it: `header:NAME`, `cookie:NAME`,
 * `client_address` or `path`.
 */
export function parseHashKey(text: string): HashKeyResult {
  if (text === "client_address" || text === "path") {
    return { ok: true, value: { kind: text } };
  }

  const colon = text.indexOf(":");
  const kind = colon === -1 ? text : text.slice(0, colon);
  if (kind !== "header" && kind !== "cookie") {
    return { ok: false, message: `invalid hash key "${text}": use ${EXAMPLES}` };
  }
  const name = colon === -1 ? "" : text.slice(colon + 1);
  if (!TOKEN_PATTERN.test(name)) {
    const problem = name === "" ? `no ${kind} name` : `"${name}" is not a valid ${kind} name`;
    return {
      ok: false,
      message: `invalid hash key "${text}": ${problem}. Write ${kind}:NAME, such as ` +
        (kind === "header" ? "header:x-user" : "cookie:session"),
    };
  }
  return { ok: true, value: { kind, name: kind === "header" ? name.toLowerCase() : name } };
}

/** Writes a hash key source back in configuration form. */
export function formatHashKey(source: HashKeySource): string {
  return source.kind === "header" || source.kind === "cookie"
    ? `${source.kind}:${source.name}`
    : source.kind;
}

/**
 * Returns the request's hash key, or undefined when the request has no such header or cookie.
 * A header's first value is used whole.
 */
export function extractHashKey(source: HashKeySource, request: HashKeyRequest): string | undefined {
  switch (source.kind) {
    case "header":
      return request.header(source.name);
    case "cookie":
      return findCookie(request.header("cookie"), source.name);
    case "client_address":
      return request.clientAddress;
    case "path":
      return request.path;
  }
}

/**
 * Returns the value of cookie `name` in a Cookie field value (`a=1; b=2`, RFC 6265 section
 * 4.2.1), with surrounding double quotes kept, or undefined when it is absent.
 */
function findCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) {
    return undefined;
  }
  for (const pair of header.split(";")) {
    const equals = pair.indexOf("=");
    if (equals === -1) {
      continue;
    }
    if (pair.slice(0, equals).trim() === name) {
      return pair.slice(equals + 1).trim();
    }
  }
  return undefined;
}
