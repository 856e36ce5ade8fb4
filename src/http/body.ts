import { ChunkedDecoder, type ChunkedLimits } from "./chunked.ts";
import type { BodyFraming } from "./framing.ts";
import type { FieldList } from "./head-parser.ts";

/** Reads one message body out of a byte stream, whatever its framing. */
export interface BodyDecoder {
  /**
   * Consumes body bytes from `chunk` at `offset`, passing decoded data to `onData` as views
   * into `chunk`. Returns the index just past the last byte consumed; bytes after it belong to
   * the next message. Throws HttpParseError on a framing error.
   */
  decode(chunk: Uint8Array, offset: number, onData: (data: Uint8Array) => void): number;
  /** True once the whole body has been read. */
  readonly done: boolean;
  /** Trailer fields of a chunked body, once done; empty otherwise. */
  readonly trailers: FieldList;
  /** Decoded body bytes so far. */
  readonly bodyBytes: number;
}

/** A body of a known length. */
export class LengthDecoder implements BodyDecoder {
  readonly trailers: FieldList = [];
  #remaining: number;
  #bodyBytes = 0;

  constructor(length: number) {
    this.#remaining = length;
  }

  get done(): boolean {
    return this.#remaining === 0;
  }

  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  decode(chunk: Uint8Array, offset: number, onData: (data: Uint8Array) => void): number {
    const take = Math.min(this.#remaining, chunk.length - offset);
    if (take === 0) return offset;
    this.#remaining -= take;
    this.#bodyBytes += take;
    onData(take === chunk.length && offset === 0 ? chunk : chunk.subarray(offset, offset + take));
    return offset + take;
  }
}

/** A response body that ends when the peer closes the connection (RFC 9112 §6.3 rule 8). */
export class CloseDelimitedDecoder implements BodyDecoder {
  readonly trailers: FieldList = [];
  #done = false;
  #bodyBytes = 0;

  get done(): boolean {
    return this.#done;
  }

  get bodyBytes(): number {
    return this.#bodyBytes;
  }

  /** Marks the body complete: the peer closed the connection. */
  finish(): void {
    this.#done = true;
  }

  decode(chunk: Uint8Array, offset: number, onData: (data: Uint8Array) => void): number {
    if (offset < chunk.length) {
      this.#bodyBytes += chunk.length - offset;
      onData(offset === 0 ? chunk : chunk.subarray(offset));
    }
    return chunk.length;
  }
}

/** Creates the decoder for a framing; "none" gives a decoder that is already done. */
export function createBodyDecoder(framing: BodyFraming, chunkedLimits?: ChunkedLimits): BodyDecoder {
  switch (framing.kind) {
    case "none":
      return new LengthDecoder(0);
    case "length":
      return new LengthDecoder(framing.length);
    case "chunked":
      return new ChunkedDecoder(chunkedLimits);
    case "close":
      return new CloseDelimitedDecoder();
  }
}
