import {
  COLON,
  CR,
  decodeAscii,
  decodeLatin1,
  encodeLatin1,
  HEX_VALUE,
  HTAB,
  isDigitByte,
  LF,
  PERCENT,
  skipAsciiFieldValue,
  skipFieldValue,
  skipToken,
  SP,
  TARGET,
  TOKEN,
  type WordView,
  wordViewOf,
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
  let i = 0;
  while (TOKEN[bytes[i]]) i++;
  if (i === 0 || bytes[i] !== SP) throw invalidAt(bytes, i, "INVALID_METHOD", "invalid method");
  const methodEnd = i;
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
  const targetEnd = i;
  i++;

  const versionMinor = parseVersion(bytes, i);
  i += 8;
  if (bytes[i] !== CR || bytes[i + 1] !== LF) {
    throw invalidAt(bytes, i, "INVALID_VERSION", "invalid HTTP version");
  }
  // TOKEN and TARGET contain no byte above 0x7F, so only the field values decide whether the
  // head is ASCII.
  const lines = scanFieldLines(bytes, wordViewOf(bytes), i + 2, false, true);
  const text = decodeHead(bytes, lines.ascii);
  return {
    method: text.slice(0, methodEnd),
    target: text.slice(targetStart, targetEnd),
    versionMinor,
    fields: fieldList(text, lines),
  };
}

/** Parses a complete response head, as returned by `HeadScanner`. Throws HttpParseError. */
export function parseResponseHead(bytes: Uint8Array): ResponseHead {
  const view = wordViewOf(bytes);
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
  let reasonStart = i;
  let reasonEnd = i;
  let ascii = true;
  if (bytes[i] === SP) {
    reasonStart = ++i;
    // REASON is FIELD_VALUE.
    i = skipAsciiFieldValue(bytes, view, i);
    if (bytes[i] >= 0x80) {
      ascii = false;
      i = skipFieldValue(bytes, view, i);
    }
    reasonEnd = i;
  }
  if (bytes[i] !== CR || bytes[i + 1] !== LF) {
    throw invalidAt(bytes, i, "INVALID_STATUS", "invalid byte in status line");
  }
  const lines = scanFieldLines(bytes, view, i + 2, true, ascii);
  const text = decodeHead(bytes, lines.ascii);
  const reason = text.slice(reasonStart, reasonEnd);
  return { versionMinor, status, reason, fields: fieldList(text, lines) };
}

/**
 * Parses field lines up to the empty line, starting at `start` (a trailer section starts at
 * 0). With `lenientColon`, whitespace between a field name and its colon is removed
 * (RFC 9112 §5.1 requires a proxy to do so in responses), except on framing fields.
 */
export function parseFields(bytes: Uint8Array, start: number, lenientColon: boolean): FieldList {
  // The bytes before `start` are not checked, so only a section from 0 may be decoded as ASCII.
  const lines = scanFieldLines(bytes, wordViewOf(bytes), start, lenientColon, start === 0);
  return fieldList(decodeHead(bytes, lines.ascii), lines);
}

/** Offsets of the names and values of the field lines that `scanFieldLines` checked. */
interface FieldLines {
  /** Per field line: name start, name end, value start and value end, as indexes in the head. */
  offsets: Int32Array;
  count: number;
  /** False when the head has a byte above 0x7F. */
  ascii: boolean;
}

/**
 * The result of the last `scanFieldLines` call, reused because parsing never runs two heads at
 * once and the offsets are read before the next call.
 */
const scannedLines: FieldLines = { offsets: new Int32Array(4 * 32), count: 0, ascii: true };

/**
 * Checks field lines up to the empty line, starting at `start`, and records where their names
 * and values are. `ascii` is false when bytes before `start` include obs-text. The strings are
 * sliced later from one decode of the head, because the decoder depends on whether the whole
 * head is ASCII. Throws HttpParseError.
 */
