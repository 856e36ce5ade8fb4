import type { BalanceContext, Balancer, WeightedPeer } from "./balancer.ts";
import { checkPeers, rotate } from "./peer-list.ts";

/**
 * Smooth weighted round robin over a fixed list of weights, as nginx does it: each pick adds
 * every eligible entry's weight to its running score, takes the highest score and subtracts
 * the eligible total from it. Over a cycle each entry is picked in proportion to its weight,
 * spread out rather than in runs.
 */
export class SmoothWeightedRotation {
  readonly #weights: readonly number[];
  readonly #scores: number[];

  constructor(weights: readonly number[]) {
    this.#weights = weights;
    this.#scores = weights.map(() => 0);
  }

  /**
   * Picks the next index among those for which `eligible` returns true, or among all when it
   * is omitted. At least one index must be eligible.
   */
  next(eligible?: (index: number) => boolean): number {
    const weights = this.#weights;
    const scores = this.#scores;
    let best = -1;
    let eligibleWeight = 0;
    for (let i = 0; i < weights.length; i++) {
      if (eligible !== undefined && !eligible(i)) {
        continue;
      }
      scores[i] += weights[i];
      eligibleWeight += weights[i];
      if (best === -1 || scores[i] > scores[best]) {
        best = i;
      }
    }
    if (best === -1) {
      throw new RangeError("SmoothWeightedRotation.next: no index is eligible");
    }
    scores[best] -= eligibleWeight;
    return best;
  }
}

/**
 * The peer list and weighted rotation that round robin and least requests share; a new list
 * starts a new rotation.
 */
export abstract class RotatingBalancer<P extends WeightedPeer> implements Balancer<P> {
  protected peerList: readonly P[] = [];
  protected rotation = new SmoothWeightedRotation([]);

  constructor(peers: readonly P[]) {
    this.setPeers(peers);
  }

  get peers(): readonly P[] {
    return this.peerList;
  }

  setPeers(peers: readonly P[]): void {
    checkPeers(peers);
    this.peerList = [...peers];
    this.rotation = new SmoothWeightedRotation(peers.map((peer) => peer.weight));
  }

  abstract candidates(context?: BalanceContext<P>): P[];
}

/** Smooth weighted round robin. It ignores the request and the peers' load. */
export class RoundRobinBalancer<P extends WeightedPeer> extends RotatingBalancer<P> {
  /** Returns the picked peer first, then the others in list order after it. */
  candidates(_context?: BalanceContext<P>): P[] {
    const peers = this.peerList;
    if (peers.length === 1) {
      return [peers[0]];
    }
    return rotate(peers, this.rotation.next());
  }
}
