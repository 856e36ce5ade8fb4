/** Byte constants and character classes of RFC 9110 §5.6 and RFC 9112, as lookup tables. */

export const HTAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const QUOTE = 0x22;
export const PERCENT = 0x25;
export const COMMA = 0x2c;
export const SLASH = 0x2f;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const EQUALS = 0x3d;
export const BACKSLASH = 0x5c;
export const ASTERISK = 0x2a;
export const DEL = 0x7f;

function table(predicate: (byte: number) => boolean): Uint8Array {
  const result = new Uint8Array(256);
  for (let byte = 0; byte < 256; byte++) result[byte] = predicate(byte) ? 1 : 0;
  return result;
}

const isAlpha = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;

/** tchar of RFC 9110 §5.6.2: the bytes of a token (method, field name, coding name). */
export const TOKEN = table((b) => isAlpha(b) || isDigit(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)));

/** field-vchar, SP and HTAB of RFC 9110 §5.5: the bytes allowed inside a field value. */
export const FIELD_VALUE = table((b) => b === HTAB || b === SP || (b >= 0x21 && b <= 0x7e) || b >= 0x80);

/**
 * Bytes allowed in a request-target (RFC 9112 §3.2 with the URI grammar of RFC 3986): unreserved,
 * reserved and `%`. A fragment (`#`), controls, DEL, SP, obs-text and `"<>\^`{|}` are rejected.
 */
export const TARGET = table((b) =>
  isAlpha(b) || isDigit(b) || "-._~:/?[]@!$&'()*+,;=%".includes(String.fromCharCode(b))
);

/** reason-phrase of RFC 9112 §4: HTAB, SP, VCHAR and obs-text. */
export const REASON = FIELD_VALUE;

/** qdtext of RFC 9110 §5.6.4. */
export const QDTEXT = table((b) =>
  b === HTAB || b === SP || b === 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) ||
  b >= 0x80
);

/** Value of a hexadecimal digit, or -1. */
export const HEX_VALUE = (() => {
  const result = new Int8Array(256).fill(-1);
  for (let b = 0x30; b <= 0x39; b++) result[b] = b - 0x30;
  for (let b = 0x41; b <= 0x46; b++) result[b] = b - 0x41 + 10;
  for (let b = 0x61; b <= 0x66; b++) result[b] = b - 0x61 + 10;
  return result;
})();

export function isDigitByte(byte: number): boolean {
  return byte >= 0x30 && byte <= 0x39;
}

const windows1252Decoder = new TextDecoder("latin1");

/** A character that windows-1252 produces for a byte in 0x80–0x9F and Latin-1 does not. */
const ABOVE_LATIN1 = /[\u0100-\uffff]/;

/**
 * Decodes bytes one to one into UTF-16 code units (ISO-8859-1), so obs-text bytes survive a
 * round trip through `encodeLatin1`. WHATWG maps the label "latin1" to windows-1252, which
 * differs from ISO-8859-1 only for bytes 0x80–0x9F (they become characters above U+00FF), so
 * the native decoder is used and its result kept unless such a character shows up.
 */
export function decodeLatin1(bytes: Uint8Array, start: number, end: number): string {
  if (end <= start) return "";
  const range = start === 0 && end === bytes.length ? bytes : bytes.subarray(start, end);
  const decoded = windows1252Decoder.decode(range);
  if (!ABOVE_LATIN1.test(decoded)) return decoded;
  let text = "";
  for (let i = start; i < end; i += 4096) {
    const slice = bytes.subarray(i, Math.min(end, i + 4096));
    text += String.fromCharCode.apply(null, slice as unknown as number[]);
  }
  return text;
}

/** Encodes a string whose code units are all below 256 into bytes, one byte each. */
export function encodeLatin1(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

const asciiEncoder = new TextEncoder();

/**
 * Encodes a head built from Latin-1 strings. The native UTF-8 encoder gives the same bytes
 * when every character is ASCII, which shows as a result exactly as long as the text; only
 * otherwise does the slower byte loop run.
 */
export function encodeHead(text: string): Uint8Array {
  const bytes = asciiEncoder.encode(text);
  return bytes.length === text.length ? bytes : encodeLatin1(text);
}

/** Joins chunks into one buffer. */
export function concatBytes(chunks: readonly Uint8Array[], totalLength?: number): Uint8Array {
  if (chunks.length === 1) return chunks[0];
  const length = totalLength ?? chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const result = new Uint8Array(length);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}
