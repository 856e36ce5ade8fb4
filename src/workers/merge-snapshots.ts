import type { TrafficStats } from "../admin/metrics.ts";
import type { PeerHealthStats } from "../upstream/health.ts";
import type { PeerSnapshot, ProxySnapshot, UpstreamSnapshot } from "../proxy/snapshot.ts";

/**
 * Combines the snapshots of worker processes that run one config into one view of the proxy.
 * Counts add up: connections, requests in flight, pool counts and ejections. Listeners, routes,
 * balancing and weights come from the first snapshot. The result is draining when `draining` is
 * set or any worker drains.
 *
 * Each worker checks its peers' health on its own. A merged peer is enabled, healthy and
 * available only when it is so on every worker, and ejected when any worker ejected it. The
 * other health fields come from the worker with the worst view of the peer.
 */
export function mergeSnapshots(snapshots: readonly ProxySnapshot[], draining: boolean): ProxySnapshot {
  const first = snapshots[0];
  if (first === undefined) {
    return { draining, openConnections: 0, listeners: [], routes: [], upstreams: [] };
  }
  const upstreams: UpstreamSnapshot[] = first.upstreams.map((upstream) => {
    const copies = snapshots.map((snapshot) => snapshot.upstreams.find((entry) => entry.name === upstream.name))
      .filter((entry): entry is UpstreamSnapshot => entry !== undefined);
    return {
      name: upstream.name,
      balancing: upstream.balancing,
      pool: sumFields(copies.map((copy) => copy.pool)),
      peers: upstream.peers.map((peer) => {
        const peers = copies.map((copy) => copy.peers.find((entry) => entry.label === peer.label))
          .filter((entry): entry is PeerSnapshot => entry !== undefined);
        return {
          label: peer.label,
          weight: peer.weight,
          inFlight: peers.reduce((sum, entry) => sum + entry.inFlight, 0),
          health: mergeHealth(peers.map((entry) => entry.health)),
          pool: sumFields(peers.map((entry) => entry.pool)),
        };
      }),
    };
  });
  return {
    draining: draining || snapshots.some((snapshot) => snapshot.draining),
    openConnections: snapshots.reduce((sum, snapshot) => sum + snapshot.openConnections, 0),
    listeners: first.listeners,
    routes: first.routes,
    upstreams,
  };
}

/**
 * Adds up the traffic counts and rates of worker processes. The rate window is the longest one
 * of any worker.
 */
export function mergeTraffic(workerStats: readonly TrafficStats[]): TrafficStats {
  const routes = new Map<string, { route: string; requests: number; errors: number }>();
  for (const traffic of workerStats) {
    for (const entry of traffic.routes) {
      const total = routes.get(entry.route) ?? { route: entry.route, requests: 0, errors: 0 };
      total.requests += entry.requests;
      total.errors += entry.errors;
      routes.set(entry.route, total);
    }
  }
  const sum = (pick: (traffic: TrafficStats) => number) =>
    workerStats.reduce((total, traffic) => total + pick(traffic), 0);
  return {
    requests: sum((traffic) => traffic.requests),
    errors: sum((traffic) => traffic.errors),
    requestsPerSecond: sum((traffic) => traffic.requestsPerSecond),
    errorsPerSecond: sum((traffic) => traffic.errorsPerSecond),
    rateWindowSeconds: Math.max(0, ...workerStats.map((traffic) => traffic.rateWindowSeconds)),
    routes: [...routes.values()],
  };
}

function mergeHealth(states: readonly (PeerHealthStats | undefined)[]): PeerHealthStats | undefined {
  const known = states.filter((state): state is PeerHealthStats => state !== undefined);
  if (known.length === 0) return undefined;
  // Disabled ranks worse than ejected, which ranks worse than unhealthy.
  const rank = (state: PeerHealthStats) =>
    (state.enabled ? 0 : 4) + (state.ejected ? 2 : 0) + (state.healthy ? 0 : 1);
  const worst = known.reduce((a, b) => rank(b) > rank(a) ? b : a);
  return {
    ...worst,
    enabled: known.every((state) => state.enabled),
    healthy: known.every((state) => state.healthy),
    ejected: known.some((state) => state.ejected),
    available: known.every((state) => state.available),
    ejections: known.reduce((sum, state) => sum + state.ejections, 0),
  };
}

/** Adds up the numeric fields of objects of one shape. Other fields come from the first object. */
function sumFields<T extends object>(items: readonly T[]): T {
  const total = { ...items[0] } as Record<string, number>;
  for (const item of items.slice(1)) {
    for (const [key, value] of Object.entries(item)) {
      if (typeof value === "number") total[key] += value;
    }
  }
  return total as T;
}
