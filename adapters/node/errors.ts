import { NetworkError, type NetworkErrorCode } from "../../src/net/types.ts";

/** Error codes of Node and Bun sockets (the same names) and their `NetworkErrorCode`. */
const SOCKET_ERROR_CODES: Record<string, NetworkErrorCode> = {
  ECONNREFUSED: "ECONNREFUSED",
  ECONNRESET: "ECONNRESET",
  ECONNABORTED: "ECONNRESET",
  ETIMEDOUT: "ETIMEDOUT",
  EADDRINUSE: "EADDRINUSE",
  EADDRNOTAVAIL: "EADDRNOTAVAIL",
  ENOTFOUND: "ENOTFOUND",
  EAI_AGAIN: "ENOTFOUND",
  EPIPE: "EPIPE",
  ABORT_ERR: "ABORTED",
};

/**
 * Maps a Node or Bun socket error to a `NetworkError`. `duringHandshake` marks errors raised
 * between the TCP connect and the end of the TLS handshake, reported with OpenSSL codes.
 */
export function toNetworkError(error: unknown, duringHandshake: boolean): NetworkError {
  if (error instanceof NetworkError) {
    return error;
  }
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const mapped = typeof code === "string" ? SOCKET_ERROR_CODES[code] : undefined;
  if (mapped !== undefined) {
    return new NetworkError(mapped, message, { cause: error });
  }
  if (duringHandshake || (typeof code === "string" && /SSL|TLS|CERT/.test(code))) {
    return new NetworkError("TLS", `TLS handshake failed: ${message}`, { cause: error });
  }
  return new NetworkError("UNKNOWN", message, { cause: error });
}
