import type { AccessRecord } from "../proxy/events.ts";

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/**
 * Formats an access record in the combined log format of Apache httpd and nginx:
 * `%h - - [%d/%b/%Y:%H:%M:%S %z] "%r" %>s %b "%{Referer}i" "%{User-Agent}i"`, plus `\n`.
 * Missing values and a zero body size are written as `-`, as Apache's `%b` does. In the quoted
 * fields `"` and `\` are escaped with a backslash and control characters are written as `\xHH`,
 * so one record is always one line.
 */
export function formatCombined(record: AccessRecord): string {
  // A rejected request head has no method, and its request line is written as `-`.
  let requestLine = "";
  if (record.method !== "") {
    requestLine = record.httpVersion === undefined
      ? `${record.method} ${record.target}`
      : `${record.method} ${record.target} ${record.httpVersion}`;
  }
  const bytes = record.bytesOut === 0 ? "-" : String(record.bytesOut);
  return `${record.client || "-"} - - [${formatCombinedTime(record.startTime)}] ${quote(requestLine)} ` +
    `${record.status} ${bytes} ${quote(record.referer)} ${quote(record.userAgent)}\n`;
}

/**
 * Formats milliseconds since the Unix epoch as `10/Oct/2000:13:55:36 +0000`. The time zone is
 * always UTC, where Apache and nginx use the server's local zone.
 */
export function formatCombinedTime(epochMs: number): string {
  const date = new Date(epochMs);
  const day = pad(date.getUTCDate());
  const month = MONTHS[date.getUTCMonth()];
  const time = `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  return `${day}/${month}/${date.getUTCFullYear()}:${time} +0000`;
}

/** Returns `value` in double quotes with `"`, `\` and control characters escaped, or `"-"`. */
function quote(value: string | undefined): string {
  if (value === undefined || value === "") return `"-"`;
  // deno-lint-ignore no-control-regex
  const escaped = value.replace(/["\\\x00-\x1f\x7f]/g, (char) => {
    if (char === '"' || char === "\\") return `\\${char}`;
    return `\\x${char.charCodeAt(0).toString(16).padStart(2, "0")}`;
  });
  return `"${escaped}"`;
}

function pad(value: number): string {
  return String(value).padStart(2, "0");
}
