import type { BalanceContext, Balancer, WeightedPeer } from "./balancer.ts";
import { murmurHash3 } from "./hash.ts";
import { checkPeers } from "./peer-list.ts";

/**
 * Ring points per unit of weight, as in ketama. With ten equal peers, each gets within 20% of
 * the mean share of 100,000 keys (a unit test checks this).
 */
export const DEFAULT_POINTS_PER_WEIGHT = 160;

/**
 * Upper bound on ring points, 1 MiB of ring at 8 bytes per point. Larger weights have their
 * points scaled down in proportion, each peer keeping at least one.
 */
export const MAX_RING_POINTS = 131_072;

export interface ConsistentHashOptions<P> {
  /**
   * Stable identity of a peer, such as its address. Ring points derive from it, so a peer
   * keeps its keys across restarts, list reorders and other peers coming and going.
   */
  peerKey: (peer: P) => string;
  /** Ring points per unit of weight. Default `DEFAULT_POINTS_PER_WEIGHT`. */
  pointsPerWeight?: number;
  /** Source of random numbers in [0, 1) for requests without a key. Default `Math.random`. */
  random?: () => number;
}

/**
 * Consistent hashing on a ketama-style ring. Each peer owns `pointsPerWeight` points per unit
 * of weight, placed at the MurmurHash3 of `<peerKey>-<n>`. A request goes to the owner of the
 * first point at or after the hash of its key. The other peers follow in the order the ring
 * meets them, so a retry lands where that key would go if the first peer were gone. Adding or
 * removing a peer moves only the keys on the points it gains or loses.
 *
 * A request without a key (`context.key` undefined) starts at a random point.
 */
export class ConsistentHashBalancer<P extends WeightedPeer> implements Balancer<P> {
  readonly #peerKey: (peer: P) => string;
  readonly #pointsPerWeight: number;
  readonly #random: () => number;
  #peers: readonly P[] = [];
  /** Ring point hashes in ascending order. */
  #points = new Uint32Array(0);
  /** `#owners[i]` is the index in `#peers` of the peer that owns `#points[i]`. */
  #owners = new Uint32Array(0);

  constructor(peers: readonly P[], options: ConsistentHashOptions<P>) {
    const pointsPerWeight = options.pointsPerWeight ?? DEFAULT_POINTS_PER_WEIGHT;
    if (!Number.isSafeInteger(pointsPerWeight) || pointsPerWeight < 1) {
      throw new RangeError(
        `pointsPerWeight must be a whole number of 1 or more, got ${pointsPerWeight}`,
      );
    }
    this.#peerKey = options.peerKey;
    this.#pointsPerWeight = pointsPerWeight;
    this.#random = options.random ?? Math.random;
    this.setPeers(peers);
  }

  get peers(): readonly P[] {
    return this.#peers;
  }

  /** Number of points on the ring. */
  get ringSize(): number {
    return this.#points.length;
  }

  setPeers(peers: readonly P[]): void {
    checkPeers(peers);
    const keys = peers.map((peer) => this.#peerKey(peer));
    const seen = new Map<string, number>();
    keys.forEach((key, index) => {
      const previous = seen.get(key);
      if (previous !== undefined) {
        throw new RangeError(`peers ${previous} and ${index} have the same key "${key}"`);
      }
      seen.set(key, index);
    });

    const counts = this.#pointCounts(peers);
    const entries: { hash: number; owner: number }[] = [];
    peers.forEach((_peer, owner) => {
      for (let n = 0; n < counts[owner]; n++) {
        entries.push({ hash: murmurHash3(`${keys[owner]}-${n}`), owner });
      }
    });
    // Break hash ties by key, so the ring does not depend on the order of the list.
    entries.sort((a, b) => a.hash - b.hash || compareStrings(keys[a.owner], keys[b.owner]));

    this.#peers = [...peers];
    this.#points = Uint32Array.from(entries, (entry) => entry.hash);
    this.#owners = Uint32Array.from(entries, (entry) => entry.owner);
  }

  candidates(context?: BalanceContext<P>): P[] {
    const peers = this.#peers;
    if (peers.length === 1) {
      return [peers[0]];
    }

    const key = context?.key;
    const hash = key === undefined ? Math.floor(this.#random() * 2 ** 32) : murmurHash3(key);
    const points = this.#points;
    const owners = this.#owners;
    const seen = new Uint8Array(peers.length);
    const ordered: P[] = [];
    let position = this.#firstPointAtOrAfter(hash);
    for (let step = 0; step < points.length && ordered.length < peers.length; step++) {
      const owner = owners[position];
      if (seen[owner] === 0) {
        seen[owner] = 1;
        ordered.push(peers[owner]);
      }
      position = position + 1 === points.length ? 0 : position + 1;
    }
    return ordered;
  }

  /** Index of the first point whose hash is at least `hash`, wrapping to 0 past the end. */
  #firstPointAtOrAfter(hash: number): number {
    const points = this.#points;
    let low = 0;
    let high = points.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (points[middle] < hash) {
        low = middle + 1;
      } else {
        high = middle;
      }
    }
    return low === points.length ? 0 : low;
  }

  /**
   * Points for each peer: `pointsPerWeight` per unit of weight after dividing the weights by
   * their greatest common divisor, scaled down when the total would pass `MAX_RING_POINTS`.
   */
  #pointCounts(peers: readonly P[]): number[] {
    const divisor = peers.reduce((result, peer) => greatestCommonDivisor(result, peer.weight), 0);
    const counts = peers.map((peer) => (peer.weight / divisor) * this.#pointsPerWeight);
    const total = counts.reduce((sum, count) => sum + count, 0);
    if (total <= MAX_RING_POINTS) {
      return counts;
    }
    const scale = MAX_RING_POINTS / total;
    return counts.map((count) => Math.max(1, Math.floor(count * scale)));
  }
}

function greatestCommonDivisor(a: number, b: number): number {
  let x = a;
  let y = b;
  while (y !== 0) {
    [x, y] = [y, x % y];
  }
  return x;
}

function compareStrings(a: string, b: string): number {
  if (a < b) return -1;
  if (a > b) return 1;
  return 0;
}
