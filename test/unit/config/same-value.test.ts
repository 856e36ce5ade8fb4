import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfigText } from "../../../src/config/load.ts";
import { sameValue } from "../../../src/config/same-value.ts";

function load(text: string) {
  const loaded = parseConfigText(text, "test.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return loaded.config;
}

const BASE = `
listeners:
  - address: 127.0.0.1:8080
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:9000
    retries:
      onStatuses: [502, 503]
routes:
  - upstream: app
`;

describe("sameValue", () => {
  test("compares values by content", () => {
    assert.equal(sameValue(1, 1), true);
    assert.equal(sameValue(NaN, NaN), true);
    assert.equal(sameValue(1, "1"), false);
    assert.equal(sameValue(undefined, null), false);
    assert.equal(sameValue([1, [2]], [1, [2]]), true);
    assert.equal(sameValue([1, 2], [2, 1]), false);
    assert.equal(sameValue(new Map([["a", { x: 1 }]]), new Map([["a", { x: 1 }]])), true);
    assert.equal(sameValue(new Map([["a", 1], ["b", 2]]), new Map([["b", 2], ["a", 1]])), false);
    assert.equal(sameValue(new Set([1, 2]), new Set([2, 1])), true);
    assert.equal(sameValue(new Set([1, 2]), new Set([1, 3])), false);
    assert.equal(sameValue({ a: 1, b: undefined }, { a: 1 }), false);
    assert.equal(sameValue({ a: { b: [1] } }, { a: { b: [1] } }), true);
    assert.equal(sameValue([1], { 0: 1, length: 1 }), false);
  });

  test("compares loaded upstream configs", () => {
    const first = load(BASE);
    assert.equal(sameValue(first, load(BASE)), true);
    assert.equal(sameValue(first.upstreams.get("app"), load(BASE).upstreams.get("app")), true);
    const weighted = load(BASE.replace("9000", "9000\n        weight: 3"));
    assert.equal(sameValue(first.upstreams.get("app"), weighted.upstreams.get("app")), false);
    const retried = load(BASE.replace("[502, 503]", "[502]"));
    assert.equal(sameValue(first.upstreams.get("app"), retried.upstreams.get("app")), false);
  });
});
