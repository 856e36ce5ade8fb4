import { httpDate } from "../http/date.ts";
import { connectionTokens, getAllFields } from "../http/fields.ts";
import type { BodyFraming, RequestInfo } from "../http/framing.ts";
import type { FieldList, RequestHead, ResponseHead } from "../http/head-parser.ts";
import { ProxyError } from "./errors.ts";

/**
 * Fields that describe one connection, never forwarded in either direction (RFC 9110 §7.6.1),
 * plus the framing fields, which Cairn writes itself for each hop.
 */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "transfer-encoding",
  "upgrade",
  "content-length",
]);

/** Fields a `Connection` option cannot remove, because routing or framing depends on them. */
const PROTECTED = new Set(["host", "content-length", "transfer-encoding"]);

/** Cairn's pseudonym in `Via` (RFC 9110 §7.6.3). */
export const VIA_PSEUDONYM = "cairn";

/** The outcome of `checkForwarding` for a request it did not reject. */
export type ForwardingDecision = "forward" | "answer";

/**
 * Applies the forwarding rules that need no upstream, before routing. Throws ProxyError with
 * the status to send: 405 for TRACE, which would echo the request (cookies and credentials
 * included) back to the caller; 508 when `Via` already names Cairn, because the request
 * looped; 400 for an invalid Max-Forwards on OPTIONS. Returns "answer" for OPTIONS with
 * `Max-Forwards: 0`, to which Cairn must respond as the final recipient (RFC 9110 §7.6.2).
 */
export function checkForwarding(head: RequestHead): ForwardingDecision {
  if (head.method === "TRACE") {
    throw new ProxyError("BAD_REQUEST", "TRACE is not forwarded", { source: "downstream", status: 405 });
  }
  if (viaNamesPseudonym(getAllFields(head.fields, "via"), VIA_PSEUDONYM)) {
    // NOTE: two Cairn instances in a chain also share the pseudonym, and the second one
    // rejects every request; the pseudonym is not configurable yet.
    const message = `request already passed through this proxy (Via names "${VIA_PSEUDONYM}")`;
    throw new ProxyError("BAD_REQUEST", message, { source: "downstream", status: 508 });
  }
  if (head.method !== "OPTIONS") return "forward";
  const maxForwards = getAllFields(head.fields, "max-forwards");
  if (maxForwards.length === 0) return "forward";
  if (maxForwards.length > 1 || !/^[0-9]+$/.test(maxForwards[0])) {
    const message = `invalid Max-Forwards "${maxForwards.join(", ")}": expected one decimal number`;
    throw new ProxyError("BAD_REQUEST", message, { source: "downstream" });
  }
  return /^0+$/.test(maxForwards[0]) ? "answer" : "forward";
}

/**
 * True when a received-by of the `Via` values equals `pseudonym`, compared without case.
 * Comments are skipped, because they may contain commas and any text.
 */
export function viaNamesPseudonym(values: readonly string[], pseudonym: string): boolean {
  const wanted = pseudonym.toLowerCase();
  for (const value of values) {
    for (const element of stripComments(value).split(",")) {
      // Each element is `received-protocol RWS received-by`.
      const parts = element.trim().split(/[ \t]+/);
      if (parts.length >= 2 && parts[1].toLowerCase() === wanted) return true;
    }
  }
  return false;
}

/** Removes parenthesised comments (RFC 9110 §5.6.5), nested ones and quoted pairs included. */
function stripComments(value: string): string {
  let result = "";
  let depth = 0;
  for (let i = 0; i < value.length; i++) {
    const char = value[i];
    if (depth > 0 && char === "\\") {
      i++;
    } else if (char === "(") {
      depth++;
    } else if (char === ")" && depth > 0) {
      depth--;
    } else if (depth === 0) {
      result += char;
    }
  }
  return result;
}

/** Subtracts one from a decimal number of any length; leading zeros are dropped. */
export function decrementDigits(digits: string): string {
  const trimmed = digits.replace(/^0+(?=.)/, "");
  if (trimmed === "0") return "0";
  const result = trimmed.split("");
  let i = result.length - 1;
  while (result[i] === "0") {
    result[i] = "9";
    i--;
  }
  result[i] = String(Number(result[i]) - 1);
  return result.join("").replace(/^0+(?=.)/, "");
}

/**
 * A client's `X-Request-Id` that Cairn keeps: 1 to 128 token characters (RFC 9110 §5.6.2) or
 * `/`, `=`, `:` and `@`, so UUIDs, hex, base64 and URN-like ids pass. Quotes, backslashes,
 * spaces and commas never do, which keeps the id safe to log.
 */
