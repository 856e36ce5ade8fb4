import type { PeerConfig, UpstreamConfig } from "../config/schema.ts";
import { ipAddressFamily } from "../net/ip-address.ts";
import type { ClientTlsOptions, Network } from "../net/types.ts";
import { ConnectionPool, type PeerTarget } from "../pool/pool.ts";
import { createBalancer } from "../upstream/create-balancer.ts";
import { type DiscoveredPeer, PeerDiscovery, type PeerSetChange } from "../upstream/discovery.ts";
import { HealthChecker } from "../upstream/health-check.ts";
import { type HealthEvent, HealthRegistry } from "../upstream/health.ts";
import { RetryBudget } from "../upstream/retry-budget.ts";
import { PeerSelector } from "../upstream/selector.ts";
import type { UpstreamGroup, UpstreamPeer } from "./context.ts";
import type { PeerHealthChange, ProxyEvents } from "./events.ts";

/**
 * Maximum wait at start for the first resolution of the peers' host names. The listeners open
 * after it either way, and until a name resolves, connects to its peer resolve the name.
 */
const DISCOVERY_START_WAIT_MS = 5_000;

/**
 * Maximum wait at shutdown for a resolution under way. `Network.resolve` has no deadline of its
 * own, so a resolver that never responds must not keep the proxy from stopping.
 */
const DISCOVERY_STOP_WAIT_MS = 5_000;

export interface UpstreamGroupOptions {
  network: Network;
  events: ProxyEvents;
  /** Reads a file named in the config, such as a CA bundle. */
  readTextFile(path: string): Promise<string>;
}

/** An upstream group and the work that runs in the background for it. */
export interface RunningUpstreamGroup {
  readonly group: UpstreamGroup;
  /** Stops the health checks and discovery, then closes the connection pool. */
  stop(): Promise<void>;
  /**
   * Stops the health checks and discovery and retires the pool, for a group that a reload
   * replaced: requests already routed to it finish, and its connections close as they end.
   */
  retire(): Promise<void>;
}

/**
 * Builds the group for one configured upstream: its balancer, health registry, selector, pool
 * and retry budget. Starts its active health checks and its discovery when the config has
 * them, and waits up to `DISCOVERY_START_WAIT_MS` for the first resolution.
 */
export async function startUpstreamGroup(
  upstream: UpstreamConfig,
  options: UpstreamGroupOptions,
): Promise<RunningUpstreamGroup> {
  const { network, events } = options;
  const tls = await clientTls(upstream, options);

  // Discovery hands out one object per address. Each maps to one UpstreamPeer, which stays the
  // same object while the address stays, so its health and requests in flight carry over.
  const peersByKey = new Map<string, UpstreamPeer>();
  const peerFor = (discovered: DiscoveredPeer<PeerConfig>): UpstreamPeer => {
    let peer = peersByKey.get(discovered.key);
    if (peer === undefined) {
      peer = upstreamPeer(discovered.spec, tls, discovered.address);
      peersByKey.set(discovered.key, peer);
    }
    return peer;
  };

  let discovery: PeerDiscovery<PeerConfig> | undefined;
  if (upstream.discovery !== undefined) {
    discovery = new PeerDiscovery(network, {
      specs: upstream.peers,
      resolveIntervalMs: upstream.discovery.resolveIntervalMs,
      onChange: (change) => applyDiscovery(change),
      onError: (error, spec) =>
        events.discoveryError(error, { upstreamName: upstream.name, hostname: spec.hostname }),
    });
  }
  const configured = discovery === undefined
    ? upstream.peers.map((spec) => ({ spec, peer: upstreamPeer(spec, tls, spec.hostname) }))
    : discovery.peers.map((discovered) => ({ spec: discovered.spec, peer: peerFor(discovered) }));
  const peers = configured.map((entry) => entry.peer);

  const check = upstream.healthCheck;
  const health = new HealthRegistry(peers, {
    healthyThreshold: check?.healthyThreshold,
    unhealthyThreshold: check?.unhealthyThreshold,
    passive: upstream.passive,
    onChange: (event) => events.healthChanged(describeHealthEvent(upstream.name, event)),
  });
  // `enabled: false` is the operator's switch, which the registry keeps apart from health: the
  // peer gets no requests, but its active checks go on, so its health is known when enabled.
  for (const { spec, peer } of configured) {
    if (!spec.enabled) health.setEnabled(peer, false);
  }
  const selector = new PeerSelector({
    balancer: createBalancer(upstream.balancing, peers, { peerKey: (peer) => peer.target.key }),
    health,
    hashKey: upstream.hashKey,
  });
  const pool = new ConnectionPool(network, {
    maxIdlePerPeer: upstream.pool.maxIdlePerPeer,
    idleTimeoutMs: upstream.pool.idleTimeoutMs,
    connectTimeoutMs: upstream.timeouts.connectMs,
    maxConnectionsPerPeer: upstream.pool.maxConnectionsPerPeer,
    maxQueue: upstream.pool.maxQueue,
    queueTimeoutMs: upstream.pool.queueTimeoutMs,
    maxRequestsPerConnection: upstream.pool.maxRequestsPerConnection,
    maxConnectionAgeMs: upstream.pool.maxConnectionAgeMs,
    keepAliveMarginMs: upstream.pool.keepAliveMarginMs,
  });
  const group: UpstreamGroup = {
    name: upstream.name,
    selector,
    retryBudget: new RetryBudget({ budgetPercent: upstream.retries.budgetPercent }),
    retries: {
      attempts: upstream.retries.attempts,
      onStatuses: new Set(upstream.retries.onStatuses),
    },
    pool,
    timeouts: upstream.timeouts,
  };

  function applyDiscovery(change: PeerSetChange<PeerConfig>): void {
    const next = change.peers.map(peerFor);
    const removed = change.removed.map(peerFor);
    for (const discovered of change.removed) peersByKey.delete(discovered.key);
    selector.setPeers(next);
    // Connections in use finish their exchanges. Idle ones would never be used again.
    for (const peer of removed) pool.closeIdle(peer.target.key);
    events.discoveryChanged({
      upstreamName: upstream.name,
      added: change.added.map((discovered) => peerFor(discovered).label),
      removed: removed.map((peer) => peer.label),
      peers: next.length,
    });
    // A new address of a disabled peer starts disabled too.
    for (const discovered of change.added) {
      if (!discovered.spec.enabled) health.setEnabled(peerFor(discovered), false);
    }
  }

  let checker: HealthChecker<UpstreamPeer> | undefined;
  if (check !== undefined) {
    checker = new HealthChecker(network, {
      settings: check,
      registry: health,
      target: (peer) => ({ ...peer.target, authority: peer.authority }),
    });
    checker.start();
  }
  if (discovery !== undefined) {
    discovery.start();
    // The round that start() began is joined here, not repeated.
    await waitAtMost(discovery.refresh(), DISCOVERY_START_WAIT_MS);
  }

  const stopBackgroundWork = async () => {
    const discoveryStopped = discovery === undefined
      ? undefined
      : waitAtMost(discovery.stop(), DISCOVERY_STOP_WAIT_MS);
    await Promise.all([checker?.stop(), discoveryStopped]);
  };
  return {
    group,
    async stop() {
      await stopBackgroundWork();
      pool.close();
    },
    async retire() {
      pool.retire();
      await stopBackgroundWork();
    },
  };
}

