import type { FieldList } from "./head-parser.ts";

/** Returns the value of the first field with this lower-case name. */
export function getField(fields: FieldList, lowerName: string): string | undefined {
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) return fields[i + 1];
  }
  return undefined;
}

/** Returns the values of every field with this lower-case name, in order. */
export function getAllFields(fields: FieldList, lowerName: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i];
    if (name.length === lowerName.length && name.toLowerCase() === lowerName) {
      values.push(fields[i + 1]);
    }
  }
  return values;
}

/**
 * Splits list-valued fields (RFC 9110 §5.6.1) into trimmed elements, dropping empty ones,
 * which recipients must accept.
 */
export function splitList(values: readonly string[]): string[] {
  const elements: string[] = [];
  for (const value of values) {
    for (const part of value.split(",")) {
      const element = part.replace(/^[ \t]+|[ \t]+$/g, "");
      if (element.length > 0) elements.push(element);
    }
  }
  return elements;
}

/** Connection options (RFC 9110 §7.6.1), lower-cased. */
export function connectionTokens(values: readonly string[]): Set<string> {
  const tokens = new Set<string>();
  for (const element of splitList(values)) tokens.add(element.toLowerCase());
  return tokens;
}
