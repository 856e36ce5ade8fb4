/**
 * Parsers for the durations and sizes written in the configuration file.
 *
 * Both take a whole number followed by a unit, with no space between them: `250ms`, `30s`,
 * `64KiB`. Decimals, signs, exponents and spaces are rejected, so a value means exactly what it
 * reads as. A size may omit the unit, which then means bytes. A duration may omit the unit only
 * when the number is 0, because zero is the same in every unit (Go's `time.ParseDuration` makes
 * the same exception).
 */

/** Outcome of parsing one value: the number in the target unit, or a message saying why not. */
export type UnitResult = { ok: true; value: number } | { ok: false; message: string };

/**
 * Largest duration accepted, in milliseconds: 2^31 - 1, about 24.8 days. A larger `setTimeout`
 * delay overflows and is replaced by 1ms, so the timer fires almost at once (observed with
 * Node 20, Bun 1.4.5 and Deno 2.9.6).
 */
export const MAX_DURATION_MS = 2_147_483_647;

const DURATION_UNITS_MS: ReadonlyMap<string, number> = new Map([
  ["ms", 1],
  ["s", 1_000],
  ["m", 60_000],
  ["h", 3_600_000],
]);

const SIZE_UNITS_BYTES: ReadonlyMap<string, number> = new Map([
  ["B", 1],
  ["KB", 1_000],
  ["MB", 1_000_000],
  ["GB", 1_000_000_000],
  ["TB", 1_000_000_000_000],
  ["KiB", 1024],
  ["MiB", 1024 ** 2],
  ["GiB", 1024 ** 3],
  ["TiB", 1024 ** 4],
]);

const DURATION_UNIT_LIST = "ms, s, m or h";
const SIZE_UNIT_LIST = "B, KB, MB, GB, TB (powers of 1000) or KiB, MiB, GiB, TiB (powers of 1024)";

/** A whole number, an optional fraction (matched only to reject it clearly) and a unit. */
const QUANTITY_PATTERN = /^(\d+)(?:\.(\d*))?([A-Za-z]*)$/;

interface Quantity {
  digits: string;
  /** Digits after the decimal point, or undefined when there is no point. */
  fraction: string | undefined;
  unit: string;
}

/**
 * Parses a duration such as `250ms`, `30s`, `5m` or `1h` into milliseconds. A YAML number is
 * accepted only when it is 0, because any other bare number leaves the unit to a guess.
 */
export function parseDurationMs(input: string | number): UnitResult {
  const text = String(input);
  const quantity = splitQuantity(text, "duration", "30s");
  if ("message" in quantity) {
    return { ok: false, message: quantity.message };
  }

  const { digits, fraction, unit } = quantity;
  if (unit === "") {
    const amount = Number(digits);
    if (amount === 0 && fraction === undefined) {
      return { ok: true, value: 0 };
    }
    const advice = fraction === undefined
      ? `write ${amount}ms, ${amount}s, ${amount}m or ${amount}h`
      : `write a whole number and a unit, such as 1500ms`;
    return { ok: false, message: `duration "${text}" has no unit: ${advice}` };
  }

  const factor = DURATION_UNITS_MS.get(unit);
  if (factor === undefined) {
    const hint = suggestUnit(unit, DURATION_UNITS_MS);
    return {
      ok: false,
      message: `unknown unit "${unit}" in duration "${text}": use ${DURATION_UNIT_LIST}${hint}`,
    };
  }

  if (fraction !== undefined) {
    const exact = scaleExactly(digits, fraction, factor);
    const advice = exact === undefined
      ? "durations are whole milliseconds"
      : `write ${formatInLargestUnit(exact, DURATION_UNITS_MS)}`;
    return { ok: false, message: `decimal duration "${text}" is not supported: ${advice}` };
  }

  const value = Number(digits) * factor;
  if (value > MAX_DURATION_MS) {
    return {
      ok: false,
      message: `duration "${text}" is too large: the maximum is ${MAX_DURATION_MS}ms ` +
        `(about 24 days), the longest timer delay JavaScript runtimes support`,
    };
  }
  return { ok: true, value };
}

