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

/** The bytes of FIELD_VALUE below 0x80. */
const ASCII_FIELD_VALUE = table((b) => b < 0x80 && FIELD_VALUE[b] === 1);

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

/*
 * Word-at-a-time scanning. The loops below read four bytes per step through an Int32Array view
 * of the buffer and test all four bytes at once. For a 32-bit word x and n up to 0x80,
 * `(x - 0x01010101 * n) & ~x & 0x80808080` is non-zero exactly when some byte of x is below n.
 * A borrow between bytes starts only at a byte below n, and that byte's top bit is then set.
 * With n = 1 the test finds a zero byte, so `x ^ 0x0a0a0a0a` finds an LF. The test shows only
 * whether a word contains such a byte, so the loops then check its four bytes one at a time,
 * which also keeps them independent of the platform's byte order.
 */

/** Word scans cover buffer offsets below this, so that offsets stay 32-bit integers. */
const MAX_WORD_SCAN_OFFSET = 2 ** 31 - 1;

/** An Int32Array view of a buffer from its start, and the offset of some bytes in that buffer. */
export interface WordView {
  readonly words: Int32Array;
  /** `byteOffset` of the bytes the view was made for. */
  readonly base: number;
}

/**
 * Bytes shorter than this are scanned one byte at a time. On Bun, reading `buffer` of a new
 * Uint8Array and making the Int32Array view took about 5% of the proxy's time for 100-byte
 * responses, more than the word scan saves on a head that short.
 */
const MIN_WORD_SCAN_BYTES = 256;

/** A view whose base puts every offset past `MAX_WORD_SCAN_OFFSET`, so the scans go byte by byte. */
const BYTE_SCAN_VIEW: WordView = { words: new Int32Array(0), base: MAX_WORD_SCAN_OFFSET };

let cachedBytes: Uint8Array | undefined;
let cachedBuffer: ArrayBufferLike | undefined;
let cachedView: WordView = { words: new Int32Array(0), base: 0 };

/**
 * Returns a view of the whole 32-bit words of the buffer under `bytes`, for the word-at-a-time
 * scans. The last view is kept, so that the scanner and the parser, which read the same bytes
 * one after the other, create it once. Reading `buffer` and `byteOffset` of a Uint8Array took
 * about 60 ns on Node 20 in a micro-benchmark, a fifth of a whole head scan. The cache keeps the
 * last bytes reachable until other bytes are scanned.
 */
export function wordViewOf(bytes: Uint8Array, minimumBytes = MIN_WORD_SCAN_BYTES): WordView {
  if (bytes.length < minimumBytes) return BYTE_SCAN_VIEW;
  // A resizable buffer may have shrunk or grown since the view was made, so the view must still
  // cover the bytes.
  if (bytes !== cachedBytes || cachedView.words.length * 4 < cachedView.base + bytes.length) {
    const buffer = bytes.buffer;
    const base = bytes.byteOffset;
    let words = cachedView.words;
    if (buffer !== cachedBuffer || words.length * 4 < base + bytes.length) {
      words = new Int32Array(buffer, 0, Math.min(buffer.byteLength, MAX_WORD_SCAN_OFFSET) >>> 2);
      cachedBuffer = buffer;
    }
    cachedView = { words, base };
    cachedBytes = bytes;
  }
  return cachedView;
}

/**
 * Stores in `lineEnds` the indexes of the LFs in `bytes` from `from` on, in order, and returns
 * how many it stored. `view` is `wordViewOf(bytes)`. It stops when `lineEnds` is full and after
 * an LF that may end a head or breaks a rule, so that the caller never receives the LFs of a
 * body. Such an LF has no CR before it, ends an empty line, or is less than two bytes after
 * `from`, where its line may be empty.
 */
