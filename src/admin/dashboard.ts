import { formatSocketAddress } from "../net/ip-address.ts";
import type { ProxySnapshot } from "../proxy/snapshot.ts";
import type { WorkerStatus } from "../workers/supervisor.ts";
import type { TrafficStats } from "./metrics.ts";

/** Seconds between reloads of the dashboard page. */
export const DASHBOARD_REFRESH_SECONDS = 5;

/**
 * Renders a read-only HTML page of the snapshot and the traffic: request and error counts and
 * rates, listeners, routes with their counts, and each upstream's pool and peers. The page
 * reloads itself every `DASHBOARD_REFRESH_SECONDS` with a meta refresh, so it needs no script.
 */
export function renderDashboard(
  snapshot: ProxySnapshot,
  traffic: TrafficStats,
  workers?: readonly WorkerStatus[],
): string {
  const listeners = snapshot.listeners.map((listener) =>
    `<li>${escapeHtml(listener.name)}: ${escapeHtml(formatSocketAddress(listener.address))}</li>`
  );
  const countsByRoute = new Map(traffic.routes.map((entry) => [entry.route, entry]));
  const routes = snapshot.routes.map((route) => {
    const counts = countsByRoute.get(route.name);
    return `<tr><td>${escapeHtml(route.name)}</td><td>${escapeHtml(route.upstream)}</td>` +
      `<td>${counts?.requests ?? 0}</td><td>${counts?.errors ?? 0}</td></tr>`;
  });
  const unmatched = countsByRoute.get("");
  if (unmatched !== undefined) {
    routes.push(`<tr><td>(no route matched)</td><td></td><td>${unmatched.requests}</td><td>${unmatched.errors}</td></tr>`);
  }
  const upstreams = snapshot.upstreams.map((upstream) => {
    const rows = upstream.peers.map((peer) => {
      const health = peer.health;
      let state = "unknown";
      if (health !== undefined) {
        if (!health.enabled) state = "disabled";
        else if (health.ejected) state = "ejected";
        else if (!health.healthy) state = "unhealthy";
        else state = "healthy";
      }
      return `<tr><td>${escapeHtml(peer.label)}</td><td class="${state}">${state}</td>` +
        `<td>${peer.weight}</td><td>${peer.inFlight}</td><td>${peer.pool.connected}</td>` +
        `<td>${peer.pool.idle}</td></tr>`;
    });
    const pool = upstream.pool;
    return `<h3>${escapeHtml(upstream.name)} (${escapeHtml(upstream.balancing)})</h3>
<p>Pool: ${pool.connected} open, ${pool.idle} idle, ${pool.connecting} connecting, ${pool.queued} queued.</p>
<table><tr><th>Peer</th><th>State</th><th>Weight</th><th>In flight</th><th>Open</th><th>Idle</th></tr>
${rows.join("\n")}
</table>`;
  });
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta http-equiv="refresh" content="${DASHBOARD_REFRESH_SECONDS}">
<title>Cairn</title>
<style>body{font:15px system-ui,sans-serif;margin:2rem auto;max-width:60rem}th,td{text-align:left;padding:0 1rem 0 0}
.healthy{color:#060}.unhealthy,.ejected{color:#b00}.disabled,.unknown{color:#666}</style>
</head>
<body>
<h1>Cairn</h1>
<p>${
    snapshot.draining ? "Draining: shutdown has begun." : "Serving."
  } ${plural(snapshot.openConnections, "client connection")} open.
See <a href="/status">/status</a> and <a href="/metrics">/metrics</a>.</p>
<h2>Traffic</h2>
<p id="traffic">${plural(traffic.requests, "request")}, ${plural(traffic.errors, "error")} (5xx) since start.
Over the last ${plural(traffic.rateWindowSeconds, "second")}: ${formatRate(traffic.requestsPerSecond)} requests/s,
${formatRate(traffic.errorsPerSecond)} errors/s.</p>
${workers === undefined ? "" : renderWorkers(workers)}<h2>Listeners</h2>
<ul>${listeners.join("")}</ul>
<h2>Routes</h2>
<table id="routes"><tr><th>Route</th><th>Upstream</th><th>Requests</th><th>Errors (5xx)</th></tr>
${routes.join("\n")}
</table>
<h2>Upstreams</h2>
${upstreams.join("\n")}
</body>
</html>
`;
}

/** Renders the worker processes of `--workers`, whose counts the rest of the page adds up. */
function renderWorkers(workers: readonly WorkerStatus[]): string {
  const rows = workers.map((worker) =>
    `<tr><td>${worker.index}</td><td>${worker.pid ?? ""}</td>` +
    `<td>${worker.running ? "running" : "starting"}</td><td>${worker.restarts}</td></tr>`
  );
  return `<h2>Workers</h2>
<p>Counts below add up the running workers. A restarted worker counts from zero again.</p>
<table id="workers"><tr><th>Worker</th><th>Process id</th><th>State</th><th>Restarts</th></tr>
${rows.join("\n")}
</table>
`;
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? "" : "s"}`;
}

/** Two decimals below 10 per second, whole numbers above. */
function formatRate(perSecond: number): string {
  return perSecond < 10 ? perSecond.toFixed(2) : String(Math.round(perSecond));
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
