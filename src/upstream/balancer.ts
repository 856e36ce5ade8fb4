/** A peer a balancer can pick, with its relative weight: a whole number of 1 or more. */
export interface WeightedPeer {
  readonly weight: number;
}

/** Request and load information that a balancer may use to order the peers. */
export interface BalanceContext<P> {
  /** Hash key of the request, read by consistent hashing. Undefined when the request has none. */
  readonly key?: string;
  /** Requests in flight to `peer`, read by the load-aware balancers. Absent means 0 for all. */
  readonly inFlight?: (peer: P) => number;
}

/**
 * Orders the peers of an upstream for one request. `candidates` returns every peer exactly
 * once, best first. The caller tries them in order: it skips peers that are disabled,
 * unhealthy or ejected, and moves to the next candidate on a retry. Balancers never filter by
 * health themselves, so that health stays in one place and a retry needs no second call.
 */
export interface Balancer<P extends WeightedPeer> {
  readonly peers: readonly P[];
  candidates(context?: BalanceContext<P>): P[];
  /**
   * Replaces the peer list, such as after service discovery. The balancer's state starts
   * over. Requests in flight keep the peer objects they already have.
   */
  setPeers(peers: readonly P[]): void;
}

/** Names of the balancing algorithms, as the configuration writes them. */
export type BalancingAlgorithm =
  | "round_robin"
  | "least_requests"
  | "random_two"
  | "consistent_hash";

// Callers import the original balancer from this module, so it stays reachable here.
export { RoundRobinBalancer } from "./round-robin.ts";
