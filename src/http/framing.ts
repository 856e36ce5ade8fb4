import { TOKEN } from "./bytes.ts";
import { connectionTokens, fieldNameEquals, splitList } from "./fields.ts";
import type { RequestHead, ResponseHead } from "./head-parser.ts";
import { HttpParseError } from "./parse-error.ts";

/** The delimitation of a message body (RFC 9112 §6.3). */
export type BodyFraming =
  | { kind: "none" }
  | { kind: "length"; length: number }
  | { kind: "chunked"; codings?: readonly string[] }
  /** Read until the peer closes; only responses are framed this way. */
  | { kind: "close"; codings?: readonly string[] };

/**
 * `codings`, on a response, lists the transfer codings other than chunked and identity that
 * the origin applied (such as gzip), in order. Cairn keeps them on the body it relays, so the
 * response to the client must name them.
 */

export const NO_BODY: BodyFraming = { kind: "none" };

/** The validated facts about a request that the proxy needs beyond its head. */
export interface RequestInfo {
  framing: BodyFraming;
  /** Host to route on and to send upstream: from an absolute-form target, else the Host field. */
  authority: string | undefined;
  /** The target to send upstream, in origin form (`/path?query`) or `*`. */
  upstreamTarget: string;
  /** The path without the query, for routing. */
  path: string;
  /** Lower-cased Connection options. */
  connection: ReadonlySet<string>;
  /** True when the client allows the connection to stay open after this exchange. */
  keepAlive: boolean;
  /** `Expect: 100-continue` on an HTTP/1.1 request. */
  expectContinue: boolean;
  /**
   * Protocols the client asks to switch to (the `Upgrade` value) when it asks for a switch: an
   * HTTP/1.1 request with `Upgrade` and the `upgrade` connection option (RFC 9110 §7.8).
   */
  upgrade: string | undefined;
}

/** Largest number of decimal digits parsed exactly: 10^15 − 1 is below 2^53. */
const MAX_LENGTH_DIGITS = 15;

/**
 * Validates a request head and works out its framing and routing facts. Ambiguous framing is
 * rejected, never guessed (RFC 9112 §6.3). Throws HttpParseError with the status of the error response.
 */
