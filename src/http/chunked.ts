import { CR, HEX_VALUE, HTAB, LF, QDTEXT, QUOTE, SEMICOLON, EQUALS, BACKSLASH, SP, TOKEN } from "./bytes.ts";
import { type FieldList, parseFields } from "./head-parser.ts";
import { HeadScanner } from "./head-scanner.ts";
import { HttpParseError } from "./parse-error.ts";

export interface ChunkedLimits {
  /** Longest chunk-size line, extensions included, without its CRLF. */
  maxChunkLineBytes: number;
  /** Largest trailer section, with line endings. */
  maxTrailerBytes: number;
  maxTrailerCount: number;
  /** Largest decoded body; a chunk that would pass it fails before its data is read. */
  maxBodyBytes: number;
}

/** Long enough for any size plus ordinary extensions; llhttp allows 16 KiB of extensions. */
export const DEFAULT_CHUNKED_LIMITS: ChunkedLimits = {
  maxChunkLineBytes: 16 * 1024,
  maxTrailerBytes: 16 * 1024,
  maxTrailerCount: 64,
  maxBodyBytes: Number.MAX_SAFE_INTEGER,
};

enum State {
  SizeFirst,
  Size,
  ExtensionNameStart,
  ExtensionName,
  ExtensionValueStart,
  ExtensionValue,
  ExtensionQuoted,
  ExtensionQuotedEscape,
  ExtensionValueEnd,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  Trailer,
  Done,
}

/**
 * Streaming decoder for the chunked transfer coding (RFC 9112 §7.1). Extensions are checked
 * against their grammar and dropped. No whitespace is accepted in a chunk-size line outside a
 * quoted string (RFC 9112 §7.1.1 allows BWS before `;`, and llhttp's strict mode rejects it too).
 * Every line must end with CRLF.
 */
export class ChunkedDecoder {
  readonly limits: ChunkedLimits;
  /** Trailer fields, once `done`. */
  trailers: FieldList = [];
  #state = State.SizeFirst;
  #size = 0;
  #remaining = 0;
  #lineBytes = 0;
  #bodyBytes = 0;
  #offset = 0;
  #trailerScanner: HeadScanner | undefined;
  /** Offset of the trailer section's first byte, for errors about the whole section. */
  #trailerStart = 0;

  constructor(limits: ChunkedLimits = DEFAULT_CHUNKED_LIMITS) {
    this.limits = limits;
  }

  get done(): boolean {
    return this.#state === State.Done;
  }

  /** True between messages and at a chunk boundary: no chunk-size line is half read. */
  get atChunkBoundary(): boolean {
    return this.#state === State.SizeFirst;
  }

