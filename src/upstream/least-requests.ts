import type { BalanceContext, WeightedPeer } from "./balancer.ts";
import { RotatingBalancer } from "./round-robin.ts";

/**
 * Weighted least requests, as nginx's `least_conn` does it: the peer with the fewest requests
 * in flight per unit of weight comes first. Peers tied for the lowest load are picked by smooth
 * weighted round robin among themselves, so idle peers still share requests by weight. The
 * other peers follow from least to most loaded, and peers with equal load keep list order
 * after the picked one.
 *
 * Load comes from `context.inFlight`. Without it every peer counts as idle, which makes this
 * weighted round robin.
 */
export class LeastRequestsBalancer<P extends WeightedPeer> extends RotatingBalancer<P> {
  candidates(context?: BalanceContext<P>): P[] {
    const peers = this.peerList;
    const count = peers.length;
    if (count === 1) {
      return [peers[0]];
    }

    // Equal fractions divide to the same double, because IEEE division rounds correctly.
    const inFlight = context?.inFlight;
    const loads = peers.map((peer) => (inFlight === undefined ? 0 : inFlight(peer)) / peer.weight);
    const lowest = Math.min(...loads);
    const picked = this.rotation.next((index) => loads[index] === lowest);

    const order: number[] = [];
    for (let offset = 1; offset < count; offset++) {
      order.push((picked + offset) % count);
    }
    // Array.prototype.sort is stable, so equal loads keep the rotated list order.
    order.sort((a, b) => loads[a] - loads[b]);

    const ordered = [peers[picked]];
    for (const index of order) {
      ordered.push(peers[index]);
    }
    return ordered;
  }
}
