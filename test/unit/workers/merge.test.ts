import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MetricsCollector } from "../../../src/admin/metrics.ts";
import type { ProxySnapshot } from "../../../src/proxy/snapshot.ts";
import { mergeMetrics } from "../../../src/workers/merge-metrics.ts";
import { mergeSnapshots } from "../../../src/workers/merge-snapshots.ts";
import { accessRecord, emptySnapshot, upstreamSnapshot } from "../admin/fixture.ts";

function workerSnapshot(changes: (snapshot: ProxySnapshot) => void): ProxySnapshot {
  const snapshot = emptySnapshot({
    openConnections: 2,
    listeners: [{ name: "public", address: { hostname: "127.0.0.1", port: 8080, family: "IPv4" } }],
    routes: [{ name: "web", upstream: "app" }],
    upstreams: [structuredClone(upstreamSnapshot)],
  });
  changes(snapshot);
  return snapshot;
}

describe("mergeSnapshots", () => {
  test("sums counts, keeps first config", () => {
    const a = workerSnapshot(() => {});
    const b = workerSnapshot((snapshot) => {
      snapshot.openConnections = 5;
      snapshot.upstreams[0].peers[0].inFlight = 4;
    });
    const merged = mergeSnapshots([a, b], false);
    assert.equal(merged.openConnections, 7);
    assert.deepEqual(merged.listeners, a.listeners);
    assert.deepEqual(merged.routes, a.routes);
    const pool = merged.upstreams[0].pool;
    assert.equal(pool.connected, a.upstreams[0].pool.connected * 2);
    assert.equal(pool.reused, a.upstreams[0].pool.reused * 2);
    const peer = merged.upstreams[0].peers[0];
    assert.equal(peer.inFlight, a.upstreams[0].peers[0].inFlight + 4);
    assert.equal(peer.pool.idle, a.upstreams[0].peers[0].pool.idle * 2);
    assert.equal(peer.weight, a.upstreams[0].peers[0].weight);
    assert.equal(merged.draining, false);
  });

  test("merges peer health to worst view", () => {
    const healthy = workerSnapshot((snapshot) => {
      const health = snapshot.upstreams[0].peers[0].health!;
      health.ejected = false;
      health.available = true;
      health.ejectionRemainingMs = 0;
    });
    const ejected = workerSnapshot((snapshot) => {
      const health = snapshot.upstreams[0].peers[0].health!;
      health.ejected = true;
      health.available = false;
      health.ejections = 1;
      health.ejectionRemainingMs = 900;
    });
    const merged = mergeSnapshots([healthy, ejected], false).upstreams[0].peers[0].health!;
    assert.equal(merged.ejected, true);
    assert.equal(merged.available, false);
    assert.equal(merged.ejectionRemainingMs, 900, "details come from the worse view");
    assert.equal(merged.ejections, healthy.upstreams[0].peers[0].health!.ejections + 1);
  });

  test("drains when any process drains", () => {
    const draining = workerSnapshot((snapshot) => (snapshot.draining = true));
    assert.equal(mergeSnapshots([workerSnapshot(() => {}), draining], false).draining, true);
    assert.equal(mergeSnapshots([workerSnapshot(() => {})], true).draining, true);
  });

  test("returns empty snapshot without workers", () => {
    assert.deepEqual(mergeSnapshots([], false), emptySnapshot());
  });
});

describe("mergeMetrics", () => {
  test("labels samples, keeps one header", () => {
    const first = new MetricsCollector();
    first.access(accessRecord({ status: 200 }));
    const second = new MetricsCollector();
    second.access(accessRecord({ status: 200 }));
    second.access(accessRecord({ status: 503 }));
    const merged = mergeMetrics([
      { worker: "0", text: first.render(emptySnapshot()) },
      { worker: "1", text: second.render(emptySnapshot()) },
    ]);
    const lines = merged.split("\n");
    assert.equal(lines.filter((line) => line === "# TYPE cairn_requests_total counter").length, 1);
    const requests = lines.filter((line) => line.startsWith("cairn_requests_total{"));
    assert.deepEqual(requests, [
      'cairn_requests_total{worker="0",route="web",code_class="2xx"} 1',
      'cairn_requests_total{worker="1",route="web",code_class="2xx"} 1',
      'cairn_requests_total{worker="1",route="web",code_class="5xx"} 1',
    ]);
    assert.ok(lines.includes('cairn_open_connections{worker="1"} 0'));
    assert.ok(lines.includes('cairn_request_duration_seconds_bucket{worker="0",route="web",le="+Inf"} 1'));
    // Samples follow their own family's header.
    const header = lines.indexOf("# TYPE cairn_open_connections gauge");
    assert.equal(lines[header + 1], 'cairn_open_connections{worker="0"} 0');
    assert.ok(merged.endsWith("\n"));
  });
});