/**
 * Parses a size such as `512`, `64KiB`, `1MiB` or `10MB` into bytes. A bare number, written as a
 * string or as a YAML number, counts bytes. Results above `Number.MAX_SAFE_INTEGER` are rejected
 * because they cannot be stored exactly.
 */
export function parseSizeBytes(input: string | number): UnitResult {
  const text = String(input);
  const quantity = splitQuantity(text, "size", "64KiB");
  if ("message" in quantity) {
    return { ok: false, message: quantity.message };
  }

  const { digits, fraction, unit } = quantity;
  const factor = unit === "" ? 1 : SIZE_UNITS_BYTES.get(unit);
  if (factor === undefined) {
    const hint = suggestUnit(unit, SIZE_UNITS_BYTES);
    return {
      ok: false,
      message: `unknown unit "${unit}" in size "${text}": use ${SIZE_UNIT_LIST}${hint}`,
    };
  }

  if (fraction !== undefined) {
    const exact = scaleExactly(digits, fraction, factor);
    // Suggest a unit of the same family: KiB for MiB, KB for MB.
    const family = new Map(
      [...SIZE_UNITS_BYTES].filter(([name]) =>
        name === "B" || name.endsWith("iB") === unit.endsWith("iB")
      ),
    );
    const advice = exact === undefined
      ? "sizes are whole bytes"
      : `write ${formatInLargestUnit(exact, family)}`;
    return { ok: false, message: `decimal size "${text}" is not supported: ${advice}` };
  }

  const value = Number(digits) * factor;
  if (!Number.isSafeInteger(value)) {
    return {
      ok: false,
      message: `size "${text}" is too large: the maximum is ${Number.MAX_SAFE_INTEGER} bytes`,
    };
  }
  return { ok: true, value };
}

/** Splits `text` into digits, fraction and unit, or returns a message naming what is wrong. */
function splitQuantity(
  text: string,
  kind: "duration" | "size",
  example: string,
): Quantity | { message: string } {
  if (text === "") {
    return { message: `empty ${kind}: write a whole number and a unit, such as ${example}` };
  }
  if (text.startsWith("-")) {
    return { message: `negative ${kind} "${text}": ${kind}s must be 0 or more` };
  }

  const match = QUANTITY_PATTERN.exec(text);
  if (match === null) {
    return {
      message: `invalid ${kind} "${text}": write a whole number and a unit with no space ` +
        `between them, such as ${example}`,
    };
  }

  const [, digits, fraction, unit] = match;
  if (!Number.isSafeInteger(Number(digits))) {
    return { message: `${kind} "${text}" is too large` };
  }
  return { digits, fraction, unit };
}

/**
 * Returns `digits.fraction` times `factor` when the product is a whole number, computed with
 * BigInt so that no rounding creeps in, or undefined when it is not whole.
 */
function scaleExactly(digits: string, fraction: string, factor: number): number | undefined {
  const scale = 10n ** BigInt(fraction.length);
  const scaled = BigInt(digits + fraction) * BigInt(factor);
  if (scaled % scale !== 0n) {
    return undefined;
  }
  const value = Number(scaled / scale);
  return Number.isSafeInteger(value) ? value : undefined;
}

/** Writes `value` in the largest of `units` that divides it exactly, such as `90m`. */
function formatInLargestUnit(value: number, units: ReadonlyMap<string, number>): string {
  let best = "";
  let bestFactor = 0;
  for (const [name, factor] of units) {
    if (factor > bestFactor && value % factor === 0) {
      best = name;
      bestFactor = factor;
    }
  }
  return `${value / bestFactor}${best}`;
}

/** Returns ` (did you mean "KiB"?)` when `unit` differs from a known unit only in letter case. */
function suggestUnit(unit: string, units: ReadonlyMap<string, number>): string {
  const lower = unit.toLowerCase();
  for (const known of units.keys()) {
    if (known.toLowerCase() === lower) {
      return ` (did you mean "${known}"?)`;
    }
  }
  return "";
}
