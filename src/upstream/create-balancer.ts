import type { Balancer, BalancingAlgorithm, WeightedPeer } from "./balancer.ts";
import { ConsistentHashBalancer } from "./consistent-hash.ts";
import { LeastRequestsBalancer } from "./least-requests.ts";
import { RandomTwoBalancer } from "./random-two.ts";
import { RoundRobinBalancer } from "./round-robin.ts";

export interface CreateBalancerOptions<P> {
  /** Stable identity of a peer, such as its URL. Consistent hashing places peers by it. */
  peerKey: (peer: P) => string;
  /** Source of random numbers in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Builds the balancer for a configured algorithm. */
export function createBalancer<P extends WeightedPeer>(
  algorithm: BalancingAlgorithm,
  peers: readonly P[],
  options: CreateBalancerOptions<P>,
): Balancer<P> {
  switch (algorithm) {
    case "round_robin":
      return new RoundRobinBalancer(peers);
    case "least_requests":
      return new LeastRequestsBalancer(peers);
    case "random_two":
      return new RandomTwoBalancer(peers, { random: options.random });
    case "consistent_hash":
      return new ConsistentHashBalancer(peers, {
        peerKey: options.peerKey,
        random: options.random,
      });
  }
}
