import type { Config, RouteConfig, UpstreamConfig } from "../config/schema.ts";
import { listenOrExplain } from "../net/listen.ts";
import type { ClientTlsOptions, Listener, Network } from "../net/types.ts";
import { ConnectionPool, type PeerTarget } from "../pool/pool.ts";
import { Router } from "../router/router.ts";
import { RoundRobinBalancer } from "../upstream/balancer.ts";
import type { ProxyContext, RouteRequest, RouteTarget, UpstreamGroup, UpstreamPeer } from "./context.ts";
import { DownstreamConnection } from "./downstream.ts";
import type { ProxyEvents } from "./events.ts";

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
export class ProxyServer {
  readonly config: Config;
  readonly listeners: BoundListener[] = [];
  readonly groups: Map<string, UpstreamGroup>;
  #connections = new Set<DownstreamConnection>();
  #draining = false;

  private constructor(config: Config, groups: Map<string, UpstreamGroup>) {
    this.config = config;
    this.groups = groups;
  }

  /** Builds the upstream groups and routes, then binds every listener. */
  static async start(config: Config, options: ProxyServerOptions): Promise<ProxyServer> {
    const groups = new Map<string, UpstreamGroup>();
    for (const upstream of config.upstreams.values()) {
      groups.set(upstream.name, await buildGroup(upstream, options));
    }
    const server = new ProxyServer(config, groups);
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
      for (const group of groups.values()) group.pool.close();
      throw error;
    }
    return server;
  }

  /** Client connections open now. */
  get openConnections(): number {
    return this.#connections.size;
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
    for (const group of this.groups.values()) group.pool.close();
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
}

async function buildGroup(upstream: UpstreamConfig, options: ProxyServerOptions): Promise<UpstreamGroup> {
  let tls: ClientTlsOptions | undefined;
  if (upstream.peers.some((peer) => peer.scheme === "https")) {
    tls = { verify: upstream.tls.verify, serverName: upstream.tls.serverName };
    if (upstream.tls.caFile !== undefined) tls.ca = await options.readTextFile(upstream.tls.caFile);
  }
  const peers: UpstreamPeer[] = upstream.peers.map((peer) => {
    const hostPart = peer.hostname.includes(":") ? `[${peer.hostname}]` : peer.hostname;
    // Without a configured serverName, the adapter sends the host name for SNI, or no SNI for
    // an IP address (RFC 6066 §3 allows host names only).
    const peerTls = peer.scheme === "https" ? { ...tls } : undefined;
    const target: PeerTarget = {
      key: `${peer.scheme}://${hostPart}:${peer.port}${peerTls ? `|${peerTls.serverName ?? ""}|${peerTls.verify}` : ""}`,
      hostname: peer.hostname,
      port: peer.port,
      tls: peerTls,
    };
    return { target, authority: `${hostPart}:${peer.port}`, label: peer.url, weight: peer.weight };
  });
  return {
    name: upstream.name,
    balancer: new RoundRobinBalancer(peers),
    pool: new ConnectionPool(options.network, {
      maxIdlePerPeer: upstream.pool.maxIdlePerPeer,
      idleTimeoutMs: upstream.pool.idleTimeoutMs,
      connectTimeoutMs: upstream.timeouts.connectMs,
    }),
    timeouts: upstream.timeouts,
  };
}

function buildRouteTarget(route: RouteConfig, groups: Map<string, UpstreamGroup>): RouteTarget {
  const setFields = new Map<string, { name: string; value: string }>();
  for (const field of route.setHeaders) setFields.set(field.name.toLowerCase(), field);
  return {
    name: route.name,
    group: groups.get(route.upstream)!,
    hostRewrite: route.hostRewrite,
    setFields: setFields.size > 0 ? setFields : undefined,
    removeFields: route.removeHeaders.length > 0 ? new Set(route.removeHeaders) : undefined,
  };
}
