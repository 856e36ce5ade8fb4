import assert from "node:assert/strict";
import { describe, test } from "node:test";
import fc from "fast-check";
import type { RouteConfig, RouteMatch } from "../../../src/config/mod.ts";
import { normalizeHost, Router, type RouteRequest } from "../../../src/router/mod.ts";

function route(name: string, match: Partial<RouteMatch> = {}): RouteConfig {
  return {
    name,
    match: { hosts: [], methods: [], headers: [], ...match },
    upstream: "app",
    setHeaders: [],
    removeHeaders: [],
    hostRewrite: undefined,
    timeouts: { responseHeaderMs: undefined, idleMs: undefined, totalMs: undefined },
  };
}

interface RequestOptions {
  path?: string;
  method?: string;
  headers?: Record<string, string>;
}

/** Builds a request whose `header` looks names up case-insensitively and counts its calls. */
function request(host: string | undefined, options: RequestOptions = {}) {
  const headers = new Map(
    Object.entries(options.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const requested: string[] = [];
  const result: RouteRequest & { requested: string[] } = {
    host,
    path: options.path ?? "/",
    method: options.method ?? "GET",
    header(name: string) {
      requested.push(name);
      return headers.get(name.toLowerCase());
    },
    requested,
  };
  return result;
}

function matchName(router: Router, req: RouteRequest): string | undefined {
  return router.match(req)?.name;
}

describe("Router hosts", () => {
  const router = new Router([
    route("exact", { hosts: ["api.example.com"] }),
    route("wildcard", { hosts: ["*.example.com"] }),
    route("ipv4", { hosts: ["10.0.0.1"] }),
    route("ipv6", { hosts: ["[::1]"] }),
  ]);

  test("exact host", () => {
    assert.equal(matchName(router, request("api.example.com")), "exact");
    assert.equal(matchName(router, request("10.0.0.1")), "ipv4");
  });

  test("wildcard matches one or more labels", () => {
    assert.equal(matchName(router, request("www.example.com")), "wildcard");
    assert.equal(matchName(router, request("a.b.example.com")), "wildcard");
  });

  test("wildcard skips bare suffix", () => {
    assert.equal(matchName(router, request("example.com")), undefined);
    assert.equal(matchName(router, request(".example.com")), undefined);
    assert.equal(matchName(router, request("badexample.com")), undefined);
    assert.equal(matchName(router, request("example.com.evil.org")), undefined);
  });

  test("host case-insensitive", () => {
    assert.equal(matchName(router, request("API.Example.COM")), "exact");
    assert.equal(matchName(router, request("WWW.EXAMPLE.COM")), "wildcard");
    const upperConfig = new Router([route("upper", { hosts: ["API.EXAMPLE.COM", "*.Other.Org"] })]);
    assert.equal(matchName(upperConfig, request("api.example.com")), "upper");
    assert.equal(matchName(upperConfig, request("x.other.org")), "upper");
  });

  test("port in Host ignored", () => {
    assert.equal(matchName(router, request("api.example.com:8080")), "exact");
    assert.equal(matchName(router, request("www.example.com:443")), "wildcard");
    assert.equal(matchName(router, request("10.0.0.1:80")), "ipv4");
    assert.equal(matchName(router, request("[::1]:8080")), "ipv6");
    assert.equal(matchName(router, request("[::1]")), "ipv6");
  });

  test("trailing dot not removed", () => {
    assert.equal(matchName(router, request("api.example.com.")), undefined);
  });

  test("missing host skips host routes", () => {
    assert.equal(matchName(router, request(undefined)), undefined);
    assert.equal(matchName(router, request("")), undefined);
    const withCatchAll = new Router([route("host", { hosts: ["a.com"] }), route("any")]);
    assert.equal(matchName(withCatchAll, request(undefined)), "any");
    assert.equal(matchName(withCatchAll, request("")), "any");
  });

  test("route with several hosts", () => {
    const multi = new Router([route("multi", { hosts: ["a.com", "*.b.com"] }), route("any")]);
    assert.equal(matchName(multi, request("a.com")), "multi");
    assert.equal(matchName(multi, request("x.b.com")), "multi");
    assert.equal(matchName(multi, request("b.com")), "any");
  });

  test("normalizeHost strips port", () => {
    assert.equal(normalizeHost("API.Example.com:8080"), "api.example.com");
    assert.equal(normalizeHost("[::1]:8080"), "[::1]");
    assert.equal(normalizeHost("[::1"), "[::1");
    assert.equal(normalizeHost("example.com"), "example.com");
  });
});

describe("Router conditions", () => {
  test("exact path versus prefix", () => {
    const router = new Router([
      route("exact", { path: "/api" }),
      route("prefix", { pathPrefix: "/api/" }),
    ]);
    assert.equal(matchName(router, request("h", { path: "/api" })), "exact");
    assert.equal(matchName(router, request("h", { path: "/api/users" })), "prefix");
    assert.equal(matchName(router, request("h", { path: "/api/" })), "prefix");
    assert.equal(matchName(router, request("h", { path: "/apiary" })), undefined);
    assert.equal(matchName(router, request("h", { path: "/API" })), undefined);
    assert.equal(matchName(router, request("h", { path: "/" })), undefined);
  });

  test("methods", () => {
    const router = new Router([route("read", { methods: ["GET", "HEAD"] }), route("any")]);
    assert.equal(matchName(router, request("h", { method: "GET" })), "read");
    assert.equal(matchName(router, request("h", { method: "HEAD" })), "read");
    assert.equal(matchName(router, request("h", { method: "POST" })), "any");
    assert.equal(matchName(router, request("h", { method: "get" })), "any");
  });

  test("headers exact value", () => {
    const router = new Router([
      route("canary", { headers: [{ name: "x-canary", value: "1" }] }),
      route("any"),
    ]);
    assert.equal(matchName(router, request("h", { headers: { "X-Canary": "1" } })), "canary");
    assert.equal(matchName(router, request("h", { headers: { "x-canary": "2" } })), "any");
    assert.equal(matchName(router, request("h", { headers: { "x-canary": "1 " } })), "any");
    assert.equal(matchName(router, request("h")), "any");
  });

  test("header names passed lower-case", () => {
    const router = new Router([route("canary", { headers: [{ name: "X-Canary", value: "1" }] })]);
    const req = request("h");
    router.match(req);
    assert.deepEqual(req.requested, ["x-canary"]);
  });

  test("every condition must hold", () => {
    const router = new Router([
      route("all", {
        hosts: ["a.com"],
        pathPrefix: "/v1/",
        methods: ["POST"],
        headers: [{ name: "x-a", value: "1" }, { name: "x-b", value: "2" }],
      }),
    ]);
    const full = { path: "/v1/x", method: "POST", headers: { "x-a": "1", "x-b": "2" } };
    assert.equal(matchName(router, request("a.com", full)), "all");
    assert.equal(matchName(router, request("b.com", full)), undefined);
    assert.equal(matchName(router, request("a.com", { ...full, path: "/v2/x" })), undefined);
    assert.equal(matchName(router, request("a.com", { ...full, method: "GET" })), undefined);
    assert.equal(
      matchName(router, request("a.com", { ...full, headers: { "x-a": "1" } })),
      undefined,
    );
  });

  test("no match returns undefined", () => {
    assert.equal(new Router([]).match(request("a.com")), undefined);
    const router = new Router([route("only", { hosts: ["a.com"], path: "/x" })]);
    assert.equal(router.match(request("a.com", { path: "/y" })), undefined);
  });

  test("returns the configured object", () => {
    const configured = route("r", { hosts: ["a.com"] });
    const router = new Router([configured]);
    assert.equal(router.match(request("a.com")), configured);
  });
});

describe("Router precedence", () => {
  test("earlier catch-all beats host route", () => {
    const router = new Router([
      route("any", { pathPrefix: "/" }),
      route("exact", { hosts: ["a.com"] }),
      route("wildcard", { hosts: ["*.a.com"] }),
    ]);
    assert.equal(matchName(router, request("a.com")), "any");
    assert.equal(matchName(router, request("x.a.com")), "any");
  });

  test("earlier wildcard beats later exact", () => {
    const router = new Router([
      route("wildcard", { hosts: ["*.a.com"] }),
      route("exact", { hosts: ["x.a.com"] }),
    ]);
    assert.equal(matchName(router, request("x.a.com")), "wildcard");
  });

  test("earlier exact beats later wildcard", () => {
    const router = new Router([
      route("exact", { hosts: ["x.a.com"] }),
      route("wildcard", { hosts: ["*.a.com"] }),
    ]);
    assert.equal(matchName(router, request("x.a.com")), "exact");
    assert.equal(matchName(router, request("y.a.com")), "wildcard");
  });

  test("nested wildcards in file order", () => {
    const router = new Router([
      route("broad-post", { hosts: ["*.a.com"], methods: ["POST"] }),
      route("narrow", { hosts: ["*.b.a.com"] }),
      route("broad", { hosts: ["*.a.com"] }),
    ]);
    assert.equal(matchName(router, request("x.b.a.com", { method: "POST" })), "broad-post");
    assert.equal(matchName(router, request("x.b.a.com")), "narrow");
    assert.equal(matchName(router, request("x.c.a.com")), "broad");
    assert.equal(matchName(router, request("b.a.com")), "broad");
  });

  test("falls through host bucket", () => {
    const router = new Router([
      route("exact-api", { hosts: ["x.a.com"], pathPrefix: "/api/" }),
      route("wildcard-static", { hosts: ["*.a.com"], pathPrefix: "/static/" }),
      route("any"),
      route("exact-late", { hosts: ["x.a.com"] }),
    ]);
    assert.equal(matchName(router, request("x.a.com", { path: "/api/1" })), "exact-api");
    assert.equal(matchName(router, request("x.a.com", { path: "/static/1" })), "wildcard-static");
    assert.equal(matchName(router, request("x.a.com", { path: "/other" })), "any");
    assert.equal(matchName(router, request("zzz.org", { path: "/other" })), "any");
  });
});

describe("Router with 1,000 routes", () => {
  const count = 1_000;
  const routes: RouteConfig[] = [];
  for (let i = 0; i < count; i++) {
    routes.push(
      route(`host-${i}`, {
        hosts: [`h${i}.example.com`],
        headers: [{ name: "x-tenant", value: String(i) }],
      }),
    );
  }
  routes.push(route("wildcard", { hosts: ["*.example.com"] }));
  routes.push(route("any"));
  const router = new Router(routes);

  test("each host finds its route", () => {
    for (let i = 0; i < count; i++) {
      const req = request(`h${i}.example.com`, { headers: { "x-tenant": String(i) } });
      assert.equal(matchName(router, req), `host-${i}`);
    }
  });

  test("failed condition falls to wildcard", () => {
    const req = request("h500.example.com", { headers: { "x-tenant": "501" } });
    assert.equal(matchName(router, req), "wildcard");
    assert.equal(matchName(router, request("new.example.com")), "wildcard");
    assert.equal(matchName(router, request("other.org")), "any");
  });

  test("lookup skips other hosts' routes", () => {
    // Every host route has a header condition, so header() calls count the routes checked.
    const req = request("h999.example.com", { headers: { "x-tenant": "nope" } });
    assert.equal(matchName(router, req), "wildcard");
    assert.equal(req.requested.length, 1);

    const unknown = request("other.org");
    router.match(unknown);
    assert.equal(unknown.requested.length, 0);
  });
});

// ---------------------------------------------------------------------------------------------
// Property test: the indexed router agrees with a plain first-match scan written from the
// documented rules.

function naiveMatch(routes: readonly RouteConfig[], req: RouteRequest): RouteConfig | undefined {
  for (const candidate of routes) {
    const { match } = candidate;
    if (match.hosts.length > 0) {
      if (req.host === undefined) {
        continue;
      }
      const lower = req.host.toLowerCase();
      const host = lower.startsWith("[")
        ? lower.slice(0, lower.indexOf("]") + 1 || lower.length)
        : lower.split(":")[0];
      const hostMatches = match.hosts.some((pattern) => {
        const lowerPattern = pattern.toLowerCase();
        if (lowerPattern.startsWith("*.")) {
          const suffix = lowerPattern.slice(1);
          return host.endsWith(suffix) && host.length > suffix.length;
        }
        return host === lowerPattern;
      });
      if (!hostMatches) {
        continue;
      }
    }
    if (match.path !== undefined && req.path !== match.path) {
      continue;
    }
    if (match.pathPrefix !== undefined && !req.path.startsWith(match.pathPrefix)) {
      continue;
    }
    if (match.methods.length > 0 && !match.methods.includes(req.method)) {
      continue;
    }
    if (!match.headers.every((field) => req.header(field.name) === field.value)) {
      continue;
    }
    return candidate;
  }
  return undefined;
}

const HOST_PATTERNS = [
  "a.com",
  "b.a.com",
  "c.b.a.com",
  "x.org",
  "*.a.com",
  "*.b.a.com",
  "*.com",
  "*.org",
  "[::1]",
  "10.0.0.1",
  "*.0.1",
];
const REQUEST_HOSTS = [
  "a.com",
  "A.COM",
  "a.com:8080",
  "b.a.com",
  "B.a.com:1",
  "c.b.a.com",
  "d.b.a.com",
  "e.c.b.a.com",
  "z.a.com",
  "x.org",
  "y.x.org",
  "com",
  ".a.com",
  "..a.com",
  "a.com.",
  "[::1]",
  "[::1]:80",
  "[::1",
  "10.0.0.1",
  "10.0.0.1:80",
  "",
  ":80",
  "other.net",
];
const PATHS = ["/", "/a", "/a/", "/a/b", "/b", "/ab"];
const METHODS = ["GET", "POST", "PUT"];

const matchArbitrary = fc.record({
  hosts: fc.subarray(HOST_PATTERNS, { maxLength: 3 }),
  pathRule: fc.oneof(
    fc.constant(undefined),
    fc.record({ kind: fc.constantFrom("path", "pathPrefix"), value: fc.constantFrom(...PATHS) }),
  ),
  methods: fc.subarray(METHODS, { maxLength: 2 }),
  headerValue: fc.option(fc.constantFrom("1", "2"), { nil: undefined }),
});

const routesArbitrary = fc.array(matchArbitrary, { maxLength: 25 }).map((matches) =>
  matches.map((generated, index) => {
    const match: Partial<RouteMatch> = {
      hosts: generated.hosts,
      methods: generated.methods,
      headers: generated.headerValue === undefined
        ? []
        : [{ name: "x-h", value: generated.headerValue }],
    };
    if (generated.pathRule !== undefined) {
      match[generated.pathRule.kind] = generated.pathRule.value;
    }
    return route(`r${index}`, match);
  })
);

const requestArbitrary = fc.record({
  host: fc.option(fc.constantFrom(...REQUEST_HOSTS), { nil: undefined }),
  path: fc.constantFrom(...PATHS),
  method: fc.constantFrom(...METHODS),
  headerValue: fc.option(fc.constantFrom("1", "2"), { nil: undefined }),
});

describe("Router property", () => {
  test("agrees with linear first-match scan", () => {
    fc.assert(
      fc.property(
        routesArbitrary,
        fc.array(requestArbitrary, { minLength: 1, maxLength: 20 }),
        (routes, requests) => {
          const router = new Router(routes);
          for (const generated of requests) {
            const headers: Record<string, string> = generated.headerValue === undefined
              ? {}
              : { "x-h": generated.headerValue };
            const req = request(generated.host, {
              path: generated.path,
              method: generated.method,
              headers,
            });
            assert.equal(router.match(req)?.name, naiveMatch(routes, req)?.name);
          }
        },
      ),
      { numRuns: 500 },
    );
  });
});
