import {
  COLON,
  CR,
  decodeLatin1,
  FIELD_VALUE,
  HEX_VALUE,
  HTAB,
  isDigitByte,
  LF,
  PERCENT,
  REASON,
  SP,
  TARGET,
  TOKEN,
} from "./bytes.ts";
import { HttpParseError } from "./parse-error.ts";

/**
 * Field lines in the order received, as a flat list `[name0, value0, name1, value1, ...]`.
 * Names keep their case; values have no leading or trailing whitespace. Strings hold one
 * character per byte (Latin-1), so obs-text survives re-serialisation unchanged.
 */
export type FieldList = string[];

export interface RequestHead {
  method: string;
  /** The request-target exactly as received. */
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1 (and for a later 1.x, which is handled as 1.1). */
  versionMinor: number;
  fields: FieldList;
}

export interface ResponseHead {
  versionMinor: number;
  status: number;
  reason: string;
  fields: FieldList;
}

/** Parses a complete request head, as returned by `HeadScanner`. Throws HttpParseError. */
export function parseRequestHead(bytes: Uint8Array): RequestHead {
  const text = decodeHead(bytes);
  let i = 0;
  while (TOKEN[bytes[i]]) i++;
  if (i === 0 || bytes[i] !== SP) throw invalidAt(bytes, i, "INVALID_METHOD", "invalid method");
  const method = text.slice(0, i);
  i++;

  const targetStart = i;
  while (TARGET[bytes[i]]) {
    if (bytes[i] === PERCENT && (HEX_VALUE[bytes[i + 1]] < 0 || HEX_VALUE[bytes[i + 2]] < 0)) {
      throw new HttpParseError("INVALID_TARGET", "invalid percent-encoding in request-target", i);
    }
    i++;
  }
  if (i === targetStart) throw invalidAt(bytes, i, "INVALID_TARGET", "invalid request-target");
  if (bytes[i] !== SP) {
    if (bytes[i] === CR && bytes[i + 1] === LF) {
      throw new HttpParseError("INVALID_VERSION", "request-line has no HTTP version", i);
    }
    throw invalidAt(bytes, i, "INVALID_TARGET", "invalid byte in request-target");
  }
  const target = text.slice(targetStart, i);
  i++;

  const versionMinor = parseVersion(bytes, i);
  i += 8;
  if (bytes[i] !== CR || bytes[i + 1] !== LF) {
    throw invalidAt(bytes, i, "INVALID_VERSION", "invalid HTTP version");
  }
  return { method, target, versionMinor, fields: parseFields(bytes, i + 2, false, text) };
}

/** Parses a complete response head, as returned by `HeadScanner`. Throws HttpParseError. */
export function parseResponseHead(bytes: Uint8Array): ResponseHead {
  const text = decodeHead(bytes);
  const versionMinor = parseVersion(bytes, 0);
  let i = 8;
  if (bytes[i] !== SP) throw invalidAt(bytes, i, "INVALID_STATUS", "invalid status line");
  i++;
  const d0 = bytes[i], d1 = bytes[i + 1], d2 = bytes[i + 2];
  if (!isDigitByte(d0) || !isDigitByte(d1) || !isDigitByte(d2)) {
    throw new HttpParseError("INVALID_STATUS", "status code is not three digits", i);
  }
  const status = (d0 - 0x30) * 100 + (d1 - 0x30) * 10 + (d2 - 0x30);
  if (status < 100 || status > 599) {
    throw new HttpParseError("INVALID_STATUS", `status code ${status} is out of range`, i);
  }
  i += 3;
  let reason = "";
  if (bytes[i] === SP) {
    const reasonStart = ++i;
    while (REASON[bytes[i]]) i++;
    reason = text.slice(reasonStart, i);
  }
  if (bytes[i] !== CR || bytes[i + 1] !== LF) {
    throw invalidAt(bytes, i, "INVALID_STATUS", "invalid byte in status line");
  }
  return { versionMinor, status, reason, fields: parseFields(bytes, i + 2, true, text) };
}

/**
 * Parses field lines up to the empty line, starting at `start` (a trailer section starts at
 * 0). With `lenientColon`, whitespace between a field name and its colon is removed
 * (RFC 9112 §5.1 requires a proxy to do so in responses), except on framing fields.
 */