  /** Decoded body bytes so far. */
  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  /**
   * Decodes `chunk` from `offset`, passing each run of body bytes to `onData` as a view into
   * `chunk`. Returns the index just past the last byte consumed: the end of the message once
   * `done`, otherwise `chunk.length`. Throws HttpParseError.
   */
  decode(chunk: Uint8Array, offset: number, onData: (data: Uint8Array) => void): number {
    let i = offset;
    const length = chunk.length;
    while (i < length) {
      switch (this.#state) {
        case State.Data: {
          const take = Math.min(this.#remaining, length - i);
          onData(chunk.subarray(i, i + take));
          this.#remaining -= take;
          i += take;
          if (this.#remaining === 0) this.#state = State.DataCr;
          this.#offset += take;
          continue;
        }
        case State.Trailer: {
          const result = this.#trailerScanner!.push(chunk, i);
          if (result === undefined) {
            this.#offset += length - i;
            return length;
          }
          this.trailers = parseFields(result.head, 0, false);
          rejectFramingTrailers(this.trailers, this.#trailerStart);
          this.#offset += result.end - i;
          this.#state = State.Done;
          return result.end;
        }
        case State.Done:
          return i;
      }
      this.#step(chunk[i]);
      i++;
      this.#offset++;
    }
    return i;
  }

  #step(byte: number): void {
    switch (this.#state) {
      case State.SizeFirst: {
        const digit = HEX_VALUE[byte];
        if (digit < 0) throw this.#error("INVALID_CHUNK_SIZE", "chunk size is not hexadecimal");
        this.#size = digit;
        this.#lineBytes = 1;
        this.#state = State.Size;
        return;
      }
      case State.Size: {
        const digit = HEX_VALUE[byte];
        if (digit >= 0) {
          // Number stays exact below 2^53, so a larger size is rejected, never rounded.
          if (this.#size > (Number.MAX_SAFE_INTEGER - digit) / 16) {
            throw this.#error("INVALID_CHUNK_SIZE", "chunk size is too large");
          }
          this.#size = this.#size * 16 + digit;
          this.#countLineByte();
          return;
        }
        this.#afterValue(byte);
        return;
      }
      case State.ExtensionNameStart:
        if (!TOKEN[byte]) throw this.#error("INVALID_CHUNK_EXTENSION", "invalid chunk extension name");
        this.#countLineByte();
        this.#state = State.ExtensionName;
        return;
      case State.ExtensionName:
        if (TOKEN[byte]) {
          this.#countLineByte();
        } else if (byte === EQUALS) {
          this.#countLineByte();
          this.#state = State.ExtensionValueStart;
        } else {
          this.#afterValue(byte);
        }
        return;
      case State.ExtensionValueStart:
        this.#countLineByte();
        if (byte === QUOTE) this.#state = State.ExtensionQuoted;
        else if (TOKEN[byte]) this.#state = State.ExtensionValue;
        else throw this.#error("INVALID_CHUNK_EXTENSION", "invalid chunk extension value");
        return;
      case State.ExtensionValue:
        if (TOKEN[byte]) this.#countLineByte();
        else this.#afterValue(byte);
        return;
      case State.ExtensionQuoted:
        this.#countLineByte();
        if (byte === QUOTE) this.#state = State.ExtensionValueEnd;
        else if (byte === BACKSLASH) this.#state = State.ExtensionQuotedEscape;
        else if (!QDTEXT[byte]) throw this.#error("INVALID_CHUNK_EXTENSION", "invalid byte in quoted chunk extension");
        return;
      case State.ExtensionQuotedEscape:
        this.#countLineByte();
        if (byte === HTAB || byte === SP || (byte >= 0x21 && byte <= 0x7e) || byte >= 0x80) {
          this.#state = State.ExtensionQuoted;
        } else {
          throw this.#error("INVALID_CHUNK_EXTENSION", "invalid escaped byte in chunk extension");
        }
        return;
      case State.ExtensionValueEnd:
        this.#afterValue(byte);
        return;
      case State.SizeLf:
        if (byte !== LF) throw this.#error("BARE_CR", "chunk-size line ends with CR without LF");
        if (this.#size === 0) {
          this.#state = State.Trailer;
          this.#trailerStart = this.#offset + 1;
          this.#trailerScanner = new HeadScanner("trailer", {
            maxStartLineBytes: 0,
            maxHeadBytes: this.limits.maxTrailerBytes,
            maxFieldCount: this.limits.maxTrailerCount,
          });
          return;
        }
        if (this.#bodyBytes + this.#size > this.limits.maxBodyBytes) {
          throw new HttpParseError("BODY_TOO_LARGE", "chunked body is larger than the limit", this.#offset, 413);
        }
        this.#bodyBytes += this.#size;
        this.#remaining = this.#size;
        this.#state = State.Data;
        return;
      case State.DataCr:
        if (byte !== CR) throw this.#error("INVALID_CHUNK_END", "chunk data is not followed by CRLF");
        this.#state = State.DataLf;
        return;
      case State.DataLf:
        if (byte !== LF) throw this.#error("INVALID_CHUNK_END", "chunk data is not followed by CRLF");
        this.#state = State.SizeFirst;
        return;
    }
  }

  /** Handles the byte after a size, extension name or extension value. */
  #afterValue(byte: number): void {
    if (byte === SEMICOLON) {
      this.#countLineByte();
      this.#state = State.ExtensionNameStart;
    } else if (byte === CR) {
      this.#state = State.SizeLf;
    } else if (byte === LF) {
      throw this.#error("BARE_LF", "chunk-size line ends with LF without CR");
    } else {
      throw this.#error("INVALID_CHUNK_SIZE", "invalid byte in chunk-size line");
    }
  }

  #countLineByte(): void {
    if (++this.#lineBytes > this.limits.maxChunkLineBytes) {
      throw this.#error("CHUNK_EXTENSION_TOO_LARGE", "chunk-size line is too long");
    }
  }

  #error(code: "INVALID_CHUNK_SIZE" | "INVALID_CHUNK_EXTENSION" | "CHUNK_EXTENSION_TOO_LARGE" |
    "INVALID_CHUNK_END" | "BARE_CR" | "BARE_LF", reason: string): HttpParseError {
    return new HttpParseError(code, reason, this.#offset);
  }
}

/**
 * Framing fields have no meaning in a trailer section (RFC 9110 §6.5.1) and llhttp rejects
 * them, so Cairn does too.
 */
function rejectFramingTrailers(trailers: FieldList, offset: number): void {
  for (let i = 0; i < trailers.length; i += 2) {
    const lower = trailers[i].toLowerCase();
    if (lower === "content-length" || lower === "transfer-encoding") {
      throw new HttpParseError("INVALID_TRAILER", `${trailers[i]} is not allowed in a trailer section`, offset);
    }
  }
}

const CRLF = new Uint8Array([CR, LF]);
const LAST_CHUNK = new Uint8Array([0x30, CR, LF, CR, LF]);

/**
 * Encodes one chunk: size line, data and CRLF, in one buffer. Empty data gives no bytes,
 * because a chunk of size 0 is the last chunk and would end the body (RFC 9112 §7.1).
 */
export function encodeChunk(data: Uint8Array): Uint8Array {
  if (data.length === 0) return new Uint8Array(0);
  const size = data.length.toString(16);
  const encoded = new Uint8Array(size.length + 2 + data.length + 2);
  for (let i = 0; i < size.length; i++) encoded[i] = size.charCodeAt(i);
  encoded[size.length] = CR;
  encoded[size.length + 1] = LF;
  encoded.set(data, size.length + 2);
  encoded.set(CRLF, size.length + 2 + data.length);
  return encoded;
}

/** Returns the last chunk with an empty trailer section. */
export function lastChunk(): Uint8Array {
  return LAST_CHUNK.slice();
}
