import assert from "node:assert/strict";
import { HttpParseError, type ParseErrorCode } from "../../../src/http/mod.ts";

/**
 * A streaming parser under test. A new one is created for every delivery of an input, pushed
 * the pieces in order, then asked for what it produced.
 */
export interface StreamConsumer<T> {
  /** Consumes the next piece. Throws HttpParseError on invalid input. */
  push(piece: Uint8Array): void;
  /** Returns what the consumer produced from all the pieces. */
  finish(): T;
}

/** What one delivery produced: a value, or the code, status and offset of the HttpParseError. */
export type Outcome<T> =
  | { ok: true; value: T }
  | { ok: false; code: ParseErrorCode; status: number; offset: number };

/** The code and status of a rejected input. */
export interface Rejection {
  code: ParseErrorCode;
  status: number;
}

/** One way of cutting an input into pieces. */
export interface Delivery {
  name: string;
  pieces: Uint8Array[];
}

/** Converts a string of code units below 256 to bytes, one byte each, so `\xHH` is byte HH. */
export function bytesOf(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0xff) throw new RangeError(`code unit 0x${code.toString(16)} at ${i} is not a byte`);
    bytes[i] = code;
  }
  return bytes;
}

/** Converts bytes to a string with one code unit per byte (Latin-1). */
export function textOf(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return text;
}

/** Shows bytes as a JSON string, so CR, LF and other controls are visible in a message. */
export function show(input: Uint8Array | string): string {
  const text = typeof input === "string" ? input : textOf(input);
  return text.length > 200
    ? `${JSON.stringify(text.slice(0, 200))}... (${text.length} bytes)`
    : JSON.stringify(text);
}

/**
 * Most two-piece splits tried per input. A longer input is split at every offset within 64
 * bytes of either end and at evenly spaced offsets between, because splitting a 16 KiB input
 * at every offset means 16,384 full parses.
 */
const MAX_SPLITS = 512;

/** Offsets at which an input of `length` bytes is cut in two. */
function splitOffsets(length: number): number[] {
  if (length - 1 <= MAX_SPLITS) {
    return Array.from({ length: Math.max(length - 1, 0) }, (_, i) => i + 1);
  }
  const offsets = new Set<number>();
  for (let i = 1; i <= 64; i++) {
    offsets.add(i);
    offsets.add(length - i);
  }
  const spaced = MAX_SPLITS - offsets.size;
  for (let k = 0; k < spaced; k++) offsets.add(1 + Math.floor((k * (length - 2)) / spaced));
  return [...offsets].sort((a, b) => a - b);
}

/**
 * Yields the input whole, then cut in two at every inner offset (a sample of them past
 * `MAX_SPLITS`), then one byte per piece. Every piece is a copy in its own buffer, as a network
 * read would be.
 */
export function* deliveries(input: Uint8Array): Generator<Delivery> {
  yield { name: "whole", pieces: [input.slice()] };
  for (const at of splitOffsets(input.length)) {
    yield { name: `split at ${at}`, pieces: [input.slice(0, at), input.slice(at)] };
  }
  if (input.length > 2) {
    const pieces = Array.from(input, (_, i) => input.slice(i, i + 1));
    yield { name: "one byte at a time", pieces };
  }
}

/**
 * Feeds `pieces` to a consumer made by `create`. Returns its value, or the code, status and
 * offset of the HttpParseError it threw. Rethrows any other error.
 */
export function deliver<T>(
  create: () => StreamConsumer<T>,
  pieces: readonly Uint8Array[],
): Outcome<T> {
  const consumer = create();
  try {
    for (const piece of pieces) consumer.push(piece);
    return { ok: true, value: consumer.finish() };
  } catch (error) {
    if (error instanceof HttpParseError) {
      return { ok: false, code: error.code, status: error.status, offset: error.offset };
    }
    throw error;
  }
}

/**
 * Cuts `bytes` at `offsets`, each taken modulo the length plus one, into copies. Equal offsets
 * give empty pieces, which a streaming consumer must accept too.
 */
export function piecesAt(bytes: Uint8Array, offsets: readonly number[]): Uint8Array[] {
  const points = offsets.map((offset) => offset % (bytes.length + 1)).sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let start = 0;
  for (const point of points) {
    pieces.push(bytes.slice(start, point));
    start = point;
  }
  pieces.push(bytes.slice(start));
  return pieces;
}

/**
 * Feeds each delivery to a new consumer and asserts that all have the outcome of the first.
 * Returns that outcome.
 */
export function outcomeOfDeliveries<T>(
  input: Uint8Array,
  create: () => StreamConsumer<T>,
  deliveries: Iterable<Delivery>,
): Outcome<T> {
  let first: { name: string; outcome: Outcome<T> } | undefined;
  for (const delivery of deliveries) {
    const outcome = deliver(create, delivery.pieces);
    if (first === undefined) {
      first = { name: delivery.name, outcome };
      continue;
    }
    assert.deepStrictEqual(
      outcome,
      first.outcome,
      `${show(input)} delivered ${delivery.name} has another outcome than delivered ${first.name}`,
    );
  }
  assert.ok(first !== undefined, "no delivery to compare");
  return first.outcome;
}

/**
 * Delivers `input` in every way `deliveries` yields and asserts that each delivery has the same
 * outcome as the whole input. Returns that outcome.
 */
export function outcomeOfEverySplit<T>(
  input: Uint8Array | string,
  create: () => StreamConsumer<T>,
): Outcome<T> {
  const bytes = typeof input === "string" ? bytesOf(input) : input;
  return outcomeOfDeliveries(bytes, create, deliveries(bytes));
}

/** Asserts that every delivery of `input` succeeds with one value, and returns it. */
export function valueOfEverySplit<T>(
  input: Uint8Array | string,
  create: () => StreamConsumer<T>,
): T {
  const outcome = outcomeOfEverySplit(input, create);
  if (!outcome.ok) {
    assert.fail(
      `${show(input)} was rejected with ${outcome.code} (${outcome.status}), expected a value`,
    );
  }
  return outcome.value;
}

/** Asserts that every delivery of `input` is rejected with one error; returns its code and status. */
export function rejectionOfEverySplit<T>(
  input: Uint8Array | string,
  create: () => StreamConsumer<T>,
): Rejection {
  const outcome = outcomeOfEverySplit(input, create);
  if (outcome.ok) {
    assert.fail(
      `${show(input)} was accepted as ${JSON.stringify(outcome.value)}, expected a rejection`,
    );
  }
  return { code: outcome.code, status: outcome.status };
}
