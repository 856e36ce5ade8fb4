import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type HealthEvent,
  HealthRegistry,
  type HealthRegistryOptions,
} from "../../../src/upstream/health.ts";

interface Peer {
  name: string;
}

/** Builds a registry on a fake clock that starts at 1000 ms, and records its events. */
function setup(options: Omit<HealthRegistryOptions<Peer>, "now" | "onChange"> = {}) {
  const a: Peer = { name: "a" };
  const b: Peer = { name: "b" };
  const clock = { now: 1_000 };
  const events: string[] = [];
  const onChange = (event: HealthEvent<Peer>) => {
    const extra = event.kind === "ejected" ? `:${event.durationMs}ms#${event.ejections}` : "";
    events.push(`${event.kind}:${event.peer.name}${extra}`);
  };
  const registry = new HealthRegistry([a, b], { ...options, now: () => clock.now, onChange });
  return { a, b, clock, events, registry };
}

const PASSIVE = { consecutiveFailures: 3, baseEjectionMs: 1_000, maxEjectionMs: 5_000 };

describe("HealthRegistry active checks", () => {
  test("peers start healthy and available", () => {
    const { a, b, registry } = setup();
    assert.equal(registry.isAvailable(a), true);
    assert.equal(registry.isAvailable(b), true);
    assert.deepEqual(registry.peers, [a, b]);
  });

  test("flips unhealthy after consecutive failures", () => {
    const { a, events, registry } = setup({ unhealthyThreshold: 3 });
    registry.recordCheck(a, false, "status 500");
    registry.recordCheck(a, false, "status 500");
    registry.recordCheck(a, true, "status 200");
    registry.recordCheck(a, false, "status 503");
    registry.recordCheck(a, false, "status 503");
    assert.equal(registry.isAvailable(a), true, "a pass in between starts the count again");
    assert.deepEqual(events, []);

    registry.recordCheck(a, false, "timed out after 2000 ms");
    assert.equal(registry.isAvailable(a), false);
    assert.deepEqual(events, ["unhealthy:a"]);
    assert.equal(registry.stats(a)?.lastCheckFailure, "timed out after 2000 ms");
  });

  test("flips healthy after consecutive passes", () => {
    const { a, events, registry } = setup({ healthyThreshold: 2, unhealthyThreshold: 1 });
    registry.recordCheck(a, false, "status 500");
    registry.recordCheck(a, true);
    registry.recordCheck(a, false, "status 500");
    registry.recordCheck(a, true);
    assert.equal(registry.isAvailable(a), false);
    registry.recordCheck(a, true);
    assert.equal(registry.isAvailable(a), true);
    assert.deepEqual(events, ["unhealthy:a", "healthy:a"]);
  });

  test("reports each flip once", () => {
    const { a, events, registry } = setup();
    for (let i = 0; i < 5; i++) registry.recordCheck(a, false, "down");
    for (let i = 0; i < 5; i++) registry.recordCheck(a, true);
    assert.deepEqual(events, ["unhealthy:a", "healthy:a"]);
  });
});

describe("HealthRegistry enable and disable", () => {
  test("disabled peer is never available", () => {
    const { a, b, events, registry } = setup();
    registry.setEnabled(a, false);
    assert.equal(registry.isAvailable(a), false);
    registry.recordCheck(a, true);
    registry.recordRequestSuccess(a);
    assert.equal(registry.isAvailable(a), false, "health does not override the operator");
    assert.equal(registry.isAvailable(b), true);
    assert.deepEqual(events, ["disabled:a"]);
  });

  test("enabling keeps an unhealthy peer out", () => {
    const { a, events, registry } = setup();
    registry.setEnabled(a, false);
    registry.recordCheck(a, false, "down");
    registry.setEnabled(a, true);
    assert.equal(registry.isAvailable(a), false);
    registry.recordCheck(a, true);
    assert.equal(registry.isAvailable(a), true);
    assert.deepEqual(events, ["disabled:a", "unhealthy:a", "enabled:a", "healthy:a"]);
  });

  test("repeating the same setting reports nothing", () => {
    const { a, events, registry } = setup();
    registry.setEnabled(a, true);
    registry.setEnabled(a, false);
    registry.setEnabled(a, false);
    assert.deepEqual(events, ["disabled:a"]);
  });

  test("disabled peer keeps its health", () => {
    const { a, registry } = setup();
    registry.setEnabled(a, false);
    const stats = registry.stats(a)!;
    assert.equal(stats.enabled, false);
    assert.equal(stats.healthy, true);
    assert.equal(stats.available, false);
  });
});

