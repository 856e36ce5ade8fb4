import { HttpParseError } from "../http/parse-error.ts";
import { NetworkError } from "../net/types.ts";
import { PoolError } from "../pool/pool.ts";

/** The side of the proxy an error came from. */
export type ErrorSource = "downstream" | "upstream" | "internal";

/** Stable codes for every way an exchange can fail; `STATUS_BY_CODE` maps each to a status. */
export type ProxyErrorCode =
  | "BAD_REQUEST"
  | "REQUEST_TIMEOUT"
  | "NO_ROUTE"
  | "NO_PEER"
  | "CONNECT_FAILED"
  | "CONNECT_TIMEOUT"
  | "QUEUE_FULL"
  | "QUEUE_TIMEOUT"
  | "UPSTREAM_CLOSED"
  | "INVALID_RESPONSE"
  | "RESPONSE_TIMEOUT"
  | "UPSTREAM_IDLE_TIMEOUT"
  | "TOTAL_TIMEOUT"
  | "CLIENT_CLOSED"
  | "CLIENT_TIMEOUT"
  | "SHUTDOWN"
  | "INTERNAL";

/**
 * The one place errors become statuses. A parse error of the request keeps the status the
 * parser chose (400, 413, 414, 431, 501, 505). `CLIENT_CLOSED` is never sent: the client is
 * gone, and logs show 499 as nginx does.
 */
const STATUS_BY_CODE: Record<ProxyErrorCode, number> = {
  BAD_REQUEST: 400,
  REQUEST_TIMEOUT: 408,
  NO_ROUTE: 404,
  NO_PEER: 503,
  CONNECT_FAILED: 502,
  CONNECT_TIMEOUT: 504,
  QUEUE_FULL: 503,
  QUEUE_TIMEOUT: 503,
  UPSTREAM_CLOSED: 502,
  INVALID_RESPONSE: 502,
  RESPONSE_TIMEOUT: 504,
  UPSTREAM_IDLE_TIMEOUT: 504,
  TOTAL_TIMEOUT: 504,
  CLIENT_CLOSED: 499,
  CLIENT_TIMEOUT: 408,
  SHUTDOWN: 503,
  INTERNAL: 500,
};

/**
 * Messages for the client about failures on Cairn's side. The details (peer addresses, errors
 * from the operating system) go to the log only, because an edge proxy must not show its
 * internal network to the outside.
 */
const CLIENT_MESSAGES: Partial<Record<ProxyErrorCode, string>> = {
  NO_PEER: "no upstream server is available",
  CONNECT_FAILED: "the upstream server could not be reached",
  CONNECT_TIMEOUT: "the upstream server did not accept the connection in time",
  QUEUE_FULL: "the upstream servers are busy",
  QUEUE_TIMEOUT: "no connection to an upstream server became free in time",
  UPSTREAM_CLOSED: "the upstream server closed the connection before its response was complete",
  INVALID_RESPONSE: "the upstream server sent an invalid response",
  RESPONSE_TIMEOUT: "the upstream server did not respond in time",
  UPSTREAM_IDLE_TIMEOUT: "the upstream server stopped sending its response",
  TOTAL_TIMEOUT: "the upstream server did not complete the response in time",
  SHUTDOWN: "the proxy is shutting down",
  INTERNAL: "internal error",
};

/** An exchange failure with its source and whether the request may be sent again. */
export class ProxyError extends Error {
  readonly code: ProxyErrorCode;
  readonly source: ErrorSource;
  /** True when nothing of the request reached the origin, so another peer may be tried. */
  readonly retryable: boolean;
  /** Status of the error response: the parser's status for request parse errors, else the code's. */
  readonly status: number;
  /** Value of the `Retry-After` field of the error response, in seconds, when it has one. */
  readonly retryAfterSeconds: number | undefined;

  constructor(
    code: ProxyErrorCode,
    message: string,
    options: {
      source: ErrorSource;
      retryable?: boolean;
      status?: number;
      retryAfterSeconds?: number;
      cause?: unknown;
    },
  ) {
    super(message, { cause: options.cause });
    this.name = "ProxyError";
    this.code = code;
    this.source = options.source;
    this.retryable = options.retryable ?? false;
    this.status = options.status ?? STATUS_BY_CODE[code];
    this.retryAfterSeconds = options.retryAfterSeconds;
  }

  /** The text for the client's error response: the full message only for client mistakes. */
  get clientMessage(): string {
    return CLIENT_MESSAGES[this.code] ?? this.message;
  }

  /** The most precise code for logs: a parse error's own code when there is one. */
  get detailCode(): string {
    return this.cause instanceof HttpParseError ? this.cause.code : this.code;
  }

  /** Wraps a parse error of the client's request; the parser's status is kept. */
  static fromRequestParse(error: HttpParseError): ProxyError {
    return new ProxyError("BAD_REQUEST", error.message, {
      source: "downstream",
      status: error.status,
      cause: error,
    });
  }

  /** Wraps a parse error of the origin's response: always 502. */
  static fromResponseParse(error: HttpParseError): ProxyError {
    return new ProxyError("INVALID_RESPONSE", `invalid response from upstream: ${error.message}`, {
      source: "upstream",
      cause: error,
    });
  }

  /** Wraps a failed connect to a peer; a connect timeout becomes `CONNECT_TIMEOUT`. */
  static fromConnect(error: unknown, peer: string): ProxyError {
    if (error instanceof ProxyError) return error;
    const code = error instanceof NetworkError ? error.code : "UNKNOWN";
    const detail = error instanceof Error ? error.message : String(error);
    if (code === "ETIMEDOUT") {
      return new ProxyError("CONNECT_TIMEOUT", `connect to ${peer} timed out: ${detail}`, {
        source: "upstream",
        retryable: true,
        cause: error,
      });
    }
    return new ProxyError("CONNECT_FAILED", `connect to ${peer} failed (${code}): ${detail}`, {
      source: "upstream",
      retryable: true,
      cause: error,
    });
  }

  /**
   * Wraps a failed `ConnectionPool.acquire`: a connect failure, a full or timed-out wait queue
   * (503, retryable because nothing was sent), or a pool closed by shutdown.
   */
  static fromAcquire(error: unknown, peer: string): ProxyError {
    if (!(error instanceof PoolError)) return ProxyError.fromConnect(error, peer);
    switch (error.code) {
      case "QUEUE_FULL":
      case "QUEUE_TIMEOUT":
        return new ProxyError(error.code, error.message, {
          source: "upstream",
          retryable: true,
          retryAfterSeconds: 1,
          cause: error,
        });
      case "POOL_CLOSED":
        return new ProxyError("SHUTDOWN", error.message, { source: "internal", cause: error });
      case "ABORTED":
        return new ProxyError("INTERNAL", error.message, { source: "internal", cause: error });
    }
  }
}

/** Turns anything thrown into a ProxyError, keeping its message. */
export function toProxyError(error: unknown): ProxyError {
  if (error instanceof ProxyError) return error;
  if (error instanceof HttpParseError) return ProxyError.fromRequestParse(error);
  const message = error instanceof Error ? error.message : String(error);
  return new ProxyError("INTERNAL", message, { source: "internal", cause: error });
}
