import { CR, findLineEnds, LF, wordViewOf } from "./bytes.ts";
import { HttpParseError } from "./parse-error.ts";

export interface HeadLimits {
  /** Longest start line (request-line or status-line) without its CRLF. */
  maxStartLineBytes: number;
  /** Largest head: start line, field lines and the empty line, with line endings. */
  maxHeadBytes: number;
  /** Most field lines. */
  maxFieldCount: number;
}

/**
 * LF indexes found by `findLineEnds`, shared by all scanners because `push` reads them before
 * it returns and never runs inside another `push`.
 */
const LINE_ENDS = new Int32Array(32);

/** The kind of head, which decides what comes before the field lines. */
export type HeadKind = "request" | "response" | "trailer";

/**
 * Finds the end of a message head in a byte stream that arrives in pieces, enforcing the size
 * limits while bytes arrive, before any terminator is seen. Every LF must follow a CR
 * (RFC 9112 §2.2 allows a lone LF, and Cairn rejects it because a peer that reads it otherwise
 * would see other messages). Bare CRs inside a line are left to the line parsers, which reject
 * them. A request may be preceded by empty lines, which are skipped (RFC 9112 §2.2).
 */
export class HeadScanner {
  readonly kind: HeadKind;
  readonly limits: HeadLimits;
  #pieces: Uint8Array[] = [];
  #piecesLength = 0;
  /** Bytes of the current line seen so far, its CR included. */
  #lineBytes = 0;
  /** Lines completed so far, the start line included. */
  #lines = 0;
  #totalBytes = 0;
  #lastByte = -1;

  constructor(kind: HeadKind, limits: HeadLimits) {
    this.kind = kind;
    this.limits = limits;
    if (kind === "trailer") this.#lines = 1;
  }

  /** True when some bytes of a head have been seen. */
  get started(): boolean {
    return this.#totalBytes > 0;
  }

  /** Bytes of the head consumed so far. */
  get consumedBytes(): number {
    return this.#totalBytes;
  }

