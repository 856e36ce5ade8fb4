import type { ProxyError } from "./errors.ts";

/** One finished exchange, as the access log writes it. */
export interface AccessRecord {
  /** Start of the exchange, as an ISO 8601 timestamp. */
  time: string;
  requestId: string;
  client: string;
  method: string;
  target: string;
  host: string | undefined;
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
  totalTimeMs: number;
  /** Error code when the exchange failed. */
  error: string | undefined;
}

/**
 * What the core reports; it never logs by itself. The logger subscribes by implementing this
 * interface.
 */
export interface ProxyEvents {
  access(record: AccessRecord): void;
  /** An exchange failed; `record` is logged separately through `access`. */
  exchangeError(error: ProxyError, context: { requestId: string; client: string; upstream?: string }): void;
  /** A client connection failed outside an exchange (a bad request head, a timeout). */
  connectionError(error: ProxyError, context: { client: string }): void;
}