export function analyzeRequest(head: RequestHead, maxBodyBytes: number): RequestInfo {
  const fields = head.fields;
  let hostValue: string | undefined;
  let hostCount = 0;
  let lengthValues: string[] | undefined;
  let codingValues: string[] | undefined;
  let connectionValues: string[] | undefined;
  let expectValues: string[] | undefined;
  let upgradeValues: string[] | undefined;

  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const value = fields[i + 1];
    switch (name.length) {
      case 4:
        if (isField(name, "Host", "host")) {
          hostValue = value;
          hostCount++;
        }
        break;
      case 6:
        if (isField(name, "Expect", "expect")) (expectValues ??= []).push(value);
        break;
      case 7:
        if (isField(name, "Upgrade", "upgrade")) (upgradeValues ??= []).push(value);
        break;
      case 10:
        if (isField(name, "Connection", "connection")) (connectionValues ??= []).push(value);
        break;
      case 14:
        if (isField(name, "Content-Length", "content-length")) (lengthValues ??= []).push(value);
        break;
      case 17:
        if (isField(name, "Transfer-Encoding", "transfer-encoding")) {
          (codingValues ??= []).push(value);
        }
        break;
    }
  }

  if (head.method === "CONNECT") {
    throw new HttpParseError("METHOD_NOT_ALLOWED", "CONNECT is not supported by a reverse proxy", 0, 405);
  }

  // RFC 9112 §3.2: exactly one Host in an HTTP/1.1 request.
  if (hostCount > 1) throw new HttpParseError("INVALID_HOST", "more than one Host field");
  if (hostCount === 0 && head.versionMinor === 1) {
    throw new HttpParseError("INVALID_HOST", "HTTP/1.1 request has no Host field");
  }
  if (hostValue !== undefined && !isValidAuthority(hostValue)) {
    throw new HttpParseError("INVALID_HOST", "invalid Host field value");
  }

  let authority = hostValue;
  let upstreamTarget = head.target;
  const target = head.target;
  if (target.charCodeAt(0) === 0x2f) {
    // origin-form
  } else if (target === "*") {
    if (head.method !== "OPTIONS") {
      throw new HttpParseError("INVALID_TARGET", "asterisk-form target is only valid with OPTIONS");
    }
  } else {
    const absolute = parseAbsoluteForm(target, head.method);
    authority = absolute.authority;
    upstreamTarget = absolute.target;
  }
  const queryAt = upstreamTarget.indexOf("?");
  const path = queryAt === -1 ? upstreamTarget : upstreamTarget.slice(0, queryAt);

  const connection = connectionValues ? connectionOptions(connectionValues) : EMPTY_SET;
  const keepAlive = head.versionMinor === 1 && !connection.has("close");

  let expectContinue = false;
  if (expectValues && head.versionMinor === 1) {
    for (const value of expectValues) {
      if (value.toLowerCase() === "100-continue") expectContinue = true;
    }
  }

  let framing: BodyFraming = NO_BODY;
  if (codingValues) {
    if (head.versionMinor === 0) {
      // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means faulty framing.
      throw new HttpParseError("INVALID_TRANSFER_ENCODING", "Transfer-Encoding in an HTTP/1.0 request");
    }
    if (lengthValues) {
      throw new HttpParseError("CONFLICTING_FRAMING", "both Content-Length and Transfer-Encoding");
    }
    const codings = parseCodings(codingValues);
    const chunkedCount = codings.filter((coding) => coding === "chunked").length;
    if (chunkedCount === 1 && codings.length === 1) {
      framing = { kind: "chunked" };
    } else if (chunkedCount > 1 || (chunkedCount === 1 && codings[codings.length - 1] !== "chunked")) {
      // RFC 9112 §6.3 rule 4: chunked must be applied once and last.
      throw new HttpParseError("INVALID_TRANSFER_ENCODING", "chunked must be the only and final transfer coding");
    } else {
      // RFC 9112 §6.1: a server responds 501 to a transfer coding it does not implement.
      throw new HttpParseError(
        "UNSUPPORTED_TRANSFER_CODING",
        `unsupported transfer coding "${codings.join(", ")}"`,
        -1,
        501,
      );
    }
  } else if (lengthValues) {
    const length = parseContentLength(lengthValues);
    if (length === undefined || length > maxBodyBytes) {
      throw new HttpParseError("BODY_TOO_LARGE", "declared body is larger than the limit", -1, 413);
    }
    if (length > 0) framing = { kind: "length", length };
  }

  let upgrade: string | undefined;
  if (upgradeValues && head.versionMinor === 1 && connection.has("upgrade")) {
    const protocols = splitList(upgradeValues);
    if (protocols.length === 0 || !protocols.every(isProtocol)) {
      throw new HttpParseError("INVALID_UPGRADE", "invalid Upgrade field value");
    }
    upgrade = protocols.join(", ");
  }

  return { framing, authority, upstreamTarget, path, connection, keepAlive, expectContinue, upgrade };
}

/**
 * True when `name` equals `lowerName` ignoring case. `lowerName` starts with a letter and
 * `usualName` is its usual spelling. Comparing the first letters and then the usual spelling is
 * cheaper than folding the case of the whole name.
 */
function isField(name: string, usualName: string, lowerName: string): boolean {
  if ((name.charCodeAt(0) | 0x20) !== lowerName.charCodeAt(0)) return false;
  return name === usualName || fieldNameEquals(name, lowerName);
}

