import type { SocketAddress } from "../net/types.ts";
import type { PeerPoolStats, PoolStats } from "../pool/pool.ts";
import type { PeerHealthStats } from "../upstream/health.ts";

/** The state of a running proxy at one moment, for status pages and metrics. */
export interface ProxySnapshot {
  /** True once shutdown began. */
  draining: boolean;
  /** Client connections open now. */
  openConnections: number;
  listeners: { name: string; address: SocketAddress }[];
  routes: { name: string; upstream: string }[];
  upstreams: UpstreamSnapshot[];
}

export interface UpstreamSnapshot {
  name: string;
  balancing: string;
  pool: PoolStats;
  peers: PeerSnapshot[];
}

export interface PeerSnapshot {
  /** The peer's URL, and its address when discovery resolved the host name. */
  label: string;
  weight: number;
  /** Requests in flight to this peer now. */
  inFlight: number;
  /** Undefined only while discovery replaces the peer set. */
  health: PeerHealthStats | undefined;
  pool: PeerPoolStats;
}

/** A read-only view of a running proxy, which the admin API serves. */
export interface ProxyView {
  readonly draining: boolean;
  snapshot(): ProxySnapshot;
}
