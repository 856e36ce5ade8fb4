import { type Context, Hono } from "hono";
import { formatSocketAddress } from "../net/ip-address.ts";
import type { ProxySnapshot, ProxyView } from "../proxy/snapshot.ts";
import { renderDashboard } from "./dashboard.ts";
import type { MetricsCollector } from "./metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";

export interface AdminAppOptions {
  view: ProxyView;
  metrics: MetricsCollector;
  /** When set, every request needs `Authorization: Bearer <token>` or gets 401. */
  token?: string;
  /** Called with an error that a route raised; the client gets 500. */
  onError?: (error: Error, path: string) => void;
}

/**
 * Builds the admin API: `/healthz` (liveness), `/readyz` (503 while draining), `/status` (JSON),
 * `/metrics` (Prometheus text) and `/`, an HTML page of the status that reloads itself. Every route only reads the proxy's state.
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

  app.get("/", (context) => context.html(renderDashboard(view.snapshot())));
  app.get("/healthz", (context) => plainText(context, "ok\n"));
  app.get("/readyz", (context) => {
    if (view.draining) return plainText(context, "draining\n", 503);
    return plainText(context, "ready\n");
  });
  app.get("/status", (context) => context.json(statusBody(view.snapshot())));
  app.get("/metrics", (context) => {
    const body = metrics.render(view.snapshot());
    return context.body(body, 200, { "Content-Type": PROMETHEUS_CONTENT_TYPE });
  });
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
  status: 200 | 401 | 404 | 500 | 503 = 200,
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
