/** A peer a balancer can pick, with its relative weight (at least 1). */
export interface WeightedPeer {
  readonly weight: number;
}

/** Picks peers for a request; returns every candidate in the order to try them. */
export interface Balancer<P extends WeightedPeer> {
  candidates(): P[];
}

/**
 * Smooth weighted round robin, as nginx does it: each pick adds every peer's weight to its
 * running score, takes the highest and subtracts the total from it. Over a cycle each peer is
 * picked in proportion to its weight, spread out rather than in runs.
 */
export class RoundRobinBalancer<P extends WeightedPeer> implements Balancer<P> {
  readonly peers: readonly P[];
  #scores: number[];
  #totalWeight: number;

  constructor(peers: readonly P[]) {
    if (peers.length === 0) throw new Error("a balancer needs at least one peer");
    this.peers = peers;
    this.#scores = peers.map(() => 0);
    this.#totalWeight = peers.reduce((sum, peer) => sum + peer.weight, 0);
  }

  /** The picked peer first, then the others in list order after it. */
  candidates(): P[] {
    const peers = this.peers;
    if (peers.length === 1) return [peers[0]];
    let best = 0;
    for (let i = 0; i < peers.length; i++) {
      this.#scores[i] += peers[i].weight;
      if (this.#scores[i] > this.#scores[best]) best = i;
    }
    this.#scores[best] -= this.#totalWeight;
    const ordered: P[] = [];
    for (let i = 0; i < peers.length; i++) ordered.push(peers[(best + i) % peers.length]);
    return ordered;
  }
}
