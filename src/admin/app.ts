import { type Context, Hono } from "hono";
import { formatSocketAddress } from "../net/ip-address.ts";
import type { ReloadOutcome } from "../lifecycle/reloader.ts";
import type { ProxySnapshot, ProxyView } from "../proxy/snapshot.ts";
import type { WorkerStatus } from "../workers/supervisor.ts";
import { renderDashboard } from "./dashboard.ts";
import type { TrafficStats } from "./metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";

/** The proxy that the admin API reports on: one process, or the merged view of its workers. */
export interface AdminView {
  readonly draining: boolean;
  snapshot(): ProxySnapshot | Promise<ProxySnapshot>;
}

/** Renders `/metrics` and the dashboard's traffic counts; a `MetricsCollector` is one. */
export interface AdminMetrics {
  render(snapshot: ProxySnapshot): string | Promise<string>;
  traffic(): TrafficStats | Promise<TrafficStats>;
}

export interface AdminAppOptions {
  view: ProxyView | AdminView;
  metrics: AdminMetrics;
  /** Worker processes for `/status`, when a supervisor serves the API for them. */
  workers?: () => WorkerStatus[];
  /**
   * Serves `GET /snapshot` and `GET /traffic`, the raw snapshot and traffic counts as JSON,
   * which a supervisor reads from its workers. Off by default: their shapes are internal and may
   * change between versions.
   */
  internalRoutes?: boolean;
  /** Reloads the config file for `POST /reload`. Without it, that route returns 404. */
  reload?: () => Promise<ReloadOutcome>;
  /** When set, every request needs `Authorization: Bearer <token>` or gets 401. */
  token?: string;
  /** Called with an error that a route raised; the client gets 500. */
  onError?: (error: Error, path: string) => void;
}

/**
 * Builds the admin API: `/healthz` (liveness), `/readyz` (503 while draining), `/status` (JSON),
 * `/metrics` (Prometheus text), `/` (an HTML page of the status that reloads itself) and
 * `POST /reload`, the only route that changes state.
 *
 * `POST /reload` reloads the config file and returns the outcome as JSON. The status is 200 with
 * the changes, 422 with the problems of an invalid file, 409 when there is no file, and 500 when
 * the new config could not be applied.
 */
export function createAdminApp(options: AdminAppOptions): Hono {
  const { view, metrics, token } = options;
  const app = new Hono();

  if (token !== undefined) {
    const expected = `Bearer ${token}`;
    app.use("*", async (context, next) => {
      const received = context.req.header("authorization") ?? "";
      if (!constantTimeEqual(received, expected)) {
        context.header("WWW-Authenticate", 'Bearer realm="cairn-admin"');
        return plainText(context, "Unauthorized: send Authorization: Bearer <token>\n", 401);
      }
      await next();
    });
  }

  app.get("/", async (context) => {
    const [snapshot, traffic] = await Promise.all([view.snapshot(), metrics.traffic()]);
    return context.html(renderDashboard(snapshot, traffic, options.workers?.()));
  });
  app.get("/healthz", (context) => plainText(context, "ok\n"));
  app.get("/readyz", (context) => {
    if (view.draining) return plainText(context, "draining\n", 503);
    return plainText(context, "ready\n");
  });
  app.get("/status", async (context) => {
    const body = statusBody(await view.snapshot());
    return context.json(options.workers === undefined ? body : { ...body, workers: options.workers() });
  });
  app.get("/metrics", async (context) => {
    const body = await metrics.render(await view.snapshot());
    return context.body(body, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });
  if (options.internalRoutes === true) {
    app.get("/snapshot", async (context) => context.json(await view.snapshot()));
    app.get("/traffic", async (context) => context.json(await metrics.traffic()));
  }
  const reload = options.reload;
  if (reload !== undefined) {
    app.post("/reload", async (context) => {
      const outcome = await reload();
      switch (outcome.status) {
        case "reloaded":
          return context.json({ status: outcome.status, ...outcome.summary }, 200);
        case "invalid":
          return context.json({ status: outcome.status, problems: outcome.problems }, 422);
        case "unavailable":
          return context.json({ status: outcome.status, message: outcome.message }, 409);
        case "failed":
          return context.json({ status: outcome.status, message: outcome.message }, 500);
      }
    });
    app.all("/reload", (context) => {
      context.header("Allow", "POST");
      return plainText(context, "Method Not Allowed: use POST /reload\n", 405);
    });
  }
  app.notFound((context) => plainText(context, "Not Found\n", 404));
  app.onError((error, context) => {
    options.onError?.(error, context.req.path);
    return plainText(context, "Internal Server Error\n", 500);
  });
  return app;
}

/**
 * Sends a text/plain response. `context.text` without extra headers returns `new Response(text)`,
 * which on Bun 1.4.5 has no Content-Type field, unlike Deno and the Fetch standard.
 */
function plainText(
  context: Context,
  text: string,
  status: 200 | 401 | 404 | 405 | 500 | 503 = 200,
): Response {
  return context.text(text, status, { "Content-Type": "text/plain; charset=utf-8" });
}

/** Shapes a snapshot for `/status`: addresses as `host:port` text next to their parts. */
function statusBody(snapshot: ProxySnapshot) {
  return {
    draining: snapshot.draining,
    openConnections: snapshot.openConnections,
    listeners: snapshot.listeners.map((listener) => ({
      name: listener.name,
      address: formatSocketAddress(listener.address),
    })),
    routes: snapshot.routes,
    upstreams: snapshot.upstreams.map((upstream) => ({
      name: upstream.name,
      balancing: upstream.balancing,
      pool: upstream.pool,
      peers: upstream.peers.map((peer) => ({
        peer: peer.label,
        weight: peer.weight,
        inFlight: peer.inFlight,
        health: peer.health ?? null,
        pool: peer.pool,
      })),
    })),
  };
}

/** Compares without returning early on the first difference, so timing does not leak the token. */
function constantTimeEqual(received: string, expected: string): boolean {
  let difference = received.length ^ expected.length;
  for (let i = 0; i < expected.length; i++) {
    // charCodeAt past the end returns NaN, which `| 0` turns into 0.
    difference |= (received.charCodeAt(i) | 0) ^ expected.charCodeAt(i);
  }
  return difference === 0;
}
