/**
 * Returns a deterministic source of numbers in [0, 1) for tests: xorshift32 from `seed`, which
 * must not be 0. The same seed always gives the same sequence, so tests that draw at random
 * pass or fail the same way on every run.
 */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  if (state === 0) throw new RangeError("seededRandom needs a seed other than 0");
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 2 ** 32;
  };
}
