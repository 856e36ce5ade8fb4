/** Reason codes of `HttpParseError`, one per rule of RFC 9112 the input broke. */
export type ParseErrorCode =
  | "BARE_CR"
  | "BARE_LF"
  | "START_LINE_TOO_LONG"
  | "HEAD_TOO_LARGE"
  | "TOO_MANY_FIELDS"
  | "INVALID_METHOD"
  | "INVALID_TARGET"
  | "INVALID_VERSION"
  | "UNSUPPORTED_VERSION"
  | "INVALID_STATUS"
  | "INVALID_FIELD_NAME"
  | "INVALID_FIELD_VALUE"
  | "WHITESPACE_BEFORE_COLON"
  | "OBS_FOLD"
  | "MISSING_COLON"
  | "INVALID_HOST"
  | "INVALID_UPGRADE"
  | "INVALID_CONTENT_LENGTH"
  | "INVALID_TRANSFER_ENCODING"
  | "UNSUPPORTED_TRANSFER_CODING"
  | "CONFLICTING_FRAMING"
  | "BODY_TOO_LARGE"
  | "INVALID_CHUNK_SIZE"
  | "INVALID_CHUNK_EXTENSION"
  | "CHUNK_EXTENSION_TOO_LARGE"
  | "INVALID_CHUNK_END"
  | "INVALID_TRAILER"
  | "METHOD_NOT_ALLOWED";

/**
 * A message that breaks HTTP/1.1 syntax or framing. `status` is the response a server gives a
 * client for it (400 unless a more precise status exists); a proxy maps a parse error in an
 * origin's response to 502 instead.
 */
export class HttpParseError extends Error {
  readonly code: ParseErrorCode;
  /** Offset of the offending byte within the message, or -1 when unknown. */
  readonly offset: number;
  readonly status: number;

  constructor(code: ParseErrorCode, reason: string, offset = -1, status = 400) {
    super(offset >= 0 ? `${reason} (byte ${offset})` : reason);
    this.name = "HttpParseError";
    this.code = code;
    this.offset = offset;
    this.status = status;
  }
}