describe("HealthRegistry passive ejection", () => {
  test("ejects after consecutive failures", () => {
    const { a, events, registry } = setup({ passive: PASSIVE });
    registry.recordRequestFailure(a, "status 502");
    registry.recordRequestFailure(a, "status 502");
    assert.equal(registry.isAvailable(a), true);
    registry.recordRequestFailure(a, "connect failed");
    assert.equal(registry.isAvailable(a), false);
    assert.deepEqual(events, ["ejected:a:1000ms#1"]);
  });

  test("a success resets the failure count", () => {
    const { a, events, registry } = setup({ passive: PASSIVE });
    registry.recordRequestFailure(a, "status 500");
    registry.recordRequestFailure(a, "status 500");
    registry.recordRequestSuccess(a);
    registry.recordRequestFailure(a, "status 500");
    registry.recordRequestFailure(a, "status 500");
    assert.equal(registry.isAvailable(a), true);
    assert.deepEqual(events, []);
  });

  test("ejection lasts the base time", () => {
    const { a, clock, events, registry } = setup({ passive: PASSIVE });
    for (let i = 0; i < 3; i++) registry.recordRequestFailure(a, "status 503");
    clock.now += 999;
    assert.equal(registry.isAvailable(a), false);
    assert.equal(registry.stats(a)?.ejectionRemainingMs, 1);
    clock.now += 1;
    assert.equal(registry.isAvailable(a), true);
    assert.deepEqual(events, ["ejected:a:1000ms#1", "ejection_ended:a"]);
  });

  test("back-off doubles and stops at the cap", () => {
    const { a, clock, events, registry } = setup({ passive: PASSIVE });
    for (let i = 0; i < 3; i++) registry.recordRequestFailure(a, "status 503");
    for (const durationMs of [1_000, 2_000, 4_000, 5_000, 5_000]) {
      clock.now += durationMs;
      assert.equal(registry.isAvailable(a), true, `after ${durationMs} ms`);
      // The first request after an ejection is a trial, so one failure ejects again.
      registry.recordRequestFailure(a, "status 503");
      assert.equal(registry.isAvailable(a), false);
    }
    assert.deepEqual(events, [
      "ejected:a:1000ms#1",
      "ejection_ended:a",
      "ejected:a:2000ms#2",
      "ejection_ended:a",
      "ejected:a:4000ms#3",
      "ejection_ended:a",
      "ejected:a:5000ms#4",
      "ejection_ended:a",
      "ejected:a:5000ms#5",
      "ejection_ended:a",
      "ejected:a:5000ms#6",
    ]);
    assert.equal(registry.stats(a)?.ejections, 6);
  });

  test("trial success resets the back-off", () => {
    const { a, clock, events, registry } = setup({ passive: PASSIVE });
    for (let i = 0; i < 3; i++) registry.recordRequestFailure(a, "status 503");
    clock.now += 1_000;
    registry.recordRequestFailure(a, "status 503");
    clock.now += 2_000;
    registry.recordRequestSuccess(a);
    registry.recordRequestFailure(a, "status 503");
    assert.equal(registry.isAvailable(a), true, "after a success, one failure is not enough");
    registry.recordRequestFailure(a, "status 503");
    registry.recordRequestFailure(a, "status 503");
    assert.equal(registry.isAvailable(a), false);
    assert.equal(events.at(-1), "ejected:a:1000ms#1");
  });

  test("failures while ejected are ignored", () => {
    const { a, clock, events, registry } = setup({ passive: PASSIVE });
    for (let i = 0; i < 3; i++) registry.recordRequestFailure(a, "status 503");
    for (let i = 0; i < 10; i++) registry.recordRequestFailure(a, "late result");
    assert.equal(registry.stats(a)?.ejectionRemainingMs, 1_000);
    clock.now += 1_000;
    assert.equal(registry.isAvailable(a), true);
    assert.equal(events.filter((event) => event.startsWith("ejected")).length, 1);
  });

  test("no passive options never ejects", () => {
    const { a, events, registry } = setup();
    for (let i = 0; i < 100; i++) registry.recordRequestFailure(a, "status 500");
    assert.equal(registry.isAvailable(a), true);
    assert.deepEqual(events, []);
  });

  test("ejection and disable are independent", () => {
    const { a, clock, registry } = setup({ passive: PASSIVE });
    for (let i = 0; i < 3; i++) registry.recordRequestFailure(a, "status 503");
    registry.setEnabled(a, false);
    clock.now += 1_000;
    assert.equal(registry.isAvailable(a), false, "disabled after the ejection ended");
    registry.setEnabled(a, true);
    assert.equal(registry.isAvailable(a), true);
  });
});

describe("HealthRegistry peers and stats", () => {
  test("setPeers keeps state of kept peers", () => {
    const { a, b, registry } = setup({ passive: PASSIVE });
    registry.setEnabled(a, false);
    const c: Peer = { name: "c" };
    registry.setPeers([a, c]);
    assert.deepEqual(registry.peers, [a, c]);
    assert.equal(registry.isAvailable(a), false);
    assert.equal(registry.isAvailable(c), true);
    assert.equal(registry.isAvailable(b), false, "an untracked peer is never available");
    registry.recordRequestFailure(b, "late result");
    assert.equal(registry.stats(b), undefined);
  });

  test("stats snapshot counts", () => {
    const { a, registry } = setup({ passive: PASSIVE, unhealthyThreshold: 5 });
    registry.recordCheck(a, false, "status 500");
    registry.recordCheck(a, false, "status 502");
    registry.recordRequestFailure(a, "connect failed");
    assert.deepEqual(registry.stats(a), {
      enabled: true,
      healthy: true,
      ejected: false,
      available: true,
      ejectionRemainingMs: 0,
      ejections: 0,
      consecutiveRequestFailures: 1,
      consecutiveCheckSuccesses: 0,
      consecutiveCheckFailures: 2,
      lastCheckFailure: "status 502",
    });
  });

  test("rejects invalid options", () => {
    assert.throws(() => new HealthRegistry([], { healthyThreshold: 0 }), /healthyThreshold/);
    assert.throws(() => new HealthRegistry([], { unhealthyThreshold: 1.5 }), /unhealthyThreshold/);
    assert.throws(
      () => new HealthRegistry([], { passive: { ...PASSIVE, maxEjectionMs: 10 } }),
      /maxEjectionMs \(10\) must be at least passive.baseEjectionMs \(1000\)/,
    );
    assert.throws(
      () => new HealthRegistry([], { passive: { ...PASSIVE, consecutiveFailures: 0 } }),
      /consecutiveFailures/,
    );
  });
});
