import type { WeightedPeer } from "./balancer.ts";

/** Throws unless `peers` is a non-empty list of peers with whole, positive weights. */
export function checkPeers(peers: readonly WeightedPeer[]): void {
  if (peers.length === 0) {
    throw new RangeError("a balancer needs at least one peer");
  }
  peers.forEach((peer, index) => {
    if (!Number.isSafeInteger(peer.weight) || peer.weight < 1) {
      throw new RangeError(
        `peer ${index} has weight ${peer.weight}: a weight must be a whole number of 1 or more`,
      );
    }
  });
}

/** Returns `peers` starting at `first` and wrapping around, each once. */
export function rotate<P>(peers: readonly P[], first: number): P[] {
  const ordered: P[] = [];
  for (let i = 0; i < peers.length; i++) {
    ordered.push(peers[(first + i) % peers.length]);
  }
  return ordered;
}