/** `connectionTokens`, with one shared set for the common `Connection: keep-alive`. */
function connectionOptions(values: readonly string[]): ReadonlySet<string> {
  if (values.length === 1) {
    const value = values[0];
    if (value === "keep-alive" || (value.length === 10 && value.toLowerCase() === "keep-alive")) {
      return KEEP_ALIVE_SET;
    }
  }
  return connectionTokens(values);
}

/**
 * Works out how an origin's response body is delimited (RFC 9112 §6.3). Throws HttpParseError
 * for framing a proxy must not relay; the caller responds 502 and closes the connection.
 */
export function responseFraming(head: ResponseHead, requestMethod: string): BodyFraming {
  const framing = declaredResponseFraming(head);
  // RFC 9112 §6.3 rule 1: these responses end at their head, whatever they declare; the
  // declaration is still checked, because a HEAD or 304 response's length is relayed.
  const status = head.status;
  if (requestMethod === "HEAD" || status < 200 || status === 204 || status === 304) return NO_BODY;
  return framing;
}

/** The framing a response's fields declare, checked, before the status and method count. */
function declaredResponseFraming(head: ResponseHead): BodyFraming {
  const fields = head.fields;
  let lengthValues: string[] | undefined;
  let codingValues: string[] | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (fieldNameEquals(name, "content-length")) {
      (lengthValues ??= []).push(fields[i + 1]);
    } else if (fieldNameEquals(name, "transfer-encoding")) {
      (codingValues ??= []).push(fields[i + 1]);
    }
  }
  if (codingValues) {
    if (lengthValues) {
      throw new HttpParseError("CONFLICTING_FRAMING", "both Content-Length and Transfer-Encoding", -1, 502);
    }
    if (head.versionMinor === 0) {
      throw new HttpParseError("INVALID_TRANSFER_ENCODING", "Transfer-Encoding in an HTTP/1.0 response", -1, 502);
    }
    const codings = parseCodings(codingValues, 502);
    const chunkedCount = codings.filter((coding) => coding === "chunked").length;
    if (chunkedCount > 1) {
      throw new HttpParseError("INVALID_TRANSFER_ENCODING", "chunked applied more than once", -1, 502);
    }
    // RFC 9112 §6.3 rule 4: when chunked is not the final coding, the body runs until close.
    const applied = codings.filter((coding) => coding !== "chunked" && coding !== "identity");
    const extra = applied.length > 0 ? { codings: applied } : {};
    return codings[codings.length - 1] === "chunked" ? { kind: "chunked", ...extra } : { kind: "close", ...extra };
  }
  if (lengthValues) {
    const length = parseContentLength(lengthValues, 502);
    if (length === undefined) {
      throw new HttpParseError("INVALID_CONTENT_LENGTH", "Content-Length is too large", -1, 502);
    }
    return length === 0 ? NO_BODY : { kind: "length", length };
  }
  return { kind: "close" };
}

/** True when the origin allows reusing its connection after this response. */
export function responseKeepsAlive(head: ResponseHead): boolean {
  if (head.versionMinor === 0) return false;
  const fields = head.fields;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (fieldNameEquals(name, "connection")) {
      if (connectionTokens([fields[i + 1]]).has("close")) return false;
    }
  }
  return true;
}

/**
 * Parses Content-Length (RFC 9110 §8.6): exactly one field whose value is 1*DIGIT. RFC 9110
 * lets a recipient accept repeated identical values or a list of them; Cairn rejects both, as
 * Node's llhttp does, so no origin behind it can read the message differently. Returns
 * undefined when the value has more than 15 digits, so it is never rounded.
 */
export function parseContentLength(values: readonly string[], status = 400): number | undefined {
  if (values.length > 1) {
    throw new HttpParseError("INVALID_CONTENT_LENGTH", "more than one Content-Length field", -1, status);
  }
  const value = values[0];
  if (value.length === 0 || !isDigits(value)) {
    throw new HttpParseError("INVALID_CONTENT_LENGTH", `invalid Content-Length "${value}"`, -1, status);
  }
  const digits = value.replace(/^0+(?=.)/, "");
  return digits.length > MAX_LENGTH_DIGITS ? undefined : Number(digits);
}

