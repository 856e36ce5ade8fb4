/** An inclusive range of HTTP status codes. A single status has `min` equal to `max`. */
export interface StatusRange {
  readonly min: number;
  readonly max: number;
}

export type StatusRangesResult =
  | { ok: true; value: StatusRange[] }
  | { ok: false; message: string };

const RANGE_PATTERN = /^(\d{3})(?:-(\d{3}))?$/;
const LOWEST_STATUS = 100;
const HIGHEST_STATUS = 599;

/**
 * Parses expected statuses as the configuration writes them: a status (`200`), a range
 * (`"200-399"`), or a list of both (`[200, 204, "300-399"]`).
 */
export function parseStatusRanges(value: unknown): StatusRangesResult {
  const items = Array.isArray(value) ? value : [value];
  if (items.length === 0) {
    return { ok: false, message: "the status list is empty: list at least one status" };
  }

  const ranges: StatusRange[] = [];
  for (const item of items) {
    const text = typeof item === "number" || typeof item === "string" ? String(item).trim() : "";
    const match = RANGE_PATTERN.exec(text);
    const min = match === null ? NaN : Number(match[1]);
    const max = match === null ? NaN : Number(match[2] ?? match[1]);
    if (!(min >= LOWEST_STATUS && max <= HIGHEST_STATUS && min <= max)) {
      return {
        ok: false,
        message: `invalid status ${JSON.stringify(item)}: write a status from ` +
          `${LOWEST_STATUS} to ${HIGHEST_STATUS} or a range such as "200-399"`,
      };
    }
    ranges.push({ min, max });
  }
  return { ok: true, value: ranges };
}

/** Returns whether `status` falls in any of `ranges`. */
export function statusInRanges(status: number, ranges: readonly StatusRange[]): boolean {
  return ranges.some((range) => status >= range.min && status <= range.max);
}