const REQUEST_ID = /^[A-Za-z0-9!#$%&'*+.^_`|~\/=:@-]{1,128}$/;

/**
 * Returns the request's `X-Request-Id` when it has exactly one such field with a valid value
 * (see REQUEST_ID), or undefined, in which case the caller generates an id.
 */
export function clientRequestId(fields: FieldList): string | undefined {
  const values = getAllFields(fields, "x-request-id");
  if (values.length !== 1) return undefined;
  return REQUEST_ID.test(values[0]) ? values[0] : undefined;
}

export interface UpstreamRequestOptions {
  /** The client's address, appended to `X-Forwarded-For`. */
  clientAddress: string;
  /** `http` or `https`: how the client reached Cairn. */
  protocol: string;
  /** Host to send upstream when the request has none (HTTP/1.0), `hostname:port` of the peer. */
  peerAuthority: string;
  /** Replaces the Host sent upstream. */
  hostRewrite?: string;
  /** Fields to set, replacing any of the same name; keyed by lower-case name. */
  setFields?: ReadonlyMap<string, { name: string; value: string }>;
  /** Lower-case names of fields to remove. */
  removeFields?: ReadonlySet<string>;
  /**
   * Sent as the one `X-Request-Id`, replacing the client's fields of that name, unless
   * `removeFields` or `setFields` names `x-request-id`.
   */
  requestId?: string;
}

/**
 * Builds the field list sent to the origin: hop-by-hop fields and those the client named in
 * `Connection` removed, the order and case of the rest kept, Host taken from the routing
 * authority, `X-Forwarded-For`, `-Proto`, `-Host`, `Via` and `X-Request-Id` added, and framing
 * written for the body that follows.
 */
export function upstreamRequestFields(
  head: RequestHead,
  info: RequestInfo,
  options: UpstreamRequestOptions,
): FieldList {
  const fields = head.fields;
  const nominated = info.connection;
  const result: FieldList = [];
  let forwardedFor: string | undefined;
  let via: string | undefined;
  let hostWritten = false;
  const host = options.hostRewrite ?? info.authority ?? options.peerAuthority;

  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower)) continue;
    if (nominated.size > 0 && nominated.has(lower) && !PROTECTED.has(lower)) continue;
    if (options.removeFields?.has(lower)) continue;
    if (options.setFields?.has(lower)) continue;
    if (lower === "x-request-id" && options.requestId !== undefined) continue;
    switch (lower) {
      case "host":
        result.push(name, host);
        hostWritten = true;
        continue;
      case "x-forwarded-for":
        forwardedFor = forwardedFor === undefined ? fields[i + 1] : `${forwardedFor}, ${fields[i + 1]}`;
        continue;
      case "x-forwarded-proto":
      case "x-forwarded-host":
        // The client's own claims are not passed on; Cairn states what it saw.
        continue;
      case "via":
        via = via === undefined ? fields[i + 1] : `${via}, ${fields[i + 1]}`;
        continue;
      case "max-forwards":
        // checkForwarding validated the value and responded to a 0 itself (RFC 9110 §7.6.2).
        if (head.method === "OPTIONS") {
          result.push(name, decrementDigits(fields[i + 1]));
          continue;
        }
        break;
      case "expect":
        // A server ignores an expectation in an HTTP/1.0 request (RFC 9110 §10.1.1), and the
        // origin would read it as HTTP/1.1 here.
        if (head.versionMinor === 0) continue;
        break;
    }
    result.push(name, fields[i + 1]);
  }

  if (!hostWritten) result.unshift("Host", host);
  if (options.setFields) {
    for (const field of options.setFields.values()) result.push(field.name, field.value);
  }
  result.push(
    "X-Forwarded-For",
    forwardedFor === undefined ? options.clientAddress : `${forwardedFor}, ${options.clientAddress}`,
  );
  result.push("X-Forwarded-Proto", options.protocol);
  if (info.authority !== undefined && info.authority !== "") {
    result.push("X-Forwarded-Host", info.authority);
  }
  const received = `1.${head.versionMinor} ${VIA_PSEUDONYM}`;
  result.push("Via", via === undefined ? received : `${via}, ${received}`);
  // A route's own rule for the field wins over the request id.
  const routeSetsRequestId = options.removeFields?.has("x-request-id") === true ||
    options.setFields?.has("x-request-id") === true;
  if (options.requestId !== undefined && !routeSetsRequestId) {
    result.push("X-Request-Id", options.requestId);
  }
  if (info.upgrade !== undefined) result.push("Connection", "upgrade", "Upgrade", info.upgrade);
  appendFraming(result, info.framing);
  return result;
}

