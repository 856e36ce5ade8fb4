import type { ProxyError } from "../proxy/errors.ts";
import type { AccessRecord, ProxyEvents, RetryRecord } from "../proxy/events.ts";
import type { ProxySnapshot } from "../proxy/snapshot.ts";
import { RateWindow } from "./rate-window.ts";

/** Upper bounds of the request duration histogram, in seconds. */
export const DURATION_BUCKETS_SECONDS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Content type of the Prometheus text exposition format, version 0.0.4. */
export const PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

interface RequestSeries {
  route: string;
  codeClass: string;
  count: number;
}

interface DurationSeries {
  /** Label name and value, such as `route` and `web`. */
  labelName: string;
  label: string;
  /** Count per bucket of `DURATION_BUCKETS_SECONDS`, not cumulative; the last slot is +Inf. */
  buckets: number[];
  sumSeconds: number;
  count: number;
}

/** Request counts and recent rates, for the dashboard. */
export interface TrafficStats {
  requests: number;
  /** Responses with a 5xx status: failed upstreams, timeouts and Cairn's own errors. */
  errors: number;
  requestsPerSecond: number;
  errorsPerSecond: number;
  /** Seconds the rates cover: the last minute, or less just after the start. */
  rateWindowSeconds: number;
  routes: { route: string; requests: number; errors: number }[];
}

/**
 * Counts finished exchanges, bytes and retries from the proxy's events. Each event costs a map
 * lookup and a few additions. Gauges (connections, health, pools) are read from a snapshot at
 * scrape time instead.
 */
export class MetricsCollector implements ProxyEvents {
  readonly #requests = new Map<string, RequestSeries>();
  readonly #durations = new Map<string, DurationSeries>();
  readonly #upstreamResponse = new Map<string, DurationSeries>();
  readonly #upstreamConnect = new Map<string, DurationSeries>();
  readonly #retries = new Map<string, { upstream: string; kind: string; count: number }>();
  #bytesReceived = 0;
  #bytesSent = 0;
  #connectionErrors = 0;
  /** Kind 0 counts requests, kind 1 those with a 5xx status. */
  readonly #rates = new RateWindow(2);
  readonly #reloads = new ReloadCounters();

