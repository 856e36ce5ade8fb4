import { encodeHead } from "./bytes.ts";
import type { FieldList } from "./head-parser.ts";

/** Serialises a request head with Cairn's own version, HTTP/1.1 (RFC 9112 §2.3). */
export function serializeRequestHead(method: string, target: string, fields: FieldList): Uint8Array {
  let text = method + " " + target + " HTTP/1.1\r\n";
  for (let i = 0; i < fields.length; i += 2) text += fields[i] + ": " + fields[i + 1] + "\r\n";
  return encodeHead(text + "\r\n");
}

/** Serialises a response head as HTTP/1.1. */
export function serializeResponseHead(status: number, reason: string, fields: FieldList): Uint8Array {
  let text = "HTTP/1.1 " + status + " " + reason + "\r\n";
  for (let i = 0; i < fields.length; i += 2) text += fields[i] + ": " + fields[i + 1] + "\r\n";
  return encodeHead(text + "\r\n");
}
