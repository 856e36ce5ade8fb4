import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { murmurHash3 } from "../../../src/upstream/hash.ts";

/** MurmurHash3_x86_32 over bytes, written from the algorithm's description, as a reference. */
function murmurHash3Bytes(bytes: Uint8Array, seed: number): number {
  const scramble = (block: number) => {
    let k = Math.imul(block, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    return Math.imul(k, 0x1b873593);
  };
  let hash = seed >>> 0;
  const blockEnd = bytes.length & ~3;
  for (let i = 0; i < blockEnd; i += 4) {
    const block = bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    hash ^= scramble(block);
    hash = (hash << 13) | (hash >>> 19);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }
  let tail = 0;
  const rest = bytes.length & 3;
  if (rest === 3) tail ^= bytes[blockEnd + 2] << 16;
  if (rest >= 2) tail ^= bytes[blockEnd + 1] << 8;
  if (rest >= 1) {
    tail ^= bytes[blockEnd];
    hash ^= scramble(tail);
  }
  hash ^= bytes.length;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

function utf16le(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length * 2);
  for (let i = 0; i < text.length; i++) {
    bytes[2 * i] = text.charCodeAt(i) & 0xff;
    bytes[2 * i + 1] = text.charCodeAt(i) >>> 8;
  }
  return bytes;
}

describe("murmurHash3", () => {
  test("reference matches published vectors", () => {
    const ascii = (text: string) => new TextEncoder().encode(text);
    // Widely published MurmurHash3_x86_32 test vectors for byte input.
    const cases: [Uint8Array, number, number][] = [
      [ascii(""), 0, 0],
      [ascii(""), 1, 0x514e28b7],
      [ascii(""), 0xffffffff, 0x81f16f39],
      [new Uint8Array(4), 0, 0x2362f9de],
      [ascii("aaaa"), 0x9747b28c, 0x5a97808a],
      [ascii("Hello, world!"), 0x9747b28c, 0x24884cba],
      [ascii("The quick brown fox jumps over the lazy dog"), 0x9747b28c, 0x2fa826cd],
    ];
    for (const [bytes, seed, expected] of cases) {
      assert.equal(murmurHash3Bytes(bytes, seed), expected);
    }
  });

  test("equals the hash of UTF-16LE bytes", () => {
    const texts = [
      "",
      "a",
      "ab",
      "abc",
      "abcd",
      "10.0.0.1:8080-159",
      "héllo wörld",
      "😀 emoji",
      "\uffff\u0000",
    ];
    for (const text of texts) {
      for (const seed of [0, 1, 0x9747b28c]) {
        assert.equal(
          murmurHash3(text, seed),
          murmurHash3Bytes(utf16le(text), seed),
          `"${text}" seed ${seed}`,
        );
      }
    }
  });

  test("returns unsigned 32-bit integers", () => {
    for (let i = 0; i < 1_000; i++) {
      const hash = murmurHash3(`key-${i}`);
      assert.ok(Number.isInteger(hash), `hash ${hash}`);
      assert.ok(hash >= 0, `hash ${hash}`);
      assert.ok(hash < 2 ** 32, `hash ${hash}`);
    }
  });

  test("spreads similar keys over the range", () => {
    const buckets = new Array(16).fill(0);
    const count = 64_000;
    for (let i = 0; i < count; i++) buckets[murmurHash3(`user-${i}`) >>> 28]++;
    for (const [bucket, hits] of buckets.entries()) {
      const deviation = Math.abs(hits - count / 16) / (count / 16);
      assert.ok(deviation < 0.05, `bucket ${bucket} has ${hits} of ${count}`);
    }
  });
});