/** The delimitation of the response body toward the client. */
export type DownstreamFraming = "none" | "length" | "chunked" | "close";

/**
 * Chooses the framing toward the client for a response framed `origin` upstream. A length is
 * kept; a chunked or close-delimited body is chunked for an HTTP/1.1 client and close-delimited
 * for an HTTP/1.0 client, which cannot read chunked.
 */
export function downstreamFraming(origin: BodyFraming, clientVersionMinor: number): DownstreamFraming {
  switch (origin.kind) {
    case "none":
      return "none";
    case "length":
      return "length";
    case "chunked":
    case "close":
      return clientVersionMinor === 1 ? "chunked" : "close";
  }
}

/**
 * Builds the field list sent to the client: hop-by-hop and nominated fields removed, the rest
 * in order, framing for `framing`, `Date` added when the origin sent none (RFC 9110 §6.6.1),
 * and `Connection: close` when Cairn will close the client connection.
 */
export function downstreamResponseFields(
  head: ResponseHead,
  origin: BodyFraming,
  framing: DownstreamFraming,
  closeAfter: boolean,
): FieldList {
  const result = relayedResponseFields(head);
  if (!hasField(result, "date")) result.push("Date", httpDate());
  if (framing === "length" && origin.kind === "length") {
    result.push("Content-Length", String(origin.length));
  } else if (framing === "chunked") {
    const codings = origin.kind === "chunked" || origin.kind === "close" ? origin.codings : undefined;
    result.push("Transfer-Encoding", codings ? `${codings.join(", ")}, chunked` : "chunked");
  } else if (framing === "none" && keepsLengthWithoutBody(head)) {
    // A HEAD or 304 response states the length the full response would have (RFC 9110 §8.6).
    const originLength = head.fields.findIndex((name, i) =>
      i % 2 === 0 && name.toLowerCase() === "content-length"
    );
    if (originLength !== -1) {
      result.push("Content-Length", firstElement(head.fields[originLength + 1]));
    }
  }
  if (closeAfter) result.push("Connection", "close");
  return result;
}

/**
 * Builds the field list of a 101 response sent to the client: the origin's fields without
 * hop-by-hop ones, then the connection options that name the new protocol.
 */
export function switchingProtocolsFields(head: ResponseHead, protocols: string): FieldList {
  const result = relayedResponseFields(head);
  result.push("Connection", "upgrade", "Upgrade", protocols);
  return result;
}

/**
 * Returns the origin's response fields without hop-by-hop fields, those the origin named in
 * `Connection`, and framing. Interim (1xx) responses are relayed with exactly these fields.
 */
export function relayedResponseFields(head: ResponseHead): FieldList {
  const fields = head.fields;
  let nominated: Set<string> | undefined;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (name.length === 10 && name.toLowerCase() === "connection") {
      const tokens = connectionTokens([fields[i + 1]]);
      nominated = nominated ? new Set([...nominated, ...tokens]) : tokens;
    }
  }
  const result: FieldList = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (isHopByHop(name)) continue;
    if (nominated) {
      const lower = name.toLowerCase();
      if (nominated.has(lower) && !PROTECTED.has(lower)) continue;
    }
    result.push(name, fields[i + 1]);
  }
  return result;
}

/** Checks HOP_BY_HOP, lower-casing only names of a length that one of its names has. */
function isHopByHop(name: string): boolean {
  switch (name.length) {
    case 2:
    case 7:
    case 10:
    case 14:
    case 16:
    case 17:
      return HOP_BY_HOP.has(name.toLowerCase());
    default:
      return false;
  }
}

function hasField(fields: FieldList, lowerName: string): boolean {
  for (let i = 0; i < fields.length; i += 2) {
    if (fields[i].length === lowerName.length && fields[i].toLowerCase() === lowerName) return true;
  }
  return false;
}

function keepsLengthWithoutBody(head: ResponseHead): boolean {
  return head.status !== 204 && head.status >= 200;
}

function firstElement(listValue: string): string {
  const comma = listValue.indexOf(",");
  return (comma === -1 ? listValue : listValue.slice(0, comma)).trim();
}

function appendFraming(fields: FieldList, framing: BodyFraming): void {
  if (framing.kind === "length") fields.push("Content-Length", String(framing.length));
  else if (framing.kind === "chunked") fields.push("Transfer-Encoding", "chunked");
}
