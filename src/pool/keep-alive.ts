import { getAllFields, splitList } from "../http/fields.ts";
import type { FieldList } from "../http/head-parser.ts";

/** Largest `timeout` honoured, in seconds (one day). Longer values count as this. */
const MAX_KEEP_ALIVE_SECONDS = 86_400;

/**
 * Returns the idle timeout an origin announces with `Keep-Alive: timeout=N` in seconds, as
 * milliseconds, or undefined when the response has no valid one. The field is an HTTP/1.0
 * extension that servers still send (Node 20's http server sends `Keep-Alive: timeout=5`).
 * Parameter names ignore case, values may be quoted, and the first valid `timeout` wins.
 */
export function keepAliveTimeoutMs(fields: FieldList): number | undefined {
  for (const parameter of splitList(getAllFields(fields, "keep-alive"))) {
    const equals = parameter.indexOf("=");
    if (equals === -1 || parameter.slice(0, equals).trim().toLowerCase() !== "timeout") {
      continue;
    }
    let value = parameter.slice(equals + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    if (/^\d{1,10}$/.test(value)) {
      return Math.min(Number(value), MAX_KEEP_ALIVE_SECONDS) * 1000;
    }
  }
  return undefined;
}