  /**
   * Scans `chunk` from `offset`. Returns the complete head and the index just past it in
   * `chunk`, or `undefined` when the head goes on in a later chunk (the scanner then keeps a
   * reference to the bytes it saw, so the caller must not change them). Throws HttpParseError.
   */
  push(chunk: Uint8Array, offset: number): { head: Uint8Array; end: number } | undefined {
    const { maxHeadBytes, maxStartLineBytes, maxFieldCount } = this.limits;
    const view = wordViewOf(chunk);
    let position = offset;
    let headStart = offset;
    // The loop keeps the counters in locals and stores them back before it returns, throws or
    // calls a method that reads them.
    let lineBytes = this.#lineBytes;
    let totalBytes = this.#totalBytes;
    let lines = this.#lines;
    while (position < chunk.length) {
      const found = findLineEnds(chunk, view, position, LINE_ENDS);
      if (found === 0) {
        const count = chunk.length - position;
        this.#store(lineBytes + count, totalBytes + count, lines);
        this.#lastByte = chunk[chunk.length - 1];
        this.#checkPartialLine();
        this.#keep(chunk, headStart);
        return undefined;
      }
      for (let k = 0; k < found; k++) {
        const lf = LINE_ENDS[k];
        const previous = lf > offset ? chunk[lf - 1] : this.#lastByte;
        lineBytes += lf - position;
        totalBytes += lf - position;
        // Check the bytes before the LF as an input split just before it would be checked, so
        // that where the input is split never changes the error. The condition is true exactly
        // when #checkPartialLine throws.
        if (totalBytes > maxHeadBytes || (lines === 0 && lineBytes - 1 > maxStartLineBytes)) {
          this.#store(lineBytes, totalBytes, lines);
          this.#checkPartialLine();
        }
        totalBytes++;
        if (previous !== CR) {
          this.#store(lineBytes, totalBytes, lines);
          throw new HttpParseError("BARE_LF", "line ends with LF without CR", totalBytes - 1);
        }
        if (totalBytes > maxHeadBytes) {
          this.#store(lineBytes, totalBytes, lines);
          throw this.#headTooLarge();
        }
        const contentBytes = lineBytes - 1;
        lineBytes = 0;
        this.#lastByte = LF;
        position = lf + 1;
        if (contentBytes === 0) {
          if (lines > 0) return { head: this.#finish(chunk, headStart, position), end: position };
          if (this.kind === "response") {
            this.#store(lineBytes, totalBytes, lines);
            throw new HttpParseError("INVALID_STATUS", "status line is empty", totalBytes - 2);
          }
          // An empty line before the request-line is skipped, but still counts toward the limit.
          this.#pieces = [];
          this.#piecesLength = 0;
          headStart = position;
        } else {
          lines++;
          if (lines - 1 > maxFieldCount) {
            this.#store(lineBytes, totalBytes, lines);
            throw new HttpParseError("TOO_MANY_FIELDS", "too many header fields", totalBytes, 431);
          }
        }
      }
    }
    this.#store(lineBytes, totalBytes, lines);
    this.#keep(chunk, headStart);
    return undefined;
  }

  /** Forgets everything, ready for the next head. */
  reset(): void {
    if (this.#pieces.length > 0) this.#pieces = [];
    this.#piecesLength = 0;
    this.#lineBytes = 0;
    this.#lines = this.kind === "trailer" ? 1 : 0;
    this.#totalBytes = 0;
    this.#lastByte = -1;
  }

  /** Checks the limits on the bytes seen so far of a line that has not ended. */
  #checkPartialLine(): void {
    const bytesOverHead = this.#totalBytes - this.limits.maxHeadBytes;
    if (this.#lines === 0) {
      // A start line that passes both limits is measured up to the byte that passed the head
      // limit, so the error names the limit the stream passed first, however it was split.
      const lineBytes = bytesOverHead > 0 ? this.#lineBytes - bytesOverHead + 1 : this.#lineBytes;
      if (lineBytes - 1 > this.limits.maxStartLineBytes) throw this.#startLineTooLong();
    }
    if (bytesOverHead > 0) throw this.#headTooLarge();
  }

  // Both limit errors point at the first byte past the limit, so that the offset does not depend
  // on where the input was split.
  #startLineTooLong(): HttpParseError {
    const status = this.kind === "request" ? 414 : 502;
    const offset = this.#totalBytes - this.#lineBytes + this.limits.maxStartLineBytes;
    return new HttpParseError("START_LINE_TOO_LONG", "start line is too long", offset, status);
  }

  #headTooLarge(): HttpParseError {
    const offset = this.limits.maxHeadBytes;
    return new HttpParseError("HEAD_TOO_LARGE", "header section is too large", offset, 431);
  }

  #store(lineBytes: number, totalBytes: number, lines: number): void {
    this.#lineBytes = lineBytes;
    this.#totalBytes = totalBytes;
    this.#lines = lines;
  }

  /** Keeps the bytes of `chunk` from `headStart` for the head that a later chunk completes. */
  #keep(chunk: Uint8Array, headStart: number): void {
    if (headStart < chunk.length) {
      this.#pieces.push(chunk.subarray(headStart));
      this.#piecesLength += chunk.length - headStart;
    }
  }

  #finish(chunk: Uint8Array, headStart: number, end: number): Uint8Array {
    let head: Uint8Array;
    if (this.#pieces.length === 0) {
      head = headStart === 0 && end === chunk.length ? chunk : chunk.subarray(headStart, end);
    } else {
      head = new Uint8Array(this.#piecesLength + end - headStart);
      let at = 0;
      for (const piece of this.#pieces) {
        head.set(piece, at);
        at += piece.length;
      }
      head.set(chunk.subarray(headStart, end), at);
    }
    this.reset();
    return head;
  }
}
