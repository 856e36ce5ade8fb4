/**
 * Locates values of a parsed YAML document in its text, so that schema problems can name a line
 * and be listed in file order.
 */

import { type Document, isAlias, isMap, isNode, isScalar, isSeq } from "yaml";

/**
 * Returns the offset in the YAML text of the value at `path`, such as `["routes", 2,
 * "upstream"]`. A map entry is located by its key, so the offset points at `upstream:`. When
 * the value is missing, such as a required key that was left out, returns the offset of its
 * deepest ancestor in the document. Returns undefined when the document does not contain even
 * the first segment, because the whole document is no useful location.
 */
export function findPathOffset(
  document: Document,
  path: readonly (string | number)[],
): number | undefined {
  let node: unknown = document.contents;
  let offset: number | undefined;
  for (const segment of path) {
    if (isAlias(node)) {
      node = node.resolve(document);
    }

    if (isMap(node)) {
      // toJS turns every key into a string, so `1:` is the key "1" in the path.
      const pair = node.items.find((item) =>
        isScalar(item.key) && String(item.key.value) === String(segment)
      );
      if (pair === undefined || !isNode(pair.key)) {
        break;
      }
      offset = pair.key.range?.[0] ?? offset;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === "number") {
      const item: unknown = node.items[segment];
      if (!isNode(item)) {
        break;
      }
      offset = item.range?.[0] ?? offset;
      node = item;
    } else {
      break;
    }
  }
  return offset;
}