/** Reads the TLS settings that the upstream's `https://` peers share; undefined without such peers. */
async function clientTls(
  upstream: UpstreamConfig,
  options: UpstreamGroupOptions,
): Promise<ClientTlsOptions | undefined> {
  if (!upstream.peers.some((peer) => peer.scheme === "https")) return undefined;
  const tls: ClientTlsOptions = { verify: upstream.tls.verify, serverName: upstream.tls.serverName };
  if (upstream.tls.caFile !== undefined) tls.ca = await options.readTextFile(upstream.tls.caFile);
  return tls;
}

/**
 * Builds the peer for one address of a configured peer. `address` is the configured host name
 * itself unless discovery resolved it. A resolved peer connects to the address, but keeps the
 * configured name for the Host header and for SNI and certificate checks.
 */
function upstreamPeer(
  peer: PeerConfig,
  tls: ClientTlsOptions | undefined,
  address: string,
): UpstreamPeer {
  const hostPart = peer.hostname.includes(":") ? `[${peer.hostname}]` : peer.hostname;
  const resolved = address !== peer.hostname;
  let peerTls: ClientTlsOptions | undefined;
  if (peer.scheme === "https") {
    peerTls = { ...tls };
    // Without a serverName, the adapter sends the host name it connects to for SNI, or no SNI
    // for an IP address (RFC 6066 §3 allows host names only). A resolved peer connects to an
    // IP address, so it names the configured host here.
    if (resolved && peerTls.serverName === undefined && ipAddressFamily(peer.hostname) === undefined) {
      peerTls.serverName = peer.hostname;
    }
  }
  const addressNote = resolved ? ` (${address})` : "";
  const tlsNote = peerTls ? `|${peerTls.serverName ?? ""}|${peerTls.verify}` : "";
  const target: PeerTarget = {
    key: `${peer.scheme}://${hostPart}:${peer.port}${addressNote}${tlsNote}`,
    hostname: address,
    port: peer.port,
    tls: peerTls,
  };
  return {
    target,
    authority: `${hostPart}:${peer.port}`,
    label: `${peer.url}${addressNote}`,
    weight: peer.weight,
  };
}

function describeHealthEvent(
  upstreamName: string,
  event: HealthEvent<UpstreamPeer>,
): PeerHealthChange {
  const change: PeerHealthChange = { upstreamName, peer: event.peer.label, kind: event.kind };
  if (event.kind === "unhealthy") change.detail = event.detail;
  if (event.kind === "ejected") {
    change.detail = event.detail;
    change.durationMs = event.durationMs;
    change.ejections = event.ejections;
  }
  return change;
}

/** Resolves when `promise` settles or after `ms`, whichever comes first. */
async function waitAtMost(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
  });
  try {
    await Promise.race([promise.then(() => {}, () => {}), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
