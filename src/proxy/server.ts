import type { Config, ListenerConfig, RouteConfig, UpstreamConfig } from "../config/schema.ts";
import { sameValue } from "../config/same-value.ts";
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
  /** Bind listeners so that other processes can share their ports, as workers do. */
  reusePort?: boolean;
}

export interface BoundListener {
  readonly name: string;
  readonly listener: Listener;
}

/** The changes a reload made, for its log line and the `POST /reload` response. */
export interface ReloadSummary {
  /** Upstreams by what happened to them; `kept` ones carry their pools and health over. */
  upstreams: { added: string[]; changed: string[]; removed: string[]; kept: string[] };
  /** Listeners by name; a listener whose address changed is both removed and added. */
  listeners: { added: string[]; removed: string[]; kept: string[] };
  routes: number;
}

/** A bound listener with the state that the connections it accepts share. */
interface ListenerState extends BoundListener {
  name: string;
  config: ListenerConfig;
  /** Read at each accept, so a reload changes the limits of new connections only. */
  context: ProxyContext;
  readonly connections: Set<DownstreamConnection>;
  /** Set when a reload removed the listener: connections it still accepts close when idle. */
  removed: boolean;
}

interface UpstreamState {
  readonly config: UpstreamConfig;
  readonly running: RunningUpstreamGroup;
}

/** Finds the route target of a request; one is built per config. */
type RouteLookup = (request: RouteRequest) => RouteTarget | undefined;

/**
 * A running proxy: its listeners, the client connections they accepted, and the upstream
 * groups with their pools, all built from one validated config. `reload` swaps in a new config
 * while it runs.
 */
export class ProxyServer implements ProxyView {
  #config: Config;
  #options: ProxyServerOptions;
  #listeners: ListenerState[] = [];
  #upstreams = new Map<string, UpstreamState>();
  #route: RouteLookup = () => undefined;
  #connections = new Set<DownstreamConnection>();
  #draining = false;

  private constructor(config: Config, options: ProxyServerOptions) {
    this.#config = config;
    this.#options = options;
  }

  /**
   * Builds the upstream groups, with their health checks and discovery, and the routes, then
   * binds every listener.
   */
  static async start(config: Config, options: ProxyServerOptions): Promise<ProxyServer> {
    const server = new ProxyServer(config, options);
    const upstreams = await server.#startUpstreams(config, new Map());
    let listeners: ListenerState[];
    try {
      listeners = await server.#bindListeners(config, []);
    } catch (error) {
      await Promise.all([...upstreams.values()].map((state) => state.running.stop()));
      throw error;
    }
    server.#upstreams = upstreams;
    server.#route = buildRouteLookup(config, upstreams);
    server.#listeners = listeners;
    return server;
  }

  /** The config in force: the one given to `start`, or to the last successful `reload`. */
  get config(): Config {
    return this.#config;
  }

  /** The bound listeners, in config order. */
  get listeners(): readonly BoundListener[] {
    return this.#listeners;
  }

