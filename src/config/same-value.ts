/**
 * Returns whether two validated config values are deeply equal. Primitives compare with
 * `Object.is`, arrays and maps element by element in order, sets by membership, regular
 * expressions and dates by their string form, and other objects key by key. Both values must
 * have the same prototype. A reload keeps the running upstream group of an upstream whose config
 * compares equal.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;

  if (Array.isArray(a)) {
    const other = b as unknown[];
    return a.length === other.length && a.every((item, index) => sameValue(item, other[index]));
  }

  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>;
    if (a.size !== other.size) return false;
    const entries = [...other];
    let index = 0;
    for (const [key, value] of a) {
      const [otherKey, otherValue] = entries[index++];
      if (!sameValue(key, otherKey) || !sameValue(value, otherValue)) return false;
    }
    return true;
  }

  if (a instanceof Set) {
    const other = b as Set<unknown>;
    if (a.size !== other.size) return false;
    for (const item of a) if (!other.has(item)) return false;
    return true;
  }

  if (a instanceof RegExp || a instanceof Date) return String(a) === String(b);

  const keys = Object.keys(a);
  const otherKeys = Object.keys(b);
  if (keys.length !== otherKeys.length) return false;
  const record = a as Record<string, unknown>;
  const otherRecord = b as Record<string, unknown>;
  return keys.every((key) => Object.hasOwn(otherRecord, key) && sameValue(record[key], otherRecord[key]));
}
