import type { HealthEvent } from "../upstream/health.ts";
import type { ProxyError, ProxyErrorCode } from "./errors.ts";

/** One finished exchange, as the access log writes it. */
export interface AccessRecord {
  /**
   * Start of the exchange in milliseconds since the Unix epoch. The access log writes it as an
   * ISO 8601 `time`, formatted only when a line is written.
   */
  startTime: number;
  requestId: string;
  client: string;
  method: string;
  target: string;
  /** Version of the request line, such as `HTTP/1.1`. */
  httpVersion?: string;
  host: string | undefined;
  /** The request's `Referer` value, when it has one. */
  referer?: string;
  /** The request's `User-Agent` value, when it has one. */
  userAgent?: string;
  /** Status sent to the client; 499 when the client closed before the response was complete. */
  status: number;
  /** Request body bytes read from the client. */
  bytesIn: number;
  /** Response body bytes sent to the client. */
  bytesOut: number;
  route: string | undefined;
  upstream: string | undefined;
  /** From sending the request upstream to the response head, or undefined without one. */
  upstreamTimeMs: number | undefined;
  /**
   * Time to open the upstream connection, TLS handshake included, when this exchange opened it;
   * undefined for a pooled connection and without one.
   */
  upstreamConnectTimeMs?: number;
  totalTimeMs: number;
  /** Error code when the exchange failed. */
  error: string | undefined;
}

/** A change of one peer's health, from active checks, passive ejection or the operator. */
export interface PeerHealthChange {
  /** Name of the upstream the peer belongs to. */
  upstreamName: string;
  /** The peer's label: its URL, and its address when discovery resolved the host name. */
  peer: string;
  kind: HealthEvent<unknown>["kind"];
  /** The last failure, for `unhealthy` and `ejected`. */
  detail?: string;
  /** Length of the ejection, for `ejected`. */
  durationMs?: number;
  /** Ejections in a row, counting this one, for `ejected`. */
  ejections?: number;
}

/** A request sent again after a failed attempt. */
export interface RetryRecord {
  requestId: string;
  client: string;
  upstreamName: string;
  /**
   * `next_peer` after a failed attempt on another peer. `fresh_connection` after a pooled
   * connection to the same peer turned out to be closed.
   */
  kind: "next_peer" | "fresh_connection";
  /** Label of the peer of the failed attempt. */
  from: string;
  /** Label of the peer the request goes to now. */
  to: string;
  /** Number of the peer tried now, from 1; a retry on a new connection keeps the number. */
  attempt: number;
  /** Cause of the retry, such as `status 503` or the connect error. */
  reason: string;
  /** Error code of the failure; undefined for a retry on the response status. */
  code: ProxyErrorCode | undefined;
}

/** The peer set of an upstream after discovery resolved its host names anew. */
export interface DiscoveryChange {
  upstreamName: string;
  /** Labels of the peers added and removed. */
  added: string[];
  removed: string[];
  /** Peers in the set now. */
  peers: number;
}

/**
 * The events the core reports, because it never logs by itself. The logger subscribes by
 * implementing this interface.
 */
export interface ProxyEvents {
  access(record: AccessRecord): void;
  /** An exchange failed; `record` is logged separately through `access`. */
  exchangeError(error: ProxyError, context: { requestId: string; client: string; upstream?: string }): void;
  /** A client connection failed outside an exchange (a bad request head, a timeout). */
  connectionError(error: ProxyError, context: { client: string }): void;
  /** A request goes to a peer again after a failed attempt. */
  retry(record: RetryRecord): void;
  /** A peer left or rejoined the rotation, or the operator enabled or disabled it. */
  healthChanged(change: PeerHealthChange): void;
  /** Discovery changed the peer set of an upstream. */
  discoveryChanged(change: DiscoveryChange): void;
  /** Resolving a peer's host name failed; the peer keeps its last addresses. */
  discoveryError(error: Error, context: { upstreamName: string; hostname: string }): void;
}