function scanFieldLines(
  bytes: Uint8Array,
  view: WordView,
  start: number,
  lenientColon: boolean,
  ascii: boolean,
): FieldLines {
  let offsets = scannedLines.offsets;
  let count = 0;
  let i = start;
  while (bytes[i] !== CR) {
    const nameStart = i;
    i = skipToken(bytes, view, i);
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
        if (!lenientColon || bytes[i] !== COLON || isFramingName(bytes, nameStart, nameEnd)) {
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
    i = skipAsciiFieldValue(bytes, view, i);
    if (bytes[i] >= 0x80) {
      ascii = false;
      i = skipFieldValue(bytes, view, i);
    }
    if (bytes[i] !== CR || bytes[i + 1] !== LF) {
      if (bytes[i] === CR) throw new HttpParseError("BARE_CR", "CR without LF in field line", i);
      throw invalidAt(bytes, i, "INVALID_FIELD_VALUE", "invalid byte in field value");
    }
    // FIELD_VALUE admits only HTAB and SP at or below 0x20, so this drops the trailing OWS.
    let valueEnd = i;
    while (valueEnd > valueStart && (bytes[valueEnd - 1] === SP || bytes[valueEnd - 1] === HTAB)) {
      valueEnd--;
    }
    if (valueEnd < i && isFramingName(bytes, nameStart, nameEnd) && hasTab(bytes, valueEnd, i)) {
      // Node's llhttp (Node 20) rejects a framing value followed by HTAB, so Cairn does too:
      // no origin behind it may read such a message differently.
      const name = decodeAscii(bytes.subarray(nameStart, nameEnd));
      throw new HttpParseError(
        name.length === 14 ? "INVALID_CONTENT_LENGTH" : "INVALID_TRANSFER_ENCODING",
        `HTAB after the ${name} value`,
        valueEnd,
      );
    }
    if (count * 4 === offsets.length) {
      const grown = new Int32Array(offsets.length * 2);
      grown.set(offsets);
      offsets = grown;
      scannedLines.offsets = grown;
    }
    offsets[count * 4] = nameStart;
    offsets[count * 4 + 1] = nameEnd;
    offsets[count * 4 + 2] = valueStart;
    offsets[count * 4 + 3] = valueEnd;
    count++;
    i += 2;
  }
  if (bytes[i + 1] !== LF) throw new HttpParseError("BARE_CR", "CR without LF after fields", i);
  scannedLines.count = count;
  scannedLines.ascii = ascii;
  return scannedLines;
}

/** Slices the names and values that `lines` records out of `text`, the decoded head. */
function fieldList(text: string, lines: FieldLines): FieldList {
  const count = lines.count;
  const fields: FieldList = new Array(count * 2);
  const offsets = lines.offsets;
  for (let k = 0; k < count; k++) {
    fields[2 * k] = text.slice(offsets[4 * k], offsets[4 * k + 1]);
    fields[2 * k + 1] = text.slice(offsets[4 * k + 2], offsets[4 * k + 3]);
  }
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
function decodeHead(bytes: Uint8Array, ascii: boolean): string {
  return ascii ? decodeAscii(bytes) : decodeLatin1(bytes, 0, bytes.length);
}

const CONTENT_LENGTH = encodeLatin1("content-length");
const TRANSFER_ENCODING = encodeLatin1("transfer-encoding");

/** True when the token from `start` to `end` is Content-Length or Transfer-Encoding. */
function isFramingName(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  let lowerName: Uint8Array;
  if (length === 14) lowerName = CONTENT_LENGTH;
  else if (length === 17) lowerName = TRANSFER_ENCODING;
  else return false;
  for (let k = 0; k < length; k++) {
    // Setting bit 0x20 lower-cases a letter. The other bytes of these names are `-`, which has
    // that bit already, and no other token byte becomes `-` or a letter with it.
    if ((bytes[start + k] | 0x20) !== lowerName[k]) return false;
  }
  return true;
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