export function parseFields(
  bytes: Uint8Array,
  start: number,
  lenientColon: boolean,
  text: string = decodeHead(bytes),
): FieldList {
  const fields: FieldList = [];
  let i = start;
  while (bytes[i] !== CR) {
    const nameStart = i;
    while (TOKEN[bytes[i]] === 1) i++;
    const nameEnd = i;
    if (nameEnd === nameStart) {
      if (bytes[i] === SP || bytes[i] === HTAB) {
        throw new HttpParseError("OBS_FOLD", "obsolete line folding is not accepted", i);
      }
      throw invalidAt(bytes, i, "INVALID_FIELD_NAME", "invalid field name");
    }
    if (bytes[i] !== COLON) {
      if (bytes[i] === SP || bytes[i] === HTAB) {
        while (bytes[i] === SP || bytes[i] === HTAB) i++;
        const name = text.slice(nameStart, nameEnd);
        if (!lenientColon || bytes[i] !== COLON || isFramingField(name)) {
          throw new HttpParseError(
            "WHITESPACE_BEFORE_COLON",
            "whitespace between field name and colon",
            nameEnd,
          );
        }
      } else if (bytes[i] === CR && bytes[i + 1] === LF) {
        throw new HttpParseError("MISSING_COLON", "field line has no colon", i);
      } else {
        throw invalidAt(bytes, i, "INVALID_FIELD_NAME", "invalid byte in field name");
      }
    }
    i++;
    while (bytes[i] === SP || bytes[i] === HTAB) i++;
    const valueStart = i;
    let valueEnd = i;
    let byte = bytes[i];
    while (FIELD_VALUE[byte] === 1) {
      // FIELD_VALUE admits only HTAB and SP at or below 0x20, so this skips trailing OWS.
      if (byte > SP) valueEnd = i + 1;
      byte = bytes[++i];
    }
    if (bytes[i] !== CR || bytes[i + 1] !== LF) {
      if (bytes[i] === CR) throw new HttpParseError("BARE_CR", "CR without LF in field line", i);
      throw invalidAt(bytes, i, "INVALID_FIELD_VALUE", "invalid byte in field value");
    }
    const name = text.slice(nameStart, nameEnd);
    if (valueEnd < i && isFramingField(name) && hasTab(bytes, valueEnd, i)) {
      // Node's llhttp (Node 20) rejects a framing value followed by HTAB, so Cairn does too:
      // no origin behind it may read such a message differently.
      throw new HttpParseError(
        name.length === 14 ? "INVALID_CONTENT_LENGTH" : "INVALID_TRANSFER_ENCODING",
        `HTAB after the ${name} value`,
        valueEnd,
      );
    }
    fields.push(name, text.slice(valueStart, valueEnd));
    i += 2;
  }
  if (bytes[i + 1] !== LF) throw new HttpParseError("BARE_CR", "CR without LF after fields", i);
  return fields;
}

function hasTab(bytes: Uint8Array, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (bytes[i] === HTAB) return true;
  return false;
}

/**
 * Decodes a whole head once, so names and values are cheap slices of one string instead of
 * strings built byte by byte.
 */
function decodeHead(bytes: Uint8Array): string {
  return decodeLatin1(bytes, 0, bytes.length);
}

function isFramingField(name: string): boolean {
  const lower = name.toLowerCase();
  return lower === "content-length" || lower === "transfer-encoding";
}

/** Reads `HTTP/d.d` at `i`; returns the minor version. Only major version 1 is served. */
function parseVersion(bytes: Uint8Array, i: number): number {
  if (
    bytes[i] !== 0x48 || bytes[i + 1] !== 0x54 || bytes[i + 2] !== 0x54 || bytes[i + 3] !== 0x50 ||
    bytes[i + 4] !== 0x2f || !isDigitByte(bytes[i + 5]) || bytes[i + 6] !== 0x2e ||
    !isDigitByte(bytes[i + 7])
  ) {
    throw new HttpParseError("INVALID_VERSION", "invalid HTTP version", i);
  }
  const major = bytes[i + 5] - 0x30;
  const minor = bytes[i + 7] - 0x30;
  if (major === 0) throw new HttpParseError("INVALID_VERSION", "HTTP/0.x is not supported", i);
  if (major > 1) {
    throw new HttpParseError("UNSUPPORTED_VERSION", `HTTP/${major}.${minor} is not supported`, i, 505);
  }
  return minor === 0 ? 0 : 1;
}

function invalidAt(
  bytes: Uint8Array,
  i: number,
  code: "INVALID_METHOD" | "INVALID_TARGET" | "INVALID_VERSION" | "INVALID_STATUS" |
    "INVALID_FIELD_NAME" | "INVALID_FIELD_VALUE",
  reason: string,
): HttpParseError {
  const byte = bytes[i];
  if (byte === CR && bytes[i + 1] !== LF) {
    return new HttpParseError("BARE_CR", `${reason}: CR without LF`, i);
  }
  const shown = byte === undefined ? "end of head" : `byte 0x${byte.toString(16).padStart(2, "0")}`;
  return new HttpParseError(code, `${reason}: unexpected ${shown}`, i);
}
