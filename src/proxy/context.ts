import type { ConnectionPool, PeerTarget } from "../pool/pool.ts";
import type { RetryBudget } from "../upstream/retry-budget.ts";
import type { PeerSelector } from "../upstream/selector.ts";
import type { AccessRecord, ProxyEvents } from "./events.ts";

/** Limits and timeouts for client connections; every one has a default in the config schema. */
export interface DownstreamLimits {
  maxRequestLineBytes: number;
  maxHeaderBytes: number;
  maxHeaderCount: number;
  maxBodyBytes: number;
  /** Longest chunk-size line of a chunked request body, extensions included. */
  maxChunkExtensionBytes: number;
  maxTrailerBytes: number;
  /** Deadline for the whole request head, from its first byte. */
  headerTimeoutMs: number;
  /** Idle time allowed between requests on a kept-alive connection. */
  keepAliveTimeoutMs: number;
  /** Idle time allowed while a request body is read, or while a client does not read. */
  bodyTimeoutMs: number;
  maxRequestsPerConnection: number;
}

/** One origin server of an upstream group. */
export interface UpstreamPeer {
  readonly target: PeerTarget;
  /** `hostname:port`, sent as Host when a request has none. */
  readonly authority: string;
  /** The peer's URL, for logs. */
  readonly label: string;
  readonly weight: number;
}

/** Deadlines of one exchange, which a route may set apart from its upstream's. */
export interface ExchangeTimeouts {
  /** From the end of the request to the response head. */
  responseHeaderMs: number;
  /** Longest silence while a response body is read. */
  idleMs: number;
  /** Deadline for the whole exchange, retries included; undefined means none. */
  totalMs: number | undefined;
}

export interface UpstreamTimeouts extends ExchangeTimeouts {
  /** Applies per peer, because connections are pooled per peer, so routes cannot override it. */
  connectMs: number;
}

/** Rules for sending a request to the next candidate peer after a failed attempt. */
export interface UpstreamRetries {
  /** Tries per request, the first included; 1 turns retries to the next peer off. */
  readonly attempts: number;
  /** Response statuses that send an idempotent request without a body to the next peer. */
  readonly onStatuses: ReadonlySet<number>;
}

export interface UpstreamGroup {
  readonly name: string;
  /** Orders the peers for each request and leaves out those that must not get requests. */
  readonly selector: PeerSelector<UpstreamPeer>;
  /** Limits retries in flight to a share of the requests in flight. */
  readonly retryBudget: RetryBudget;
  readonly retries: UpstreamRetries;
  readonly pool: ConnectionPool;
  readonly timeouts: UpstreamTimeouts;
}

/** The upstream group of a matched route, and the rewrites it applies. */
export interface RouteTarget {
  readonly name: string;
  readonly group: UpstreamGroup;
  /** The group's timeouts with the route's overrides applied. */
  readonly timeouts: ExchangeTimeouts;
  readonly hostRewrite?: string;
  /** Keyed by lower-case field name. */
  readonly setFields?: ReadonlyMap<string, { name: string; value: string }>;
  /** Lower-case field names. */
  readonly removeFields?: ReadonlySet<string>;
}

/** The parts of a request that a routing decision reads. */
export interface RouteRequest {
  host: string | undefined;
  path: string;
  method: string;
  header(lowerName: string): string | undefined;
}

/** The state that client connections of one listener share. */
export interface ProxyContext {
  readonly limits: DownstreamLimits;
  /** `http` or `https`, sent upstream as `X-Forwarded-Proto`. */
  readonly protocol: string;
  /** Whether responses carry the exchange's `X-Request-Id`. */
  readonly echoRequestId: boolean;
  route(request: RouteRequest): RouteTarget | undefined;
  readonly events: ProxyEvents;
  /** True once shutdown began: connections close after their current exchange. */
  readonly draining: boolean;
}

export type { AccessRecord };
