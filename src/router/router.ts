import type { HeaderField, RouteConfig } from "../config/mod.ts";

/** The parts of a request that routes match on. */
export interface RouteRequest {
  /** Host header value as received, possibly with `:port`; undefined when absent. */
  host: string | undefined;
  /** Request path without the query string, as received (not percent-decoded). */
  path: string;
  method: string;
  /** Returns the value of a request header. The router passes lower-case names. */
  header(name: string): string | undefined;
}

/** A route with its conditions prepared for fast checks. */
interface CompiledRoute {
  route: RouteConfig;
  /** Position in the route list, which is the precedence: lower wins. */
  index: number;
  path: string | undefined;
  pathPrefix: string | undefined;
  methods: ReadonlySet<string> | undefined;
  headers: readonly HeaderField[];
}

/**
 * Selects the route for a request. Routes are tried in the order they appear in the
 * configuration, and the first route whose every condition matches wins, as in Envoy and
 * HAProxy. A route without a host condition matches any host, including a missing Host.
 *
 * Host conditions are indexed when the router is built. Each exact host, and each wildcard
 * suffix, gets a bucket with every route that can match it: routes for that host, wildcard
 * routes that cover it and routes without a host condition, merged in file order. A lookup
 * reads one bucket, so routes for other hosts cost nothing. Within a bucket, the path, method
 * and header conditions are checked route by route.
 *
 * Request hosts are compared in lower case with the port removed, and without removing a
 * trailing dot, so `example.com.` does not match `example.com`.
 */
export class Router {
  readonly #exactBuckets = new Map<string, CompiledRoute[]>();
  /** Keyed by the suffix with its leading dot, such as `.example.com` for `*.example.com`. */
  readonly #wildcardBuckets = new Map<string, CompiledRoute[]>();
  /** Routes without a host condition, for requests whose host has no bucket. */
  readonly #anyHostRoutes: CompiledRoute[] = [];

  constructor(routes: readonly RouteConfig[]) {
    const exactRoutes = new Map<string, CompiledRoute[]>();
    const wildcardRoutes = new Map<string, CompiledRoute[]>();

    routes.forEach((route, index) => {
      const compiled = compileRoute(route, index);
      if (route.match.hosts.length === 0) {
        this.#anyHostRoutes.push(compiled);
        return;
      }
      for (const pattern of new Set(route.match.hosts.map((host) => host.toLowerCase()))) {
        const isWildcard = pattern.startsWith("*.");
        const table = isWildcard ? wildcardRoutes : exactRoutes;
        const key = isWildcard ? pattern.slice(1) : pattern;
        const list = table.get(key);
        if (list === undefined) {
          table.set(key, [compiled]);
        } else {
          list.push(compiled);
        }
      }
    });

    for (const [suffix, own] of wildcardRoutes) {
      const covering = coveringWildcards(suffix.slice(1), wildcardRoutes);
      this.#wildcardBuckets.set(suffix, mergeByIndex([own, ...covering, this.#anyHostRoutes]));
    }
    for (const [host, own] of exactRoutes) {
      const covering = coveringWildcards(host, wildcardRoutes);
      this.#exactBuckets.set(host, mergeByIndex([own, ...covering, this.#anyHostRoutes]));
    }
  }

  /** Returns the first route, in configuration order, whose conditions all match. */
  match(request: RouteRequest): RouteConfig | undefined {
    const candidates = this.#candidates(request.host);
    for (const candidate of candidates) {
      if (matchesConditions(candidate, request)) {
        return candidate.route;
      }
    }
    return undefined;
  }

  /** Returns the bucket for the request's host: exact host first, then the longest suffix. */
  #candidates(hostHeader: string | undefined): readonly CompiledRoute[] {
    if (hostHeader === undefined || hostHeader === "") {
      return this.#anyHostRoutes;
    }

    const host = normalizeHost(hostHeader);
    const exact = this.#exactBuckets.get(host);
    if (exact !== undefined) {
      return exact;
    }

    // The first suffix found is the longest. Its bucket already contains the routes of every
    // shorter wildcard that covers the host. A dot at position 0 would leave an empty first
    // label, which a wildcard does not match.
    for (let dot = host.indexOf(".", 1); dot !== -1; dot = host.indexOf(".", dot + 1)) {
      const bucket = this.#wildcardBuckets.get(host.slice(dot));
      if (bucket !== undefined) {
        return bucket;
      }
    }
    return this.#anyHostRoutes;
  }
}

/**
 * Lower-cases a Host header value and removes its port: `API.example.com:8080` becomes
 * `api.example.com` and `[::1]:8080` becomes `[::1]`.
 */
export function normalizeHost(host: string): string {
  const lower = host.toLowerCase();
  if (lower.startsWith("[")) {
    const close = lower.indexOf("]");
    return close === -1 ? lower : lower.slice(0, close + 1);
  }
  const colon = lower.indexOf(":");
  return colon === -1 ? lower : lower.slice(0, colon);
}

function compileRoute(route: RouteConfig, index: number): CompiledRoute {
  const { match } = route;
  return {
    route,
    index,
    path: match.path,
    pathPrefix: match.pathPrefix,
    methods: match.methods.length > 0 ? new Set(match.methods) : undefined,
    headers: match.headers.map((field) => ({ name: field.name.toLowerCase(), value: field.value })),
  };
}

function matchesConditions(candidate: CompiledRoute, request: RouteRequest): boolean {
  if (candidate.path !== undefined && request.path !== candidate.path) {
    return false;
  }
  if (candidate.pathPrefix !== undefined && !request.path.startsWith(candidate.pathPrefix)) {
    return false;
  }
  if (candidate.methods !== undefined && !candidate.methods.has(request.method)) {
    return false;
  }
  for (const field of candidate.headers) {
    if (request.header(field.name) !== field.value) {
      return false;
    }
  }
  return true;
}

/**
 * Returns the route lists of the wildcards that match `host`: those whose suffix (`.b.c`) ends
 * `host` after at least one non-empty label.
 */
function coveringWildcards(
  host: string,
  wildcardRoutes: ReadonlyMap<string, CompiledRoute[]>,
): CompiledRoute[][] {
  const lists: CompiledRoute[][] = [];
  for (let dot = host.indexOf(".", 1); dot !== -1; dot = host.indexOf(".", dot + 1)) {
    const list = wildcardRoutes.get(host.slice(dot));
    if (list !== undefined) {
      lists.push(list);
    }
  }
  return lists;
}

/** Merges route lists into one list in file order, keeping each route once. */
function mergeByIndex(lists: readonly CompiledRoute[][]): CompiledRoute[] {
  const byIndex = new Map<number, CompiledRoute>();
  for (const list of lists) {
    for (const route of list) {
      byIndex.set(route.index, route);
    }
  }
  return [...byIndex.values()].sort((a, b) => a.index - b.index);
}
