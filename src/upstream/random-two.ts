import type { BalanceContext, Balancer, WeightedPeer } from "./balancer.ts";
import { checkPeers } from "./peer-list.ts";

export interface RandomTwoOptions {
  /** Source of random numbers in [0, 1). Default `Math.random`. Tests pass a seeded one. */
  random?: () => number;
}

/**
 * Power of two random choices: draws two different peers at random, each with probability in
 * proportion to its weight, and puts the one with fewer requests in flight per unit of weight
 * first. On a tie the first draw wins, so idle peers share requests by weight. The other draw
 * comes second and the remaining peers follow in list order.
 *
 * Load comes from `context.inFlight`. Without it every peer counts as idle, which makes this
 * weighted random.
 */
export class RandomTwoBalancer<P extends WeightedPeer> implements Balancer<P> {
  readonly #random: () => number;
  #peers: readonly P[] = [];
  /** `cumulative[i]` is the sum of the weights of peers 0 to i. */
  #cumulative: number[] = [];

  constructor(peers: readonly P[], options: RandomTwoOptions = {}) {
    this.#random = options.random ?? Math.random;
    this.setPeers(peers);
  }

  get peers(): readonly P[] {
    return this.#peers;
  }

  setPeers(peers: readonly P[]): void {
    checkPeers(peers);
    this.#peers = [...peers];
    let sum = 0;
    this.#cumulative = peers.map((peer) => (sum += peer.weight));
  }

  candidates(context?: BalanceContext<P>): P[] {
    const peers = this.#peers;
    const count = peers.length;
    if (count === 1) {
      return [peers[0]];
    }

    const first = this.#draw(-1);
    const second = this.#draw(first);
    const inFlight = context?.inFlight;
    let winner = first;
    let loser = second;
    if (inFlight !== undefined) {
      const firstLoad = inFlight(peers[first]) / peers[first].weight;
      const secondLoad = inFlight(peers[second]) / peers[second].weight;
      if (secondLoad < firstLoad) {
        winner = second;
        loser = first;
      }
    }

    const ordered = [peers[winner], peers[loser]];
    for (let offset = 1; offset < count; offset++) {
      const index = (winner + offset) % count;
      if (index !== loser) {
        ordered.push(peers[index]);
      }
    }
    return ordered;
  }

  /** Draws a peer index in proportion to weight, never `excluded` (-1 excludes none). */
  #draw(excluded: number): number {
    const cumulative = this.#cumulative;
    const total = cumulative[cumulative.length - 1];
    if (excluded === -1) {
      return this.#indexAt(this.#random() * total);
    }
    const excludedWeight = this.#peers[excluded].weight;
    const excludedStart = cumulative[excluded] - excludedWeight;
    let point = this.#random() * (total - excludedWeight);
    // Points from the excluded peer's start on move past its span.
    if (point >= excludedStart) {
      point += excludedWeight;
    }
    return this.#indexAt(point);
  }

  /** Returns the first index whose cumulative weight exceeds `point`. */
  #indexAt(point: number): number {
    const cumulative = this.#cumulative;
    let low = 0;
    let high = cumulative.length - 1;
    while (low < high) {
      const middle = (low + high) >>> 1;
      if (cumulative[middle] > point) {
        high = middle;
      } else {
        low = middle + 1;
      }
    }
    return low;
  }
}