/** Lower-cased transfer codings, in order. Parameters and empty elements are not accepted. */
function parseCodings(values: readonly string[], status = 400): string[] {
  const codings: string[] = [];
  for (const value of values) {
    for (const part of value.split(",")) {
      const element = trimWhitespace(part);
      // RFC 9110 §5.6.1 lets a recipient skip empty list elements; llhttp rejects them in
      // Transfer-Encoding, so Cairn does too.
      if (!isToken(element)) {
        throw new HttpParseError("INVALID_TRANSFER_ENCODING", `invalid Transfer-Encoding "${value}"`, -1, status);
      }
      codings.push(element.toLowerCase());
    }
  }
  if (codings.length === 0) {
    throw new HttpParseError("INVALID_TRANSFER_ENCODING", "empty Transfer-Encoding", -1, status);
  }
  return codings;
}

/** Accepts `scheme://authority[path]` with scheme http or https and no userinfo. */
function parseAbsoluteForm(target: string, method: string): { authority: string; target: string } {
  const match = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?]*)(.*)$/.exec(target);
  if (!match) throw new HttpParseError("INVALID_TARGET", "request-target is not in origin or absolute form");
  const scheme = match[1].toLowerCase();
  if (scheme !== "http" && scheme !== "https") {
    throw new HttpParseError("INVALID_TARGET", `unsupported scheme "${match[1]}" in request-target`);
  }
  const authority = match[2];
  if (authority.includes("@")) {
    throw new HttpParseError("INVALID_TARGET", "userinfo is not accepted in request-target");
  }
  if (authority.length === 0 || !isValidAuthority(authority)) {
    throw new HttpParseError("INVALID_TARGET", "invalid authority in request-target");
  }
  let rest = match[3];
  if (rest.length === 0 || rest.charCodeAt(0) === 0x3f) {
    // RFC 9112 §3.2.4: an empty path becomes "*" for OPTIONS and "/" otherwise.
    rest = method === "OPTIONS" && rest.length === 0 ? "*" : "/" + rest;
  }
  return { authority, target: rest };
}

/**
 * Accepts `host[:port]` where host is a DNS-style name (letters, digits, `-`, `.`, `_`, `~`),
 * an IPv4 address or a bracketed IPv6 literal. The empty value is valid (RFC 9110 §7.2).
 */
export function isValidAuthority(value: string): boolean {
  // Most requests name the host of the one before, and comparing strings is cheaper than the
  // regular expression.
  if (value === lastValidAuthority) return true;
  if (!/^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._~-]*)(?::[0-9]{0,5})?$/.test(value)) return false;
  lastValidAuthority = value;
  return true;
}

let lastValidAuthority = "";

/** `protocol-name ["/" protocol-version]` of RFC 9110 §7.8, both tokens. */
function isProtocol(text: string): boolean {
  const slash = text.indexOf("/");
  if (slash === -1) return isToken(text);
  return slash > 0 && isToken(text.slice(0, slash)) && isToken(text.slice(slash + 1));
}

function isDigits(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x30 || code > 0x39) return false;
  }
  return true;
}

function isToken(text: string): boolean {
  if (text.length === 0) return false;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff || !TOKEN[code]) return false;
  }
  return true;
}

function trimWhitespace(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && (text.charCodeAt(start) === 0x20 || text.charCodeAt(start) === 0x09)) start++;
  while (end > start && (text.charCodeAt(end - 1) === 0x20 || text.charCodeAt(end - 1) === 0x09)) end--;
  return text.slice(start, end);
}

const EMPTY_SET: ReadonlySet<string> = new Set();
const KEEP_ALIVE_SET: ReadonlySet<string> = new Set(["keep-alive"]);