  access(record: AccessRecord): void {
    // Requests that matched no route are labelled with an empty route.
    const route = record.route ?? "";
    const codeClass = `${Math.floor(record.status / 100)}xx`;
    const requestKey = `${route}\u0000${codeClass}`;
    let requests = this.#requests.get(requestKey);
    if (requests === undefined) {
      requests = { route, codeClass, count: 0 };
      this.#requests.set(requestKey, requests);
    }
    requests.count++;
    this.#rates.record(0);
    if (record.status >= 500) this.#rates.record(1);

    observe(this.#durations, "route", route, record.totalTimeMs);
    // `record.upstream` is the peer's label; a request that reached no peer has no upstream times.
    if (record.upstream !== undefined) {
      if (record.upstreamTimeMs !== undefined) {
        observe(this.#upstreamResponse, "peer", record.upstream, record.upstreamTimeMs);
      }
      if (record.upstreamConnectTimeMs !== undefined) {
        observe(this.#upstreamConnect, "peer", record.upstream, record.upstreamConnectTimeMs);
      }
    }

    this.#bytesReceived += record.bytesIn;
    this.#bytesSent += record.bytesOut;
  }

  exchangeError(_error: ProxyError): void {}

  connectionError(_error: ProxyError): void {
    this.#connectionErrors++;
  }

  retry(record: RetryRecord): void {
    const key = `${record.upstreamName}\u0000${record.kind}`;
    let series = this.#retries.get(key);
    if (series === undefined) {
      series = { upstream: record.upstreamName, kind: record.kind, count: 0 };
      this.#retries.set(key, series);
    }
    series.count++;
  }

  /** Totals by route and the rates of the last minute. */
  traffic(): TrafficStats {
    const routes = new Map<string, { route: string; requests: number; errors: number }>();
    let requests = 0;
    let errors = 0;
    for (const series of this.#requests.values()) {
      let entry = routes.get(series.route);
      if (entry === undefined) {
        entry = { route: series.route, requests: 0, errors: 0 };
        routes.set(series.route, entry);
      }
      entry.requests += series.count;
      requests += series.count;
      if (series.codeClass === "5xx") {
        entry.errors += series.count;
        errors += series.count;
      }
    }
    const rates = this.#rates.rates();
    return {
      requests,
      errors,
      requestsPerSecond: rates.perSecond[0],
      errorsPerSecond: rates.perSecond[1],
      rateWindowSeconds: rates.seconds,
      routes: [...routes.values()],
    };
  }

  /** Counts a config reload; a failed one makes `cairn_config_last_reload_successful` 0. */
  reloaded(succeeded: boolean): void {
    this.#reloads.record(succeeded);
  }

  healthChanged(): void {}
  discoveryChanged(): void {}
  discoveryError(): void {}

  /** Renders the counters and the gauges of `snapshot` in the Prometheus text format. */
  render(snapshot: ProxySnapshot): string {
    const out = new MetricWriter();

    out.family(
      "cairn_requests_total",
      "counter",
      "Finished client requests by route and status class.",
    );
    for (const series of this.#requests.values()) {
      out.sample(
        "cairn_requests_total",
        { route: series.route, code_class: series.codeClass },
        series.count,
      );
    }

    renderHistogram(
      out,
      "cairn_request_duration_seconds",
      "Time from the request head to the end of the response.",
      this.#durations,
    );
    renderHistogram(
      out,
      "cairn_upstream_response_duration_seconds",
      "Time from sending the request upstream to the response head, by peer.",
      this.#upstreamResponse,
    );
    renderHistogram(
      out,
      "cairn_upstream_connect_duration_seconds",
      "Time to open a new upstream connection, TLS handshake included, by peer.",
      this.#upstreamConnect,
    );

    out.family("cairn_bytes_received_total", "counter", "Request body bytes read from clients.");
    out.sample("cairn_bytes_received_total", {}, this.#bytesReceived);
    out.family("cairn_bytes_sent_total", "counter", "Response body bytes sent to clients.");
    out.sample("cairn_bytes_sent_total", {}, this.#bytesSent);

    out.family(
      "cairn_connection_errors_total",
      "counter",
      "Client connections that failed outside an exchange.",
    );
    out.sample("cairn_connection_errors_total", {}, this.#connectionErrors);

    out.family(
      "cairn_upstream_retries_total",
      "counter",
      "Requests sent again after a failed attempt.",
    );
    for (const series of this.#retries.values()) {
      out.sample(
        "cairn_upstream_retries_total",
        { upstream: series.upstream, kind: series.kind },
        series.count,
      );
    }

    out.family("cairn_open_connections", "gauge", "Client connections open now.");
    out.sample("cairn_open_connections", {}, snapshot.openConnections);
    out.family("cairn_draining", "gauge", "1 while the proxy shuts down, else 0.");
    out.sample("cairn_draining", {}, snapshot.draining ? 1 : 0);

    this.#reloads.render(out);

    renderUpstreams(out, snapshot);
    return out.text();
  }
}

/** Adds one observation, in milliseconds, to the histogram series of `label` in `series`. */
function observe(series: Map<string, DurationSeries>, labelName: string, label: string, ms: number): void {
  let entry = series.get(label);
  if (entry === undefined) {
    entry = {
      labelName,
      label,
      buckets: new Array(DURATION_BUCKETS_SECONDS.length + 1).fill(0),
      sumSeconds: 0,
      count: 0,
    };
    series.set(label, entry);
  }
  const seconds = ms / 1000;
  let bucket = 0;
  while (bucket < DURATION_BUCKETS_SECONDS.length && seconds > DURATION_BUCKETS_SECONDS[bucket]) {
    bucket++;
  }
  entry.buckets[bucket]++;
  entry.sumSeconds += seconds;
  entry.count++;
}

function renderHistogram(
  out: MetricWriter,
  name: string,
  help: string,
  series: Map<string, DurationSeries>,
): void {
  out.family(name, "histogram", help);
  for (const entry of series.values()) {
    const labels = { [entry.labelName]: entry.label };
    let cumulative = 0;
    for (let i = 0; i < DURATION_BUCKETS_SECONDS.length; i++) {
      cumulative += entry.buckets[i];
      out.sample(`${name}_bucket`, { ...labels, le: String(DURATION_BUCKETS_SECONDS[i]) }, cumulative);
    }
    out.sample(`${name}_bucket`, { ...labels, le: "+Inf" }, entry.count);
    out.sample(`${name}_sum`, labels, entry.sumSeconds);
    out.sample(`${name}_count`, labels, entry.count);
  }
}

/** Counts config reloads by result for `/metrics`; a supervisor keeps its own. */
export class ReloadCounters {
  #success = 0;
  #failure = 0;
  #lastSucceeded = true;
  #lastSuccessSeconds = Date.now() / 1000;

  record(succeeded: boolean): void {
    if (succeeded) {
      this.#success++;
      this.#lastSuccessSeconds = Date.now() / 1000;
    } else {
      this.#failure++;
    }
    this.#lastSucceeded = succeeded;
  }

  /** Writes the three reload families, with `labels` on every sample. */
  render(out: MetricWriter, labels: Record<string, string> = {}): void {
    out.family("cairn_config_reloads_total", "counter", "Config reloads by result: success or failure.");
    out.sample("cairn_config_reloads_total", { ...labels, result: "success" }, this.#success);
    out.sample("cairn_config_reloads_total", { ...labels, result: "failure" }, this.#failure);
    out.family(
      "cairn_config_last_reload_successful",
      "gauge",
      "1 when the last reload succeeded or none has run, 0 when it failed.",
    );
    out.sample("cairn_config_last_reload_successful", labels, this.#lastSucceeded ? 1 : 0);
    out.family(
      "cairn_config_last_reload_success_timestamp_seconds",
      "gauge",
      "Unix time of the last successful reload, or of the start.",
    );
    out.sample("cairn_config_last_reload_success_timestamp_seconds", labels, this.#lastSuccessSeconds);
  }
}

function renderUpstreams(out: MetricWriter, snapshot: ProxySnapshot): void {
  out.family(
    "cairn_upstream_peer_healthy",
    "gauge",
    "1 when active checks pass and the peer is not ejected, else 0.",
  );
  for (const upstream of snapshot.upstreams) {
    for (const peer of upstream.peers) {
      const healthy = peer.health !== undefined && peer.health.healthy && !peer.health.ejected;
      out.sample(
        "cairn_upstream_peer_healthy",
        { upstream: upstream.name, peer: peer.label },
        healthy ? 1 : 0,
      );
    }
  }

  out.family("cairn_upstream_peer_enabled", "gauge", "1 unless the operator disabled the peer.");
  for (const upstream of snapshot.upstreams) {
    for (const peer of upstream.peers) {
      const enabled = peer.health?.enabled ?? false;
      out.sample(
        "cairn_upstream_peer_enabled",
        { upstream: upstream.name, peer: peer.label },
        enabled ? 1 : 0,
      );
    }
  }

  out.family("cairn_upstream_peer_in_flight_requests", "gauge", "Requests in flight to the peer.");
  for (const upstream of snapshot.upstreams) {
    for (const peer of upstream.peers) {
      out.sample("cairn_upstream_peer_in_flight_requests", {
        upstream: upstream.name,
        peer: peer.label,
      }, peer.inFlight);
    }
  }

  out.family(
    "cairn_upstream_peer_ejections_total",
    "counter",
    "Passive ejections of the peer since start.",
  );
  for (const upstream of snapshot.upstreams) {
    for (const peer of upstream.peers) {
      const ejections = peer.health?.ejections ?? 0;
      out.sample("cairn_upstream_peer_ejections_total", {
        upstream: upstream.name,
        peer: peer.label,
      }, ejections);
    }
  }

  out.family(
    "cairn_pool_connections",
    "gauge",
    "Upstream connections by state: idle, in_use or connecting.",
  );
  for (const upstream of snapshot.upstreams) {
    out.sample(
      "cairn_pool_connections",
      { upstream: upstream.name, state: "idle" },
      upstream.pool.idle,
    );
    out.sample(
      "cairn_pool_connections",
      { upstream: upstream.name, state: "in_use" },
      upstream.pool.inUse,
    );
    out.sample(
      "cairn_pool_connections",
      { upstream: upstream.name, state: "connecting" },
      upstream.pool.connecting,
    );
  }

  out.family("cairn_pool_queued_requests", "gauge", "Requests waiting for an upstream connection.");
  for (const upstream of snapshot.upstreams) {
    out.sample("cairn_pool_queued_requests", { upstream: upstream.name }, upstream.pool.queued);
  }

  out.family(
    "cairn_pool_connections_opened_total",
    "counter",
    "Upstream connections opened since start.",
  );
  for (const upstream of snapshot.upstreams) {
    out.sample(
      "cairn_pool_connections_opened_total",
      { upstream: upstream.name },
      upstream.pool.opened,
    );
  }

  out.family(
    "cairn_pool_connections_reused_total",
    "counter",
    "Idle upstream connections handed out again since start.",
  );
  for (const upstream of snapshot.upstreams) {
    out.sample(
      "cairn_pool_connections_reused_total",
      { upstream: upstream.name },
      upstream.pool.reused,
    );
  }
}

/** Builds a Prometheus text exposition: `# HELP` and `# TYPE` per family, then its samples. */
export class MetricWriter {
  readonly #lines: string[] = [];

  family(name: string, type: "counter" | "gauge" | "histogram", help: string): void {
    this.#lines.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} ${type}`);
  }

  sample(name: string, labels: Record<string, string>, value: number): void {
    const pairs = Object.entries(labels).map(([key, text]) => `${key}="${escapeLabelValue(text)}"`);
    const labelText = pairs.length === 0 ? "" : `{${pairs.join(",")}}`;
    this.#lines.push(`${name}${labelText} ${formatValue(value)}`);
  }

  text(): string {
    return this.#lines.join("\n") + "\n";
  }
}

/** Escapes a label value: backslash, double quote and line feed, as the text format requires. */
export function escapeLabelValue(text: string): string {
  return text.replace(/[\\"\n]/g, (character) => character === "\n" ? "\\n" : `\\${character}`);
}

function escapeHelp(text: string): string {
  return text.replace(/[\\\n]/g, (character) => character === "\n" ? "\\n" : "\\\\");
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