  /** Upstream groups by name. */
  get groups(): ReadonlyMap<string, UpstreamGroup> {
    const groups = new Map<string, UpstreamGroup>();
    for (const [name, state] of this.#upstreams) groups.set(name, state.running.group);
    return groups;
  }

  /** Client connections open now. */
  get openConnections(): number {
    return this.#connections.size;
  }

  /** True once `shutdown` began. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Switches to `config` in one step. Upstreams whose config is unchanged keep their groups, with
   * pools, health and counters, and the others get new groups. A listener whose address is
   * unchanged stays bound, and the new name and limits apply to the connections it accepts from
   * then on. New listeners are bound, and removed ones stop accepting while their connections
   * finish. Requests in flight finish with the route and upstream they started with, and the next
   * request on every connection uses the new routes.
   *
   * Rejects, leaving the running config in force, when an upstream cannot start or a listener
   * cannot bind. Whatever the attempt had started is stopped first.
   */
  async reload(config: Config): Promise<ReloadSummary> {
    if (this.#draining) throw new Error("the proxy is shutting down");
    const unchanged = new Map<string, UpstreamState>();
    for (const [name, state] of this.#upstreams) {
      const next = config.upstreams.get(name);
      if (next !== undefined && upstreamUnchanged(state.config, next)) unchanged.set(name, state);
    }
    const upstreams = await this.#startUpstreams(config, unchanged);
    const started = [...upstreams.values()].filter((state) => !unchanged.has(state.config.name));
    let listeners: ListenerState[];
    try {
      listeners = await this.#bindListeners(config, this.#listeners);
    } catch (error) {
      await Promise.all(started.map((state) => state.running.stop()));
      throw error;
    }

    // The switch: from here on, every new request and connection uses the new config.
    const previousListeners = this.#listeners;
    const previousUpstreams = this.#upstreams;
    this.#config = config;
    this.#upstreams = upstreams;
    this.#route = buildRouteLookup(config, upstreams);
    this.#listeners = listeners;

    const removedListeners = previousListeners.filter((state) => !listeners.includes(state));
    for (const state of removedListeners) {
      state.removed = true;
      for (const connection of state.connections) connection.closeWhenIdle();
    }
    const retired = [...previousUpstreams.values()].filter((state) => !unchanged.has(state.config.name));
    await Promise.all([
      ...removedListeners.map((state) => state.listener.close()),
      ...retired.map((state) => state.running.retire()),
    ]);

    return {
      upstreams: {
        added: started.filter((state) => !previousUpstreams.has(state.config.name)).map(nameOf),
        changed: started.filter((state) => previousUpstreams.has(state.config.name)).map(nameOf),
        removed: [...previousUpstreams.keys()].filter((name) => !upstreams.has(name)),
        kept: [...unchanged.keys()],
      },
      listeners: {
        added: listeners.filter((state) => !previousListeners.includes(state)).map(nameOf),
        removed: removedListeners.map(nameOf),
        kept: listeners.filter((state) => previousListeners.includes(state)).map(nameOf),
      },
      routes: config.routes.length,
    };
  }

  /** Takes the listeners, routes, and per-upstream pool, health and load counts. */
  snapshot(): ProxySnapshot {
    const upstreams: UpstreamSnapshot[] = [];
    for (const { config, running } of this.#upstreams.values()) {
      const { selector, pool } = running.group;
      upstreams.push({
        name: config.name,
        balancing: config.balancing,
        pool: pool.stats(),
        peers: selector.balancer.peers.map((peer) => ({
          label: peer.label,
          weight: peer.weight,
          inFlight: selector.inFlight(peer),
          health: selector.health.stats(peer),
          pool: pool.peerStats(peer.target.key),
        })),
      });
    }
    return {
      draining: this.#draining,
      openConnections: this.#connections.size,
      listeners: this.#listeners.map((entry) => ({ name: entry.name, address: entry.listener.address })),
      routes: this.#config.routes.map((route) => ({ name: route.name, upstream: route.upstream })),
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
    const running = [...this.#upstreams.values()];
    this.#upstreams = new Map();
    await Promise.all(running.map((state) => state.running.stop()));
    await listenersClosed;
    return aborted;
  }

  /**
   * Starts a group for every upstream of `config` that `kept` does not already hold. On failure,
   * stops the groups it started and rethrows.
   */
  async #startUpstreams(
    config: Config,
    kept: ReadonlyMap<string, UpstreamState>,
  ): Promise<Map<string, UpstreamState>> {
    const upstreams = new Map<string, UpstreamState>();
    const started: UpstreamState[] = [];
    try {
      for (const upstream of config.upstreams.values()) {
        let state = kept.get(upstream.name);
        if (state === undefined) {
          state = { config: upstream, running: await startUpstreamGroup(upstream, this.#options) };
          started.push(state);
        }
        upstreams.set(upstream.name, state);
      }
    } catch (error) {
      await Promise.all(started.map((state) => state.running.stop()));
      throw error;
    }
    return upstreams;
  }

  /**
   * Returns a state for every listener of `config`: the one in `current` with the same address,
   * or a newly bound one. On failure, closes the listeners it bound and rethrows. The states
   * kept from `current` get the new name, config and limits only once every bind succeeded, so a
   * failed reload leaves the running ones in force.
   */
  async #bindListeners(config: Config, current: readonly ListenerState[]): Promise<ListenerState[]> {
    const states: ListenerState[] = [];
    const bound: ListenerState[] = [];
    try {
      for (const listenerConfig of config.listeners) {
        const existing = current.find((state) =>
          state.config.hostname === listenerConfig.hostname && state.config.port === listenerConfig.port
        );
        if (existing !== undefined) {
          states.push(existing);
          continue;
        }
        const state = await this.#bind(listenerConfig, this.#listenerContext(listenerConfig, config));
        bound.push(state);
        states.push(state);
      }
    } catch (error) {
      await Promise.all(bound.map((state) => state.listener.close()));
      throw error;
    }
    for (const [index, state] of states.entries()) {
      const listenerConfig = config.listeners[index];
      state.name = listenerConfig.name;
      state.config = listenerConfig;
      state.context = this.#listenerContext(listenerConfig, config);
    }
    return states;
  }

  async #bind(listenerConfig: ListenerConfig, context: ProxyContext): Promise<ListenerState> {
    const connections = new Set<DownstreamConnection>();
    // Assigned before the first accept can happen, which needs the event loop to turn.
    let state!: ListenerState;
    const listener = await listenOrExplain(
      this.#options.network,
      `listener ${listenerConfig.name}`,
      { hostname: listenerConfig.hostname, port: listenerConfig.port, reusePort: this.#options.reusePort },
      (connection) => {
        const downstream = new DownstreamConnection(connection, state.context, (closed) => {
          this.#connections.delete(closed);
          connections.delete(closed);
        });
        this.#connections.add(downstream);
        connections.add(downstream);
        if (this.#draining || state.removed) downstream.closeWhenIdle();
        return downstream;
      },
    );
    state = { name: listenerConfig.name, listener, config: listenerConfig, context, connections, removed: false };
    return state;
  }

  #listenerContext(listenerConfig: ListenerConfig, config: Config): ProxyContext {
    const server = this;
    return {
      limits: listenerConfig.limits,
      protocol: "http",
      echoRequestId: config.logging.echoRequestId,
      events: this.#options.events,
      route: (request) => server.#route(request),
      get draining() {
        return server.#draining;
      },
    };
  }

  #allDrained(): boolean {
    for (const connection of this.#connections) if (!connection.drained) return false;
    return true;
  }

  async #closeListeners(): Promise<void> {
    const bound = this.#listeners.splice(0);
    await Promise.all(bound.map((entry) => entry.listener.close()));
  }
}

/**
 * Returns whether a reload may keep the running group of an upstream. A CA file is read when the group
 * starts, so an upstream that names one gets a new group on every reload, which reads it again.
 */
function upstreamUnchanged(running: UpstreamConfig, next: UpstreamConfig): boolean {
  return running.tls.caFile === undefined && sameValue(running, next);
}

function nameOf(state: { readonly name: string } | { readonly config: { name: string } }): string {
  return "name" in state ? state.name : state.config.name;
}

function buildRouteLookup(config: Config, upstreams: ReadonlyMap<string, UpstreamState>): RouteLookup {
  const groups = new Map<string, UpstreamGroup>();
  for (const [name, state] of upstreams) groups.set(name, state.running.group);
  const targets = new Map<RouteConfig, RouteTarget>();
  for (const route of config.routes) targets.set(route, buildRouteTarget(route, groups));
  const router = new Router(config.routes);
  return (request) => {
    const matched = router.match(request);
    return matched === undefined ? undefined : targets.get(matched);
  };
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
