/**
 * MurmurHash3 (x86, 32-bit) over a string's UTF-16 code units, two units per 32-bit block with
 * the first in the low half. The result equals MurmurHash3_x86_32 of the string's UTF-16LE
 * bytes, computed without encoding the string first. Returns an unsigned 32-bit integer.
 *
 * It is fast and spreads similar keys well, which a hash ring needs. It is not a keyed or
 * cryptographic hash, so a client who controls the key can choose which peer it lands on.
 */
export function murmurHash3(text: string, seed = 0): number {
  const length = text.length;
  const blockEnd = length & ~1;
  let hash = seed >>> 0;

  for (let i = 0; i < blockEnd; i += 2) {
    const block = text.charCodeAt(i) | (text.charCodeAt(i + 1) << 16);
    hash ^= scrambleBlock(block);
    hash = rotateLeft(hash, 13);
    hash = (Math.imul(hash, 5) + 0xe6546b64) | 0;
  }

  // An odd final code unit is the two-byte tail of the UTF-16LE input.
  if (blockEnd < length) {
    hash ^= scrambleBlock(text.charCodeAt(blockEnd));
  }

  hash ^= length * 2;
  return finalMix(hash);
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function scrambleBlock(block: number): number {
  let k = Math.imul(block, C1);
  k = rotateLeft(k, 15);
  return Math.imul(k, C2);
}

function rotateLeft(value: number, bits: number): number {
  return (value << bits) | (value >>> (32 - bits));
}

/** Applies the final avalanche step, after which every input bit affects every output bit. */
function finalMix(value: number): number {
  let hash = value;
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}
