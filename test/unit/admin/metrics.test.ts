import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { escapeLabelValue, MetricsCollector, MetricWriter } from "../../../src/admin/metrics.ts";
import { accessRecord, emptySnapshot, upstreamSnapshot } from "./fixture.ts";

/** Returns the sample lines of `text` that start with `prefix`. */
function samples(text: string, prefix: string): string[] {
  return text.split("\n").filter((line) => line.startsWith(prefix));
}

describe("MetricsCollector", () => {
  test("counts requests by route and class", () => {
    const metrics = new MetricsCollector();
    metrics.access(accessRecord({ status: 200 }));
    metrics.access(accessRecord({ status: 204 }));
    metrics.access(accessRecord({ status: 502 }));
    metrics.access(accessRecord({ status: 404, route: undefined }));
    const text = metrics.render(emptySnapshot());
    assert.ok(text.includes('cairn_requests_total{route="web",code_class="2xx"} 2\n'));
    assert.ok(text.includes('cairn_requests_total{route="web",code_class="5xx"} 1\n'));
    assert.ok(text.includes('cairn_requests_total{route="",code_class="4xx"} 1\n'));
  });

  test("writes HELP and TYPE per family", () => {
    const text = new MetricsCollector().render(emptySnapshot());
    for (
      const name of ["cairn_requests_total", "cairn_bytes_sent_total", "cairn_open_connections"]
    ) {
      assert.ok(text.includes(`# HELP ${name} `), `no HELP for ${name}`);
    }
    assert.ok(text.includes("# TYPE cairn_requests_total counter\n"));
    assert.ok(text.includes("# TYPE cairn_request_duration_seconds histogram\n"));
    assert.ok(text.includes("# TYPE cairn_open_connections gauge\n"));
    assert.ok(text.endsWith("\n"));
  });

  test("observes upstream response and connect times by peer", () => {
    const metrics = new MetricsCollector();
    metrics.access(accessRecord({ upstream: "http://a:1", upstreamTimeMs: 20, upstreamConnectTimeMs: 2 }));
    metrics.access(accessRecord({ upstream: "http://a:1", upstreamTimeMs: 200 }));
    metrics.access(accessRecord({ upstream: undefined, upstreamTimeMs: undefined, status: 404 }));
    const text = metrics.render(emptySnapshot());
    assert.deepEqual(samples(text, "cairn_upstream_response_duration_seconds_count"), [
      'cairn_upstream_response_duration_seconds_count{peer="http://a:1"} 2',
    ]);
    assert.ok(text.includes('cairn_upstream_response_duration_seconds_bucket{peer="http://a:1",le="0.025"} 1\n'));
    assert.ok(text.includes('cairn_upstream_response_duration_seconds_bucket{peer="http://a:1",le="0.25"} 2\n'));
    assert.deepEqual(samples(text, "cairn_upstream_connect_duration_seconds_count"), [
      'cairn_upstream_connect_duration_seconds_count{peer="http://a:1"} 1',
    ]);
    assert.ok(text.includes('cairn_upstream_connect_duration_seconds_sum{peer="http://a:1"} 0.002\n'));
  });

  test("counts config reloads and flags the last failure", () => {
    const metrics = new MetricsCollector();
    let text = metrics.render(emptySnapshot());
    assert.ok(text.includes("cairn_config_last_reload_successful 1\n"));
    metrics.reloaded(true);
    metrics.reloaded(false);
    text = metrics.render(emptySnapshot());
    assert.ok(text.includes('cairn_config_reloads_total{result="success"} 1\n'));
    assert.ok(text.includes('cairn_config_reloads_total{result="failure"} 1\n'));
    assert.ok(text.includes("cairn_config_last_reload_successful 0\n"));
    metrics.reloaded(true);
    assert.ok(metrics.render(emptySnapshot()).includes("cairn_config_last_reload_successful 1\n"));
  });

  test("reports traffic totals by route and the recent rates", () => {
    const metrics = new MetricsCollector();
    metrics.access(accessRecord({ status: 200 }));
    metrics.access(accessRecord({ status: 502 }));
    metrics.access(accessRecord({ status: 404, route: undefined }));
    const traffic = metrics.traffic();
    assert.equal(traffic.requests, 3);
    assert.equal(traffic.errors, 1);
    assert.deepEqual(traffic.routes, [
      { route: "web", requests: 2, errors: 1 },
      { route: "", requests: 1, errors: 0 },
    ]);
    assert.ok(traffic.rateWindowSeconds >= 1);
    assert.ok(traffic.rateWindowSeconds <= 2);
    assert.equal(traffic.requestsPerSecond, 3 / traffic.rateWindowSeconds);
    assert.equal(traffic.errorsPerSecond, 1 / traffic.rateWindowSeconds);
  });

  test("histogram buckets are cumulative", () => {
    const metrics = new MetricsCollector();
    metrics.access(accessRecord({ totalTimeMs: 3 }));
    metrics.access(accessRecord({ totalTimeMs: 30 }));
    metrics.access(accessRecord({ totalTimeMs: 60_000 }));
    const text = metrics.render(emptySnapshot());
    const prefix = 'cairn_request_duration_seconds_bucket{route="web",';
    assert.ok(text.includes(`${prefix}le="0.005"} 1\n`));
    assert.ok(text.includes(`${prefix}le="0.025"} 1\n`));
    assert.ok(text.includes(`${prefix}le="0.05"} 2\n`));
    assert.ok(text.includes(`${prefix}le="10"} 2\n`));
    assert.ok(text.includes(`${prefix}le="+Inf"} 3\n`));
    assert.ok(text.includes('cairn_request_duration_seconds_count{route="web"} 3\n'));
    assert.ok(text.includes('cairn_request_duration_seconds_sum{route="web"} 60.033\n'));
  });

  test("bucket bound is inclusive", () => {
    const metrics = new MetricsCollector();
    metrics.access(accessRecord({ totalTimeMs: 5 }));
    const text = metrics.render(emptySnapshot());
    assert.ok(text.includes('cairn_request_duration_seconds_bucket{route="web",le="0.005"} 1\n'));
  });

  test("sums body bytes", () => {
    const metrics = new MetricsCollector();
    metrics.access(accessRecord({ bytesIn: 10, bytesOut: 100 }));
    metrics.access(accessRecord({ bytesIn: 5, bytesOut: 1 }));
    const text = metrics.render(emptySnapshot());
    assert.ok(text.includes("cairn_bytes_received_total 15\n"));
    assert.ok(text.includes("cairn_bytes_sent_total 101\n"));
  });

  test("counts retries by upstream and kind", () => {
    const metrics = new MetricsCollector();
    metrics.retry({
      requestId: "r1",
      client: "127.0.0.1",
      upstreamName: "app",
      kind: "next_peer",
      from: "a",
      to: "b",
      attempt: 2,
      reason: "status 503",
      code: undefined,
    });
    const text = metrics.render(emptySnapshot());
    assert.ok(text.includes('cairn_upstream_retries_total{upstream="app",kind="next_peer"} 1\n'));
  });

  test("reads gauges from the snapshot", () => {
    const metrics = new MetricsCollector();
    const text = metrics.render(
      emptySnapshot({ openConnections: 4, draining: true, upstreams: [upstreamSnapshot] }),
    );
    assert.ok(text.includes("cairn_open_connections 4\n"));
    assert.ok(text.includes("cairn_draining 1\n"));
    const peerLabels = 'upstream="app",peer="http://10.0.0.1:80"';
    assert.ok(
      text.includes(`cairn_upstream_peer_healthy{${peerLabels}} 0\n`),
      "an ejected peer is not healthy",
    );
    assert.ok(text.includes(`cairn_upstream_peer_enabled{${peerLabels}} 1\n`));
    assert.ok(text.includes(`cairn_upstream_peer_in_flight_requests{${peerLabels}} 5\n`));
    assert.ok(text.includes(`cairn_upstream_peer_ejections_total{${peerLabels}} 2\n`));
    assert.deepEqual(samples(text, "cairn_pool_connections{"), [
      'cairn_pool_connections{upstream="app",state="idle"} 2',
      'cairn_pool_connections{upstream="app",state="in_use"} 1',
      'cairn_pool_connections{upstream="app",state="connecting"} 1',
    ]);
    assert.ok(text.includes('cairn_pool_queued_requests{upstream="app"} 4\n'));
    assert.ok(text.includes('cairn_pool_connections_opened_total{upstream="app"} 3\n'));
    assert.ok(text.includes('cairn_pool_connections_reused_total{upstream="app"} 7\n'));
  });
});

describe("Prometheus text format", () => {
  test("escapes label values", () => {
    assert.equal(escapeLabelValue('a"b\\c\nd'), 'a\\"b\\\\c\\nd');
  });

  test("writes samples without labels", () => {
    const writer = new MetricWriter();
    writer.family("x_total", "counter", "An example.");
    writer.sample("x_total", {}, 3);
    writer.sample("y", { a: "1" }, Infinity);
    assert.equal(
      writer.text(),
      '# HELP x_total An example.\n# TYPE x_total counter\nx_total 3\ny{a="1"} +Inf\n',
    );
  });
});
