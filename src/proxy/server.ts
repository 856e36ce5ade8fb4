import type { Config, RouteConfig } from "../config/schema.ts";
import { listenOrExplain } from "../net/listen.ts";
import type { Listener, Network } from "../net/types.ts";
import { Router } from "../router/router.ts";
import type {
  ExchangeTimeouts,
  ProxyContext,
  RouteRequest,
  RouteTarget,
  UpstreamGroup,
} from "./context.ts";
import { DownstreamConnection } from "./downstream.ts";
import type { ProxyEvents } from "./events.ts";
import type { ProxySnapshot, ProxyView, UpstreamSnapshot } from "./snapshot.ts";
import { type RunningUpstreamGroup, startUpstreamGroup } from "./upstream-group.ts";

/** How often shutdown checks whether every connection has finished. */
const DRAIN_POLL_MS = 25;

export interface ProxyServerOptions {
  network: Network;
  events: ProxyEvents;
  /** Reads a file named in the config, such as a CA bundle. */
  readTextFile(path: string): Promise<string>;
}

export interface BoundListener {
  readonly name: string;
  readonly listener: Listener;
}

/**
 * A running proxy: its listeners, the client connections they accepted, and the upstream
 * groups with their pools, all built from one validated config.
 */
export class ProxyServer implements ProxyView {
  readonly config: Config;
  readonly listeners: BoundListener[] = [];
  readonly groups = new Map<string, UpstreamGroup>();
  #runningGroups: RunningUpstreamGroup[] = [];
  #connections = new Set<DownstreamConnection>();
  #draining = false;

  private constructor(config: Config) {
    this.config = config;
  }

  /**
   * Builds the upstream groups, with their health checks and discovery, and the routes, then
   * binds every listener.
   */
  static async start(config: Config, options: ProxyServerOptions): Promise<ProxyServer> {
    const server = new ProxyServer(config);
    const groups = server.groups;
    try {
      for (const upstream of config.upstreams.values()) {
        const running = await startUpstreamGroup(upstream, options);
        server.#runningGroups.push(running);
        groups.set(upstream.name, running.group);
      }
    } catch (error) {
      await server.#stopGroups();
      throw error;
    }
    const targets = new Map<RouteConfig, RouteTarget>();
    for (const route of config.routes) targets.set(route, buildRouteTarget(route, groups));
    const router = new Router(config.routes);
    const route = (request: RouteRequest) => {
      const matched = router.match(request);
      return matched === undefined ? undefined : targets.get(matched);
    };
    try {
      for (const listenerConfig of config.listeners) {
        const context: ProxyContext = {
          limits: listenerConfig.limits,
          protocol: "http",
          echoRequestId: config.logging.echoRequestId,
          events: options.events,
          route,
          get draining() {
            return server.#draining;
          },
        };
        const listener = await listenOrExplain(
          options.network,
          `listener ${listenerConfig.name}`,
          { hostname: listenerConfig.hostname, port: listenerConfig.port },
          (connection) => {
            const downstream = new DownstreamConnection(connection, context, (closed) => server.#forget(closed));
            server.#connections.add(downstream);
            if (server.#draining) downstream.closeWhenIdle();
            return downstream;
          },
        );
        server.listeners.push({ name: listenerConfig.name, listener });
      }
    } catch (error) {
      await server.#closeListeners();
      await server.#stopGroups();
      throw error;
    }
    return server;
  }

  /** Client connections open now. */
  get openConnections(): number {
    return this.#connections.size;
  }

  /** True once `shutdown` began. */
  get draining(): boolean {
    return this.#draining;
  }

  /** Takes the listeners, routes, and per-upstream pool, health and load counts. */
  snapshot(): ProxySnapshot {
    const upstreams: UpstreamSnapshot[] = [];
    for (const group of this.groups.values()) {
      const selector = group.selector;
      upstreams.push({
        name: group.name,
        balancing: this.config.upstreams.get(group.name)?.balancing ?? "",
        pool: group.pool.stats(),
        peers: selector.balancer.peers.map((peer) => ({
          label: peer.label,
          weight: peer.weight,
          inFlight: selector.inFlight(peer),
          health: selector.health.stats(peer),
          pool: group.pool.peerStats(peer.target.key),
        })),
      });
    }
    return {
      draining: this.#draining,
      openConnections: this.#connections.size,
      listeners: this.listeners.map((entry) => ({ name: entry.name, address: entry.listener.address })),
      routes: this.config.routes.map((route) => ({ name: route.name, upstream: route.upstream })),
      upstreams,
    };
  }

  /**
   * Stops accepting, lets requests in flight finish, and closes every connection. Connections
   * still open after `deadlineMs` are closed at once. Resolves to how many were closed that way.
   */
  async shutdown(deadlineMs: number): Promise<number> {
    this.#draining = true;
    const listenersClosed = this.#closeListeners();
    for (const connection of this.#connections) connection.closeWhenIdle();
    const deadline = Date.now() + deadlineMs;
    let finished = this.#allDrained();
    while (!finished && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
      finished = this.#allDrained();
    }
    let aborted = 0;
    for (const connection of this.#connections) {
      if (!connection.drained) aborted++;
      connection.abortForShutdown();
    }
    await this.#stopGroups();
    await listenersClosed;
    return aborted;
  }

  #forget(connection: DownstreamConnection): void {
    this.#connections.delete(connection);
  }

  #allDrained(): boolean {
    for (const connection of this.#connections) if (!connection.drained) return false;
    return true;
  }

  async #closeListeners(): Promise<void> {
    const bound = this.listeners.splice(0);
    await Promise.all(bound.map((entry) => entry.listener.close()));
  }

  async #stopGroups(): Promise<void> {
    const running = this.#runningGroups.splice(0);
    await Promise.all(running.map((entry) => entry.stop()));
  }
}

function buildRouteTarget(route: RouteConfig, groups: Map<string, UpstreamGroup>): RouteTarget {
  const setFields = new Map<string, { name: string; value: string }>();
  for (const field of route.setHeaders) setFields.set(field.name.toLowerCase(), field);
  const group = groups.get(route.upstream)!;
  // Resolved once here, so an exchange reads its deadlines without merging them per request.
  const timeouts: ExchangeTimeouts = {
    responseHeaderMs: route.timeouts.responseHeaderMs ?? group.timeouts.responseHeaderMs,
    idleMs: route.timeouts.idleMs ?? group.timeouts.idleMs,
    totalMs: route.timeouts.totalMs ?? group.timeouts.totalMs,
  };
  return {
    name: route.name,
    group,
    timeouts,
    hostRewrite: route.hostRewrite,
    setFields: setFields.size > 0 ? setFields : undefined,
    removeFields: route.removeHeaders.length > 0 ? new Set(route.removeHeaders) : undefined,
  };
}
