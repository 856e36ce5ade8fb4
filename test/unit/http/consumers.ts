import assert from "node:assert/strict";
import {
  analyzeRequest,
  type BodyDecoder,
  type BodyFraming,
  ChunkedDecoder,
  type ChunkedLimits,
  CloseDelimitedDecoder,
  createBodyDecoder,
  DEFAULT_CHUNKED_LIMITS,
  type FieldList,
  type HeadKind,
  type HeadLimits,
  HeadScanner,
  parseRequestHead,
  parseResponseHead,
  type RequestHead,
  type RequestInfo,
  responseFraming,
  type ResponseHead,
} from "../../../src/http/mod.ts";
import {
  type Rejection,
  rejectionOfEverySplit,
  show,
  type StreamConsumer,
  textOf,
  valueOfEverySplit,
} from "./split.ts";

/** Limits far above every input in these tests, so only the rule under test can reject. */
export const WIDE_LIMITS: HeadLimits = {
  maxStartLineBytes: 8192,
  maxHeadBytes: 65536,
  maxFieldCount: 100,
};

/** Messages read from one input, in order. */
export interface Messages<M> {
  messages: M[];
  /** True when the input ended inside a message. */
  unfinished: boolean;
}

export interface RequestMessage {
  head: RequestHead;
  info: RequestInfo;
  /** Decoded body bytes as Latin-1 text. */
  body: string;
  trailers: FieldList;
}

export interface ResponseMessage {
  head: ResponseHead;
  framing: BodyFraming;
  /** Decoded body bytes as Latin-1 text. */
  body: string;
  trailers: FieldList;
}

export interface ReaderOptions {
  limits?: HeadLimits;
  /** Body limit passed to `analyzeRequest` (requests only). */
  maxBodyBytes?: number;
  chunkedLimits?: ChunkedLimits;
}

/** Runs `scanner` over the whole of `piece` and calls `onHead` for each head that ends in it. */
function scanHeads(
  scanner: HeadScanner,
  piece: Uint8Array,
  onHead: (head: Uint8Array) => void,
): void {
  let at = 0;
  while (at < piece.length) {
    const result = scanner.push(piece, at);
    if (result === undefined) return;
    assert.ok(result.end > at, `scanner returned end ${result.end} from offset ${at}`);
    onHead(result.head);
    at = result.end;
  }
}

/** Creates consumers that find back-to-back heads with `HeadScanner` and return them as text. */
export function headScanner(
  kind: HeadKind,
  limits = WIDE_LIMITS,
): () => StreamConsumer<Messages<string>> {
  return () => {
    const scanner = new HeadScanner(kind, limits);
    const messages: string[] = [];
    return {
      push(piece) {
        scanHeads(scanner, piece, (head) => messages.push(textOf(head)));
      },
      finish: () => ({ messages, unfinished: scanner.started }),
    };
  };
}

/** Creates consumers that scan and parse back-to-back request heads, with no bodies. */
export function requestHeadParser(
  limits = WIDE_LIMITS,
): () => StreamConsumer<Messages<RequestHead>> {
  return () => {
    const scanner = new HeadScanner("request", limits);
    const messages: RequestHead[] = [];
    return {
      push(piece) {
        scanHeads(scanner, piece, (head) => messages.push(parseRequestHead(head)));
      },
      finish: () => ({ messages, unfinished: scanner.started }),
    };
  };
}

/** Creates consumers that scan and parse back-to-back response heads, with no bodies. */
export function responseHeadParser(
  limits = WIDE_LIMITS,
): () => StreamConsumer<Messages<ResponseHead>> {
  return () => {
    const scanner = new HeadScanner("response", limits);
    const messages: ResponseHead[] = [];
    return {
      push(piece) {
        scanHeads(scanner, piece, (head) => messages.push(parseResponseHead(head)));
      },
      finish: () => ({ messages, unfinished: scanner.started }),
    };
  };
}

/**
 * Feeds `piece` from `offset` to `decoder` until it is done or the piece is used up, appending
 * the data to `body`. Returns the index just past the bytes it consumed.
 */
function decodeFrom(
  decoder: BodyDecoder,
  piece: Uint8Array,
  offset: number,
  body: string[],
): number {
  let at = offset;
  while (at < piece.length && !decoder.done) {
    const next = decoder.decode(piece, at, (data) => body.push(textOf(data)));
    assert.ok(next > at, `body decoder consumed nothing from offset ${at}`);
    assert.ok(next <= piece.length, `body decoder returned ${next} past the piece end`);
    at = next;
  }
  return at;
}

/** A message whose head has been read: its framing, and how to build it once its body is read. */
interface OpenMessage<M> {
  framing: BodyFraming;
  complete(body: string, trailers: FieldList): M;
}

/**
 * Creates consumers that read back-to-back messages: scan a head, pass it to `openMessage`
 * with the message's index, then decode the body its framing describes. A close-delimited
 * body ends where the input ends.
 */