export function findLineEnds(
  bytes: Uint8Array,
  view: WordView,
  from: number,
  lineEnds: Int32Array,
): number {
  const end = bytes.length;
  const words = view.words;
  const base = view.base;
  const wordScan = base + end <= MAX_WORD_SCAN_OFFSET;
  let count = 0;
  let i = from;
  while (i < end) {
    if (wordScan && ((base + i) & 3) === 0 && i + 4 <= end) {
      // Skip the whole words without an LF, then check the four bytes of the word that stopped
      // the loop. The loop stays on whole words from one LF to the next.
      let word = (base + i) >> 2;
      const endWord = (base + end) >> 2;
      // Two words per step, then one, which halves the per-step cost of the loop.
      while (word + 1 < endWord) {
        const x = words[word] ^ 0x0a0a0a0a;
        const y = words[word + 1] ^ 0x0a0a0a0a;
        if ((((x - 0x01010101) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) break;
        word += 2;
      }
      while (word < endWord) {
        const x = words[word] ^ 0x0a0a0a0a;
        if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
        word++;
      }
      i = (word << 2) - base;
      if (word === endWord) continue;
      const stop = i + 4;
      for (; i < stop; i++) {
        if (bytes[i] === LF) {
          lineEnds[count++] = i;
          if (count === lineEnds.length || mayEndHead(bytes, from, i)) return count;
        }
      }
    } else {
      if (bytes[i] === LF) {
        lineEnds[count++] = i;
        if (count === lineEnds.length || mayEndHead(bytes, from, i)) return count;
      }
      i++;
    }
  }
  return count;
}

/** False when the bytes from `from` show that the LF at `lf` ends a non-empty line with CR LF. */
function mayEndHead(bytes: Uint8Array, from: number, lf: number): boolean {
  return lf - 2 < from || bytes[lf - 1] !== CR || bytes[lf - 2] === LF;
}

/** For each pair of bytes read as a 16-bit number: 1 when both bytes are TOKEN bytes. */
const TOKEN_PAIRS = (() => {
  const result = new Uint8Array(65536);
  for (let pair = 0; pair < 65536; pair++) result[pair] = TOKEN[pair & 0xff] & TOKEN[pair >> 8];
  return result;
})();

/**
 * Returns the index of the first byte at or after `from` that TOKEN rejects, or
 * `bytes.length`. `view` is `wordViewOf(bytes)`.
 */
export function skipToken(bytes: Uint8Array, view: WordView, from: number): number {
  const end = bytes.length;
  const words = view.words;
  const base = view.base;
  let i = from;
  if (base + end > MAX_WORD_SCAN_OFFSET) {
    while (i < end && TOKEN[bytes[i]] === 1) i++;
    return i;
  }
  while (i < end) {
    if (((base + i) & 3) === 0) {
      // A word passes when both of its 16-bit halves are pairs of TOKEN bytes. The byte loop
      // finds the byte that stopped the word loop.
      let word = (base + i) >> 2;
      const endWord = (base + end) >> 2;
      while (word < endWord) {
        const x = words[word];
        if ((TOKEN_PAIRS[x & 0xffff] & TOKEN_PAIRS[x >>> 16]) === 0) break;
        word++;
      }
      i = (word << 2) - base;
      const stop = Math.min(end, i + 4);
      for (; i < stop; i++) {
        if (TOKEN[bytes[i]] !== 1) return i;
      }
    } else {
      if (TOKEN[bytes[i]] !== 1) return i;
      i++;
    }
  }
  return end;
}

/**
 * Returns the index of the first byte at or after `from` that FIELD_VALUE rejects or that is
 * obs-text (0x80 or above), or `bytes.length`. `view` is `wordViewOf(bytes)`.
 */
export function skipAsciiFieldValue(bytes: Uint8Array, view: WordView, from: number): number {
  const end = bytes.length;
  const words = view.words;
  const base = view.base;
  let i = from;
  if (base + end > MAX_WORD_SCAN_OFFSET) {
    while (i < end && ASCII_FIELD_VALUE[bytes[i]] === 1) i++;
    return i;
  }
  while (i < end) {
    if (((base + i) & 3) === 0) {
      // A word passes when all its bytes are in 0x20–0x7E: `x - 0x20202020` sets the top bit of
      // a byte below 0x20, `x + 0x01010101` that of 0x7F, and `x` itself that of 0x80 and above.
      // A carry or borrow between bytes only happens when some byte already fails. A word that
      // fails may still be valid, because of HTAB, so the byte loop checks it, and the word loop
      // goes on after it when all four bytes pass.
      let word = (base + i) >> 2;
      const endWord = (base + end) >> 2;
      while (word + 1 < endWord) {
        const x = words[word];
        const y = words[word + 1];
        const failedX = (x - 0x20202020) | x | (x + 0x01010101);
        const failedY = (y - 0x20202020) | y | (y + 0x01010101);
        if ((failedX | failedY) & 0x80808080) break;
        word += 2;
      }
      while (word < endWord) {
        const x = words[word];
        if (((x - 0x20202020) | x | (x + 0x01010101)) & 0x80808080) break;
        word++;
      }
      i = (word << 2) - base;
      const stop = Math.min(end, i + 4);
      for (; i < stop; i++) {
        if (ASCII_FIELD_VALUE[bytes[i]] !== 1) return i;
      }
    } else {
      if (ASCII_FIELD_VALUE[bytes[i]] !== 1) return i;
      i++;
    }
  }
  return end;
}

/**
 * Returns the index of the first byte at or after `from` that FIELD_VALUE rejects, or
 * `bytes.length`. The CR that ends a field line is such a byte. `view` is `wordViewOf(bytes)`.
 */
export function skipFieldValue(bytes: Uint8Array, view: WordView, from: number): number {
  const end = bytes.length;
  const words = view.words;
  const base = view.base;
  let i = from;
  if (base + end > MAX_WORD_SCAN_OFFSET) {
    while (i < end && FIELD_VALUE[bytes[i]] === 1) i++;
    return i;
  }
  while (i < end) {
    if (((base + i) & 3) === 0) {
      // A word passes when no byte is below 0x20 and none is DEL. A word that fails may still be
      // valid, because HTAB is below 0x20, so the byte loop checks it, and the word loop goes
      // on after it when all four bytes pass.
      let word = (base + i) >> 2;
      const endWord = (base + end) >> 2;
      while (word < endWord) {
        const x = words[word];
        const y = x ^ 0x7f7f7f7f;
        if ((((x - 0x20202020) & ~x) | ((y - 0x01010101) & ~y)) & 0x80808080) break;
        word++;
      }
      i = (word << 2) - base;
      const stop = Math.min(end, i + 4);
      for (; i < stop; i++) {
        if (FIELD_VALUE[bytes[i]] !== 1) return i;
      }
    } else {
      if (FIELD_VALUE[bytes[i]] !== 1) return i;
      i++;
    }
  }
  return end;
}

const windows1252Decoder = new TextDecoder("latin1");
const utf8Decoder = new TextDecoder();

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

/**
 * Decodes bytes that are all below 0x80. The UTF-8 decoder gives the same string as
 * `decodeLatin1` for them, and it decoded a 580-byte head in about 60% of the time on Node 20
 * and 25% on Deno 2 in a micro-benchmark.
 */
export function decodeAscii(bytes: Uint8Array): string {
  return utf8Decoder.decode(bytes);
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
