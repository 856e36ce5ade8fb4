import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RoundRobinBalancer } from "../../../src/upstream/balancer.ts";

const peer = (name: string, weight = 1) => ({ name, weight });

describe("RoundRobinBalancer", () => {
  test("cycles through equal peers", () => {
    const balancer = new RoundRobinBalancer([peer("a"), peer("b"), peer("c")]);
    const picks = Array.from({ length: 6 }, () => balancer.candidates()[0].name);
    assert.deepEqual(picks, ["a", "b", "c", "a", "b", "c"]);
  });

  test("lists every peer once, picked first", () => {
    const balancer = new RoundRobinBalancer([peer("a"), peer("b"), peer("c")]);
    balancer.candidates();
    assert.deepEqual(balancer.candidates().map((p) => p.name), ["b", "c", "a"]);
  });

  test("spreads weighted picks smoothly", () => {
    const balancer = new RoundRobinBalancer([peer("a", 5), peer("b", 1), peer("c", 1)]);
    const picks = Array.from({ length: 7 }, () => balancer.candidates()[0].name);
    assert.deepEqual(picks, ["a", "a", "b", "a", "c", "a", "a"]);
  });

  test("keeps weight proportions over many picks", () => {
    const balancer = new RoundRobinBalancer([peer("a", 3), peer("b", 2)]);
    const counts = { a: 0, b: 0 };
    for (let i = 0; i < 5_000; i++) counts[balancer.candidates()[0].name as "a" | "b"]++;
    assert.deepEqual(counts, { a: 3_000, b: 2_000 });
  });

  test("rejects an empty peer list", () => {
    assert.throws(() => new RoundRobinBalancer([]), /at least one peer/);
  });
});