function messageReader<M>(
  kind: "request" | "response",
  options: ReaderOptions,
  openMessage: (head: Uint8Array, index: number) => OpenMessage<M>,
): () => StreamConsumer<Messages<M>> {
  const limits = options.limits ?? WIDE_LIMITS;
  const chunkedLimits = options.chunkedLimits ?? DEFAULT_CHUNKED_LIMITS;
  return () => {
    const scanner = new HeadScanner(kind, limits);
    const messages: M[] = [];
    let current: { open: OpenMessage<M>; decoder: BodyDecoder; body: string[] } | undefined;

    const completeIfDone = () => {
      if (current === undefined || !current.decoder.done) return;
      messages.push(current.open.complete(current.body.join(""), current.decoder.trailers));
      current = undefined;
    };

    return {
      push(piece) {
        let at = 0;
        while (at < piece.length) {
          if (current === undefined) {
            const result = scanner.push(piece, at);
            if (result === undefined) return;
            assert.ok(result.end > at, `scanner returned end ${result.end} from offset ${at}`);
            at = result.end;
            const open = openMessage(result.head, messages.length);
            current = { open, decoder: createBodyDecoder(open.framing, chunkedLimits), body: [] };
          } else {
            at = decodeFrom(current.decoder, piece, at, current.body);
          }
          completeIfDone();
        }
      },
      finish() {
        if (current?.decoder instanceof CloseDelimitedDecoder) {
          current.decoder.finish();
          completeIfDone();
        }
        return { messages, unfinished: current !== undefined || scanner.started };
      },
    };
  };
}

/**
 * Creates consumers that read back-to-back requests the way a server does: scan and parse the
 * head, validate it with `analyzeRequest`, then decode the body its framing describes.
 */
export function requestReader(
  options: ReaderOptions = {},
): () => StreamConsumer<Messages<RequestMessage>> {
  const maxBodyBytes = options.maxBodyBytes ?? Number.MAX_SAFE_INTEGER;
  return messageReader("request", options, (bytes) => {
    const head = parseRequestHead(bytes);
    const info = analyzeRequest(head, maxBodyBytes);
    return {
      framing: info.framing,
      complete: (body, trailers) => ({ head, info, body, trailers }),
    };
  });
}

/**
 * Creates consumers that read back-to-back responses to requests with `methods` (GET for any
 * response past the list). A close-delimited body ends where the input ends.
 */
export function responseReader(
  methods: readonly string[] = [],
  options: ReaderOptions = {},
): () => StreamConsumer<Messages<ResponseMessage>> {
  return messageReader("response", options, (bytes, index) => {
    const head = parseResponseHead(bytes);
    const framing = responseFraming(head, methods[index] ?? "GET");
    return { framing, complete: (body, trailers) => ({ head, framing, body, trailers }) };
  });
}

/** What a chunked decoder produced from one input. */
export interface ChunkedResult {
  /** Decoded body bytes as Latin-1 text. */
  body: string;
  trailers: FieldList;
  done: boolean;
  /** Index in the input just past the chunked message, or -1 when it did not end. */
  end: number;
}

/** Creates consumers that decode one chunked body and leave the bytes after it alone. */
export function chunkedDecoder(
  limits = DEFAULT_CHUNKED_LIMITS,
): () => StreamConsumer<ChunkedResult> {
  return () => {
    const decoder = new ChunkedDecoder(limits);
    const body: string[] = [];
    let consumedBefore = 0;
    let end = -1;
    return {
      push(piece) {
        if (end === -1) {
          const next = decodeFrom(decoder, piece, 0, body);
          if (decoder.done) {
            end = consumedBefore + next;
          } else {
            assert.equal(next, piece.length, "decoder stopped inside a piece before the end");
          }
        }
        consumedBefore += piece.length;
      },
      finish: () => ({ body: body.join(""), trailers: decoder.trailers, done: decoder.done, end }),
    };
  };
}

function onlyMessage<M>(input: Uint8Array | string, value: Messages<M>): M {
  assert.equal(value.messages.length, 1, `${show(input)} did not give exactly one message`);
  assert.equal(value.unfinished, false, `${show(input)} ended inside a second message`);
  return value.messages[0];
}

/** Parses one request head through every split and returns it. */
export function requestHeadOf(input: Uint8Array | string, limits = WIDE_LIMITS): RequestHead {
  return onlyMessage(input, valueOfEverySplit(input, requestHeadParser(limits)));
}

export function requestHeadRejection(input: Uint8Array | string, limits = WIDE_LIMITS): Rejection {
  return rejectionOfEverySplit(input, requestHeadParser(limits));
}

/** Parses one response head through every split and returns it. */
export function responseHeadOf(input: Uint8Array | string, limits = WIDE_LIMITS): ResponseHead {
  return onlyMessage(input, valueOfEverySplit(input, responseHeadParser(limits)));
}

export function responseHeadRejection(input: Uint8Array | string, limits = WIDE_LIMITS): Rejection {
  return rejectionOfEverySplit(input, responseHeadParser(limits));
}

/** Reads one whole request, head and body, through every split and returns it. */
export function requestOf(input: Uint8Array | string, options: ReaderOptions = {}): RequestMessage {
  return onlyMessage(input, valueOfEverySplit(input, requestReader(options)));
}

export function requestRejection(
  input: Uint8Array | string,
  options: ReaderOptions = {},
): Rejection {
  return rejectionOfEverySplit(input, requestReader(options));
}

/** Reads one whole response to a `method` request through every split and returns it. */
export function responseOf(
  input: Uint8Array | string,
  method = "GET",
  options: ReaderOptions = {},
): ResponseMessage {
  return onlyMessage(input, valueOfEverySplit(input, responseReader([method], options)));
}

export function responseRejection(
  input: Uint8Array | string,
  method = "GET",
  options: ReaderOptions = {},
): Rejection {
  return rejectionOfEverySplit(input, responseReader([method], options));
}

/** Decodes one chunked body through every split and returns the result. */
export function chunkedOf(
  input: Uint8Array | string,
  limits = DEFAULT_CHUNKED_LIMITS,
): ChunkedResult {
  return valueOfEverySplit(input, chunkedDecoder(limits));
}

export function chunkedRejection(
  input: Uint8Array | string,
  limits = DEFAULT_CHUNKED_LIMITS,
): Rejection {
  return rejectionOfEverySplit(input, chunkedDecoder(limits));
}
