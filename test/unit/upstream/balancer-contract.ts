/**
 * The behaviour every `Balancer` must show, as `node:test` tests. Each balancer's test calls
 * `runBalancerContract` with a factory, so all four algorithms are held to the same checks.
 *
 * Health filtering is the caller's job: a balancer lists every peer, and the caller drops the
 * unavailable ones from the list. The last tests check that this leaves a usable order.
 */

import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { BalanceContext, Balancer } from "../../../src/upstream/balancer.ts";

export interface TestPeer {
  readonly name: string;
  readonly weight: number;
}

export type BalancerFactory = (peers: readonly TestPeer[]) => Balancer<TestPeer>;

const CALLS = 600;

export function peer(name: string, weight = 1): TestPeer {
  return { name, weight };
}

/** Builds a context for call `call`, with its own key and loads that change between calls. */
function varyingContext(call: number): BalanceContext<TestPeer> {
  return {
    key: `key-${call}`,
    inFlight: (candidate) => (call * 7 + candidate.name.length * 3 + candidate.weight) % 5,
  };
}

function names(peers: readonly TestPeer[]): string[] {
  return peers.map((candidate) => candidate.name);
}

function sortedNames(peers: readonly TestPeer[]): string[] {
  return names(peers).sort();
}

/** Registers the contract tests for the balancers that `make` builds. */
export function runBalancerContract(label: string, make: BalancerFactory): void {
  describe(`${label} balancer contract`, () => {
    const mixed = [peer("a", 1), peer("b", 2), peer("c", 3), peer("d", 1), peer("e", 5)];

    test("lists every peer exactly once", () => {
      const balancer = make(mixed);
      const expected = sortedNames(mixed);
      for (let call = 0; call < CALLS; call++) {
        const context = call % 3 === 0 ? undefined : varyingContext(call);
        assert.deepEqual(sortedNames(balancer.candidates(context)), expected, `call ${call}`);
      }
    });

    test("returns the only peer", () => {
      const only = peer("only", 3);
      const balancer = make([only]);
      for (let call = 0; call < 20; call++) {
        const candidates = balancer.candidates(call % 2 === 0 ? undefined : varyingContext(call));
        assert.deepEqual(candidates, [only]);
      }
    });

    test("picks every peer first over time", () => {
      const balancer = make(mixed);
      const firsts = new Set<string>();
      for (let call = 0; call < CALLS; call++) {
        firsts.add(balancer.candidates({ key: `key-${call}` })[0].name);
      }
      assert.deepEqual([...firsts].sort(), sortedNames(mixed));
    });

    test("rejects an empty peer list", () => {
      assert.throws(() => make([]), /at least one peer/);
    });

    test("rejects weights below one or fractional", () => {
      assert.throws(() => make([peer("a", 0)]), /weight 0/);
      assert.throws(() => make([peer("a", 1), peer("b", 1.5)]), /weight 1.5/);
    });

    test("setPeers removes a peer", () => {
      const balancer = make(mixed);
      balancer.candidates();
      const remaining = mixed.filter((candidate) => candidate.name !== "c");
      balancer.setPeers(remaining);
      assert.deepEqual(sortedNames(balancer.peers), sortedNames(remaining));
      for (let call = 0; call < CALLS; call++) {
        const candidates = balancer.candidates(varyingContext(call));
        assert.deepEqual(sortedNames(candidates), sortedNames(remaining), `call ${call}`);
      }
    });

    test("setPeers adds a peer", () => {
      const balancer = make(mixed);
      const added = peer("f", 4);
      balancer.setPeers([...mixed, added]);
      let firstCount = 0;
      for (let call = 0; call < CALLS; call++) {
        const candidates = balancer.candidates({ key: `key-${call}` });
        assert.equal(candidates.length, mixed.length + 1);
        assert.ok(candidates.includes(added), `call ${call} left out the added peer`);
        if (candidates[0] === added) firstCount++;
      }
      assert.ok(firstCount > 0, "the added peer was never picked first");
    });

    test("failed setPeers keeps the old peers", () => {
      const balancer = make(mixed);
      assert.throws(() => balancer.setPeers([]), /at least one peer/);
      assert.deepEqual(sortedNames(balancer.candidates()), sortedNames(mixed));
    });

    test("copies the peer list it is given", () => {
      const list = [peer("a"), peer("b")];
      const balancer = make(list);
      list.push(peer("c"));
      assert.deepEqual(sortedNames(balancer.candidates()), ["a", "b"]);
      assert.deepEqual(sortedNames(balancer.peers), ["a", "b"]);
    });

    test("returns a new array each call", () => {
      const balancer = make(mixed);
      const first = balancer.candidates({ key: "k" });
      first.length = 0;
      assert.equal(balancer.candidates({ key: "k" }).length, mixed.length);
    });

    test("caller filtering skips unavailable peers", () => {
      const balancer = make(mixed);
      const unavailable = new Set(["b", "e"]);
      const firsts = new Set<string>();
      for (let call = 0; call < CALLS; call++) {
        const available = balancer
          .candidates(varyingContext(call))
          .filter((candidate) => !unavailable.has(candidate.name));
        assert.deepEqual(sortedNames(available), ["a", "c", "d"], `call ${call}`);
        firsts.add(available[0].name);
      }
      assert.deepEqual([...firsts].sort(), ["a", "c", "d"]);
    });

    test("candidates after the first serve retries", () => {
      const balancer = make(mixed);
      for (let call = 0; call < 50; call++) {
        const candidates = balancer.candidates(varyingContext(call));
        const retry = candidates.slice(1);
        assert.equal(retry.length, mixed.length - 1);
        assert.ok(!retry.includes(candidates[0]), `call ${call} repeats its first peer`);
      }
    });
  });
}
