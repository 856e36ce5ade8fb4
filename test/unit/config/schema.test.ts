import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import {
  type Config,
  configFromFlags,
  type ConfigProblem,
  formatProblems,
  parseConfigText,
  validateConfig,
} from "../../../src/config/mod.ts";

/** The smallest valid file; tests append or replace sections. */
const MINIMAL = `
listeners:
  - address: 127.0.0.1:8080
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:3000
routes:
  - upstream: app
`;

function parseOk(text: string): Config {
  const result = parseConfigText(text, "test.yaml");
  if (!result.ok) {
    assert.fail(`expected a valid config, got:\n${formatProblems(result.errors)}`);
  }
  return result.config;
}

function parseErrors(text: string): ConfigProblem[] {
  const result = parseConfigText(text, "test.yaml");
  assert.equal(result.ok, false, "expected problems, got a valid config");
  return result.ok ? [] : result.errors;
}

/** Asserts that `text` has exactly one problem, at `path`, with a message matching `message`. */
function assertOnlyProblem(text: string, path: string, message: RegExp): void {
  const errors = parseErrors(text);
  assert.equal(errors.length, 1, `expected one problem, got:\n${formatProblems(errors)}`);
  assert.equal(errors[0].path, path);
  assert.match(errors[0].message, message);
}

describe("parseConfigText valid input", () => {
  test("full config parses every field", () => {
    const config = parseOk(`
listeners:
  - name: public
    address: 0.0.0.0:8080
  - address: "[::1]:9090"
upstreams:
  app:
    peers:
      - url: http://10.0.0.1:3000
        weight: 3
      - url: https://app.internal
        enabled: false
    balancing: consistent_hash
    hashKey: cookie:session
    healthCheck:
      type: http
      path: /healthz
      expectedStatuses: [200, "300-304"]
      interval: 2s
      timeout: 500ms
      healthyThreshold: 3
      unhealthyThreshold: 4
    passive: { consecutiveFailures: 2, baseEjection: 10s, maxEjection: 1m }
    retries: { attempts: 2, budget: 12.5%, onStatuses: [502, 503] }
    discovery: { resolveInterval: 15s }
    pool:
      maxIdlePerPeer: 8
      idleTimeout: 90s
      maxConnectionsPerPeer: 64
      maxQueue: 10
      queueTimeout: 250ms
      maxRequestsPerConnection: 500
      maxConnectionAge: 10m
      keepAliveMargin: 500ms
    timeouts: { connect: 2s, responseHeader: 30s, idle: 2m, total: 5m }
    tls: { serverName: app.example.com, caFile: certs/ca.pem, verify: false }
  static:
    peers:
      - url: http://[::1]:4000
routes:
  - name: api
    match:
      host: [api.example.com, "*.API.example.com"]
      pathPrefix: /api/
      methods: [GET, POST]
      headers: { X-Canary: "1" }
    upstream: app
    setHeaders: { X-Env: prod }
    removeHeaders: [X-Debug]
    hostRewrite: app.internal:8443
    timeouts: { responseHeader: 5s, idle: 10s, total: 20s }
  - match: { host: static.example.com, path: /index.html }
    upstream: static
  - upstream: app
limits:
  maxRequestLineBytes: 4KiB
  maxHeaderBytes: 32KiB
  maxHeaderCount: 50
  maxBodySize: 10MB
  headerTimeout: 10s
  keepAliveTimeout: 5s
  bodyTimeout: 20s
  maxRequestsPerConnection: 100
logging:
  access: false
  format: combined
  accessFile: /var/log/cairn/access.log
  echoRequestId: true
  level: debug
shutdown:
  drainTimeout: 0
demo:
  address: 127.0.0.1:8081
`);

    assert.deepEqual(
      config.listeners.map(({ limits: _limits, ...listener }) => listener),
      [
        { name: "public", address: "0.0.0.0:8080", hostname: "0.0.0.0", port: 8080 },
        { name: "listener-1", address: "[::1]:9090", hostname: "::1", port: 9090 },
      ],
    );
    assert.deepEqual(config.listeners[1].limits, config.limits);

    assert.deepEqual([...config.upstreams.keys()], ["app", "static"]);
    assert.deepEqual(config.upstreams.get("app"), {
      name: "app",
      peers: [
        {
          url: "http://10.0.0.1:3000",
          scheme: "http",
          hostname: "10.0.0.1",
          port: 3000,
          weight: 3,
          enabled: true,
        },
        {
          url: "https://app.internal",
          scheme: "https",
          hostname: "app.internal",
          port: 443,
          weight: 1,
          enabled: false,
        },
      ],
      balancing: "consistent_hash",
      hashKey: { kind: "cookie", name: "session" },
      healthCheck: {
        type: "http",
        path: "/healthz",
        expectedStatuses: [{ min: 200, max: 200 }, { min: 300, max: 304 }],
        intervalMs: 2_000,
        timeoutMs: 500,
        healthyThreshold: 3,
        unhealthyThreshold: 4,
      },
      passive: { consecutiveFailures: 2, baseEjectionMs: 10_000, maxEjectionMs: 60_000 },
      retries: { attempts: 2, budgetPercent: 12.5, onStatuses: [502, 503] },
      discovery: { resolveIntervalMs: 15_000 },
      pool: {
        maxIdlePerPeer: 8,
        idleTimeoutMs: 90_000,
        maxConnectionsPerPeer: 64,
        maxQueue: 10,
        queueTimeoutMs: 250,
        maxRequestsPerConnection: 500,
        maxConnectionAgeMs: 600_000,
        keepAliveMarginMs: 500,
      },
      timeouts: { connectMs: 2_000, responseHeaderMs: 30_000, idleMs: 120_000, totalMs: 300_000 },
      tls: { serverName: "app.example.com", caFile: "certs/ca.pem", verify: false },
    });
    assert.deepEqual(config.upstreams.get("static")?.peers, [
      {
        url: "http://[::1]:4000",
        scheme: "http",
        hostname: "::1",
        port: 4000,
        weight: 1,
        enabled: true,
      },
    ]);

    assert.deepEqual(config.routes[0], {
      name: "api",
      match: {
        hosts: ["api.example.com", "*.api.example.com"],
        pathPrefix: "/api/",
        methods: ["GET", "POST"],
        headers: [{ name: "x-canary", value: "1" }],
      },
      upstream: "app",
      setHeaders: [{ name: "x-env", value: "prod" }],
      removeHeaders: ["x-debug"],
      hostRewrite: "app.internal:8443",
      timeouts: { responseHeaderMs: 5_000, idleMs: 10_000, totalMs: 20_000 },
    });
    assert.deepEqual(config.routes[1].match, {
      hosts: ["static.example.com"],
      path: "/index.html",
      methods: [],
      headers: [],
    });
    assert.equal(config.routes[1].name, "route-1");
    assert.equal(config.routes[2].name, "route-2");

    assert.deepEqual(config.limits, {
      maxRequestLineBytes: 4_096,
      maxHeaderBytes: 32_768,
      maxHeaderCount: 50,
      maxBodyBytes: 10_000_000,
      maxChunkExtensionBytes: 16 * 1024,
      maxTrailerBytes: 16 * 1024,
      headerTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
      bodyTimeoutMs: 20_000,
      maxRequestsPerConnection: 100,
    });
    assert.deepEqual(config.logging, {
      access: false,
      format: "combined",
      accessFile: "/var/log/cairn/access.log",
      echoRequestId: true,
      level: "debug",
    });
    assert.deepEqual(config.shutdown, { drainTimeoutMs: 0 });
    assert.deepEqual(config.demo, { address: "127.0.0.1:8081", hostname: "127.0.0.1", port: 8081 });
  });

  test("minimal config gets defaults", () => {
    const config = parseOk(MINIMAL);

    assert.equal(config.listeners[0].name, "listener-0");
    const upstream = config.upstreams.get("app");
    assert.ok(upstream !== undefined);
    assert.equal(upstream.balancing, "round_robin");
    assert.equal(upstream.hashKey, undefined);
    assert.equal(upstream.healthCheck, undefined, "no active checks by default");
    assert.equal(upstream.passive, undefined, "no passive ejection by default");
    assert.equal(upstream.discovery, undefined);
    assert.deepEqual(upstream.retries, { attempts: 3, budgetPercent: 20, onStatuses: [] });
    assert.deepEqual(upstream.pool, {
      maxIdlePerPeer: 128,
      idleTimeoutMs: 60_000,
      maxConnectionsPerPeer: undefined,
      maxQueue: 1024,
      queueTimeoutMs: 5_000,
      maxRequestsPerConnection: undefined,
      maxConnectionAgeMs: undefined,
      keepAliveMarginMs: 1_000,
    });
    assert.deepEqual(upstream.timeouts, {
      connectMs: 5_000,
      responseHeaderMs: 60_000,
      idleMs: 60_000,
      totalMs: undefined,
    });
    assert.deepEqual(upstream.tls, { serverName: undefined, caFile: undefined, verify: true });
    assert.equal(upstream.peers[0].weight, 1);
    assert.equal(upstream.peers[0].enabled, true);

    assert.deepEqual(config.routes[0], {
      name: "route-0",
      match: { hosts: [], methods: [], headers: [] },
      upstream: "app",
      setHeaders: [],
      removeHeaders: [],
      hostRewrite: undefined,
      timeouts: { responseHeaderMs: undefined, idleMs: undefined, totalMs: undefined },
    });
    assert.deepEqual(config.limits, {
      maxRequestLineBytes: 8 * 1024,
      maxHeaderBytes: 64 * 1024,
      maxHeaderCount: 100,
      maxBodyBytes: 1024 ** 3,
      maxChunkExtensionBytes: 16 * 1024,
      maxTrailerBytes: 16 * 1024,
      headerTimeoutMs: 30_000,
      keepAliveTimeoutMs: 60_000,
      bodyTimeoutMs: 60_000,
      maxRequestsPerConnection: 1_000,
    });
    assert.deepEqual(config.logging, {
      access: true,
      format: "json",
      accessFile: undefined,
      echoRequestId: false,
      level: "info",
    });
    assert.deepEqual(config.shutdown, { drainTimeoutMs: 30_000 });
    assert.equal(config.demo, undefined);
  });

  test("empty sections get defaults", () => {
    const config = parseOk(`${MINIMAL}limits:\nlogging:\nshutdown:\ndemo:\n`);
    assert.equal(config.limits.maxHeaderCount, 100);
    assert.equal(config.logging.level, "info");
    assert.equal(config.shutdown.drainTimeoutMs, 30_000);
    assert.equal(config.demo, undefined);
  });

  test("peer ports default by scheme", () => {
    const config = parseOk(`
listeners:
  - address: 127.0.0.1:8080
upstreams:
  app:
    peers:
      - url: http://app.internal/
  api:
    peers:
      - url: HTTPS://API.internal
routes:
  - upstream: app
`);
    assert.equal(config.upstreams.get("app")?.peers[0].port, 80);
    assert.equal(config.upstreams.get("app")?.peers[0].hostname, "app.internal");
    const apiPeer = config.upstreams.get("api")?.peers[0];
    assert.equal(apiPeer?.scheme, "https");
    assert.equal(apiPeer?.hostname, "api.internal");
    assert.equal(apiPeer?.port, 443);
  });

  test("listener limits override the top-level limits", () => {
    const config = parseOk(MINIMAL.replace(
      "  - address: 127.0.0.1:8080",
      "  - address: 127.0.0.1:8080\n    limits:\n      maxHeaderCount: 20\n      bodyTimeout: 5s",
    ) + "limits:\n  maxHeaderCount: 50\n  maxBodySize: 1MiB\n");
    const limits = config.listeners[0].limits;
    assert.equal(limits.maxHeaderCount, 20);
    assert.equal(limits.bodyTimeoutMs, 5_000);
    assert.equal(limits.maxBodyBytes, 1024 * 1024, "fields the listener omits come from limits");
    assert.equal(config.limits.maxHeaderCount, 50);
  });

  test("listener limits reject unknown keys", () => {
    const result = parseConfigText(MINIMAL.replace(
      "  - address: 127.0.0.1:8080",
      "  - address: 127.0.0.1:8080\n    limits:\n      maxHeaders: 20",
    ), "cairn.yaml");
    assert.equal(result.ok, false);
    assert.ok(!result.ok && result.errors.some((problem) => problem.path === "listeners[0].limits.maxHeaders"));
  });

  test("listener port zero allowed", () => {
    const config = parseOk(MINIMAL.replace("127.0.0.1:8080", "localhost:0"));
    assert.equal(config.listeners[0].port, 0);
  });

  test("shipped cairn.yaml parses", () => {
    const path = new URL("../../../config/cairn.yaml", import.meta.url);
    const config = parseOk(readFileSync(path, "utf8"));

    assert.equal(config.listeners.length, 1);
    assert.equal(config.listeners[0].hostname, "127.0.0.1");
    assert.equal(config.listeners[0].port, 8080);
    assert.deepEqual(config.demo, { address: "127.0.0.1:8081", hostname: "127.0.0.1", port: 8081 });
    assert.deepEqual([...config.upstreams.keys()], ["demo"]);
    assert.equal(config.upstreams.get("demo")?.peers[0].url, "http://127.0.0.1:8081");
    assert.equal(config.routes.length, 1);
    assert.equal(config.routes[0].upstream, "demo");
    assert.deepEqual(config.routes[0].match, { hosts: [], methods: [], headers: [] });
    assert.equal(config.admin?.address, "127.0.0.1:9901");
    assert.equal(config.admin?.tokenEnv, undefined);
  });
});

describe("parseConfigText problems", () => {
  test("unknown key with suggestion", () => {
    assertOnlyProblem(
      `${MINIMAL}limits:\n  maxHeaderByte: 1KiB\n`,
      "limits.maxHeaderByte",
      /^unknown key "maxHeaderByte" \(did you mean "maxHeaderBytes"\?\)$/,
    );
    assertOnlyProblem(
      `${MINIMAL}limits:\n  max_body_size: 1KiB\n`,
      "limits.max_body_size",
      /did you mean "maxBodySize"/,
    );
  });

  test("unknown key lists known keys", () => {
    assertOnlyProblem(
      `${MINIMAL}frobnicate: true\n`,
      "frobnicate",
      /^unknown key "frobnicate": expected one of listeners, upstreams, routes, limits/,
    );
  });

  test("unknown key in nested objects", () => {
    const text = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      "      - url: http://127.0.0.1:3000\n        wieght: 2\n    pool: { maxIdle: 3 }",
    );
    const errors = parseErrors(text);
    assert.deepEqual(errors.map((error) => error.path).sort(), [
      "upstreams.app.peers[0].wieght",
      "upstreams.app.pool.maxIdle",
    ]);
  });

  test("unknown upstream at route path", () => {
    const text = MINIMAL.replace(
      "routes:\n  - upstream: app",
      "routes:\n  - upstream: app\n  - upstream: api",
    );
    assertOnlyProblem(text, "routes[1].upstream", /^unknown upstream "api": .*use one of "app"$/);
  });

  test("unknown upstream beside other problems", () => {
    const text = MINIMAL.replace("upstream: app", "upstream: api") +
      "limits:\n  headerTimeout: soon\n";
    const errors = parseErrors(text);
    const paths = errors.map((error) => error.path).sort();
    assert.deepEqual(paths, ["limits.headerTimeout", "routes[0].upstream"]);
  });

  test("inherited property names are unknown upstreams", () => {
    const text = MINIMAL.replace("upstream: app", "upstream: constructor");
    assertOnlyProblem(text, "routes[0].upstream", /unknown upstream "constructor"/);
  });

  test("bad duration at its path", () => {
    assertOnlyProblem(
      `${MINIMAL}limits:\n  headerTimeout: 30\n`,
      "limits.headerTimeout",
      /^duration "30" has no unit/,
    );
    assertOnlyProblem(
      MINIMAL.replace(
        "      - url: http://127.0.0.1:3000",
        "      - url: http://127.0.0.1:3000\n    timeouts: { connect: 5x }",
      ),
      "upstreams.app.timeouts.connect",
      /unknown unit "x" in duration "5x"/,
    );
    assertOnlyProblem(
      `${MINIMAL}shutdown:\n  drainTimeout: [1s]\n`,
      "shutdown.drainTimeout",
      /expected a duration such as 30s or 250ms, got a list/,
    );
  });

  test("zero timeout rejected", () => {
    assertOnlyProblem(
      `${MINIMAL}limits:\n  keepAliveTimeout: 0s\n`,
      "limits.keepAliveTimeout",
      /too short: it must be at least 1ms/,
    );
  });

  test("bad size at its path", () => {
    assertOnlyProblem(
      `${MINIMAL}limits:\n  maxBodySize: 10mb\n`,
      "limits.maxBodySize",
      /unknown unit "mb" in size "10mb".*did you mean "MB"/,
    );
  });

  test("bad peer URLs", () => {
    const cases: [string, RegExp][] = [
      ["ftp://127.0.0.1:21", /must start with http:\/\/ or https:\/\//],
      ["127.0.0.1:3000", /must start with http:\/\/ or https:\/\//],
      ["http:127.0.0.1:3000", /must start with http:\/\/ or https:\/\//],
      ["http://127.0.0.1:3000/api", /must not have a path or query/],
      ["http://127.0.0.1:3000?x=1", /must not have a path or query/],
      ["http://127.0.0.1:3000#top", /must not have a fragment/],
      ["http://user:secret@127.0.0.1:3000", /user names and passwords are not supported/],
      ["http://127.0.0.1:99999", /port 99999 .* is out of range/],
      ["http://127.0.0.1:0", /port 0/],
      ["http://", /invalid URL/],
    ];
    for (const [url, message] of cases) {
      const text = MINIMAL.replace("http://127.0.0.1:3000", JSON.stringify(url));
      assertOnlyProblem(text, "upstreams.app.peers[0].url", message);
    }
  });

  test("bad listen addresses", () => {
    const cases: [string, RegExp][] = [
      ["127.0.0.1", /has no port/],
      [":8080", /has no host/],
      ["127.0.0.1:65536", /invalid port "65536"/],
      ["127.0.0.1:http", /invalid port "http"/],
      ["::1:8080", /put an IPv6 address in brackets/],
      ["[::1", /write an IPv6 address in brackets/],
      ["[zz::1]:80", /write an IPv6 address in brackets/],
      ["bad host:80", /is not a valid host name/],
    ];
    for (const [address, message] of cases) {
      const text = MINIMAL.replace("127.0.0.1:8080", JSON.stringify(address));
      assertOnlyProblem(text, "listeners[0].address", message);
    }
  });

  test("duplicate listener and route names", () => {
    const listeners = MINIMAL.replace(
      "  - address: 127.0.0.1:8080",
      "  - name: web\n    address: 127.0.0.1:8080\n  - name: web\n    address: 127.0.0.1:8081",
    );
    assertOnlyProblem(
      listeners,
      "listeners[1].name",
      /^duplicate listener name "web": listeners\[0\]/,
    );

    const routes = `${MINIMAL}  - name: route-0\n    upstream: app\n`;
    assertOnlyProblem(routes, "routes[1].name", /^duplicate route name "route-0"/);

    const defaults = MINIMAL.replace(
      "  - upstream: app",
      "  - name: route-1\n    upstream: app\n  - upstream: app",
    );
    assertOnlyProblem(
      defaults,
      "routes[1]",
      /^default name "route-1" is already used by routes\[0\]/,
    );
  });

  test("invalid names", () => {
    const text = MINIMAL.replace("  app:", '  "my app":').replace(
      "upstream: app",
      'upstream: "my app"',
    );
    assertOnlyProblem(text, 'upstreams["my app"]', /invalid name "my app"/);
  });

  test("duplicate listen addresses", () => {
    const text = MINIMAL.replace(
      "  - address: 127.0.0.1:8080",
      "  - address: 127.0.0.1:8080\n  - address: 127.0.0.1:8080",
    );
    assertOnlyProblem(text, "listeners[1].address", /already used by listeners\[0\]\.address/);

    const demo = `${MINIMAL}demo:\n  address: 127.0.0.1:8080\n`;
    assertOnlyProblem(demo, "demo.address", /already used by listeners\[0\]\.address/);

    const freePorts = MINIMAL.replace(
      "  - address: 127.0.0.1:8080",
      "  - address: 127.0.0.1:0\n  - address: 127.0.0.1:0",
    );
    parseOk(freePorts);
  });

  test("duplicate peers in one upstream", () => {
    const text = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      "      - url: http://127.0.0.1:3000\n      - url: HTTP://127.0.0.1:3000/",
    );
    assertOnlyProblem(text, "upstreams.app.peers[1].url", /same as peers\[0\].*raise its weight/);
  });

  test("path and pathPrefix together", () => {
    const text = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    match: { path: /a, pathPrefix: /b }",
    );
    assertOnlyProblem(
      text,
      "routes[0].match.pathPrefix",
      /^path and pathPrefix cannot both be set/,
    );
  });

  test("paths must start with slash", () => {
    const text = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    match: { pathPrefix: api/ }",
    );
    assertOnlyProblem(text, "routes[0].match.pathPrefix", /must start with "\/"/);
    const query = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    match: { path: /a?b=1 }",
    );
    assertOnlyProblem(query, "routes[0].match.path", /must not contain "\?" or "#"/);
  });

  test("invalid host patterns", () => {
    const cases: [string, string, RegExp][] = [
      ["api.example.com:8080", "routes[0].match.host", /must not contain a port/],
      ["*", "routes[0].match.host", /remove match.host to match every host/],
      ["api.*.com", "routes[0].match.host", /wildcard must be the whole first label/],
      ["*example.com", "routes[0].match.host", /wildcard must be the whole first label/],
      ["bad host", "routes[0].match.host", /invalid host pattern/],
    ];
    for (const [host, path, message] of cases) {
      const text = MINIMAL.replace(
        "  - upstream: app",
        `  - upstream: app\n    match: { host: ${JSON.stringify(host)} }`,
      );
      assertOnlyProblem(text, path, message);
    }

    const list = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    match: { host: [a.com, 'b.com:1'] }",
    );
    assertOnlyProblem(list, "routes[0].match.host[1]", /must not contain a port/);
    const empty = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    match: { host: [] }",
    );
    assertOnlyProblem(empty, "routes[0].match.host", /host list is empty/);
  });

  test("methods are case-sensitive", () => {
    const text = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    match: { methods: [GET, post] }",
    );
    assertOnlyProblem(text, "routes[0].match.methods[1]", /method "post" must be written "POST"/);
    const custom = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    match: { methods: [PROPFIND, purge] }",
    );
    assert.deepEqual(parseOk(custom).routes[0].match.methods, ["PROPFIND", "purge"]);
  });

  test("header values must be strings", () => {
    const text = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    match: { headers: { x-canary: 1 } }",
    );
    assertOnlyProblem(
      text,
      "routes[0].match.headers.x-canary",
      /expected a string, got the number 1: quote it/,
    );
  });

  test("header rewrites are checked", () => {
    const managed = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    setHeaders: { Transfer-Encoding: chunked }",
    );
    assertOnlyProblem(
      managed,
      "routes[0].setHeaders",
      /header "transfer-encoding" cannot be set or removed: the proxy manages it/,
    );

    const host = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    removeHeaders: [Host]",
    );
    assertOnlyProblem(host, "routes[0].removeHeaders[0]", /use hostRewrite/);

    const both = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    setHeaders: { X-A: '1' }\n    removeHeaders: [x-a]",
    );
    assertOnlyProblem(both, "routes[0].removeHeaders[0]", /both set and removed/);

    const repeated = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    setHeaders: { X-A: '1', x-a: '2' }",
    );
    assertOnlyProblem(repeated, "routes[0].setHeaders.x-a", /header "x-a" repeats "X-A"/);

    const badName = MINIMAL.replace(
      "  - upstream: app",
      "  - upstream: app\n    setHeaders: { 'x a': '1' }",
    );
    assertOnlyProblem(badName, 'routes[0].setHeaders["x a"]', /invalid header name "x a"/);

    const badValue = MINIMAL.replace(
      "  - upstream: app",
      '  - upstream: app\n    setHeaders: { x-a: "1\\r\\nx-b: 2" }',
    );
    assertOnlyProblem(badValue, "routes[0].setHeaders.x-a", /must not contain line breaks/);
  });

  test("wrong types and ranges", () => {
    assertOnlyProblem(
      `${MINIMAL}logging:\n  access: yes\n`,
      "logging.access",
      /^expected true or false, got "yes"$/,
    );
    assertOnlyProblem(
      `${MINIMAL}logging:\n  format: common\n`,
      "logging.format",
      /^invalid value "common": use one of "json", "combined"$/,
    );
    assertOnlyProblem(
      `${MINIMAL}logging:\n  level: verbose\n`,
      "logging.level",
      /^invalid value "verbose": use one of "debug", "info", "warn", "error"$/,
    );
    assertOnlyProblem(
      `${MINIMAL}limits:\n  maxHeaderCount: 0\n`,
      "limits.maxHeaderCount",
      /must be at least 1/,
    );
    assertOnlyProblem(
      `${MINIMAL}limits:\n  maxHeaderCount: 1.5\n`,
      "limits.maxHeaderCount",
      /expected a whole number/,
    );
    const weight = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      "      - url: http://127.0.0.1:3000\n        weight: 0",
    );
    assertOnlyProblem(weight, "upstreams.app.peers[0].weight", /must be at least 1/);
    const balancing = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      "      - url: http://127.0.0.1:3000\n    balancing: random",
    );
    assertOnlyProblem(
      balancing,
      "upstreams.app.balancing",
      /invalid value "random": use one of "round_robin"/,
    );
  });

  test("required sections", () => {
    const noRoutes = MINIMAL.replace("routes:\n  - upstream: app\n", "routes: []\n");
    assertOnlyProblem(noRoutes, "routes", /must list at least 1 item/);
    const noListeners = MINIMAL.replace(/listeners:\n.*\n/, "");
    assertOnlyProblem(noListeners, "listeners", /required field is missing/);
    const noUpstreams = MINIMAL.replace(/upstreams:\n(?: {2,}.*\n)+/, "upstreams: {}\n").replace(
      "upstream: app",
      "upstream: x",
    );
    const errors = parseErrors(noUpstreams);
    assert.ok(
      errors.some((error) =>
        error.path === "upstreams" && /at least one upstream/.test(error.message)
      ),
    );
    const noPeers = MINIMAL.replace(
      "    peers:\n      - url: http://127.0.0.1:3000",
      "    peers: []",
    );
    assertOnlyProblem(noPeers, "upstreams.app.peers", /must list at least 1 item/);
  });

  test("document that is not a map", () => {
    assertOnlyProblem("- 1\n- 2\n", "", /^expected a map, got a list$/);
    assertOnlyProblem("just text\n", "", /^expected a map, got "just text"$/);
  });

  test("empty file", () => {
    assertOnlyProblem("", "", /the file is empty/);
    assertOnlyProblem("# nothing here\n", "", /the file is empty/);
  });

  test("YAML syntax errors have line and column", () => {
    const errors = parseErrors("listeners:\n  - address: [::1]:8080\n");
    assert.equal(errors.length, 1);
    assert.equal(errors[0].line, 2);
    assert.equal(errors[0].column, 19);
    assert.equal(errors[0].path, "");

    const duplicate = parseErrors("limits: {}\nlimits: {}\n");
    assert.equal(duplicate[0].line, 2);
    assert.equal(duplicate[0].column, 1);
    assert.match(duplicate[0].message, /Map keys must be unique/);
  });

  test("unresolved alias reported", () => {
    assertOnlyProblem(`${MINIMAL}limits: *missing\n`, "", /Unresolved alias/);
  });

  test("unknown tag reported", () => {
    const errors = parseErrors(`${MINIMAL}logging:\n  level: !custom info\n`);
    assert.equal(errors.length, 1);
    assert.match(errors[0].message, /Unresolved tag: !custom/);
    assert.equal(errors[0].line, 11);
  });
});

describe("formatProblems", () => {
  test("one line per problem", () => {
    const text = formatProblems([
      { source: "cairn.yaml", path: "routes[2].upstream", message: 'unknown upstream "api"' },
      { source: "cairn.yaml", path: "", message: "Map keys must be unique", line: 3, column: 1 },
      { source: "cairn.yaml", path: "", message: "the file is empty" },
    ]);
    assert.equal(
      text,
      'cairn.yaml: routes[2].upstream: unknown upstream "api"\n' +
        "cairn.yaml:3:1: Map keys must be unique\n" +
        "cairn.yaml: the file is empty\n",
    );
  });

  test("uses source name from parsing", () => {
    const result = parseConfigText(
      MINIMAL.replace("upstream: app", "upstream: api"),
      "conf/x.yaml",
    );
    assert.ok(!result.ok);
    assert.equal(
      formatProblems(result.errors),
      'conf/x.yaml:9: routes[0].upstream: unknown upstream "api": ' +
        'define it under upstreams or use one of "app"\n',
    );
  });

  test("empty list gives empty text", () => {
    assert.equal(formatProblems([]), "");
  });
});

describe("configFromFlags", () => {
  test("builds one listener upstream route", () => {
    const result = configFromFlags({
      listen: "127.0.0.1:8081",
      upstreams: ["http://127.0.0.1:3000", "https://[::1]:3001"],
    });
    if (!result.ok) {
      assert.fail(formatProblems(result.errors));
    }
    const { config } = result;

    assert.deepEqual(config.listeners, [
      {
        name: "listener-0",
        address: "127.0.0.1:8081",
        hostname: "127.0.0.1",
        port: 8081,
        limits: config.limits,
      },
    ]);
    const upstream = config.upstreams.get("default");
    assert.ok(upstream !== undefined);
    assert.equal(upstream.balancing, "round_robin");
    assert.deepEqual(
      upstream.peers.map((peer) => [peer.scheme, peer.hostname, peer.port, peer.weight]),
      [["http", "127.0.0.1", 3000, 1], ["https", "::1", 3001, 1]],
    );
    assert.equal(config.routes.length, 1);
    assert.equal(config.routes[0].upstream, "default");
    assert.deepEqual(config.routes[0].match, { hosts: [], methods: [], headers: [] });
    assert.equal(config.limits.maxBodyBytes, 1024 ** 3);
    assert.equal(config.demo, undefined);
  });

  test("problems name the flag", () => {
    const result = configFromFlags({ listen: "127.0.0.1", upstreams: ["http://ok:1", "ftp://x"] });
    assert.ok(!result.ok);
    assert.deepEqual(result.errors.map((error) => [error.source, error.path]), [
      ["command line", "--listen"],
      ["command line", "--upstream"],
    ]);
    assert.match(result.errors[1].message, /^invalid URL "ftp:\/\/x"/);
    assert.match(
      formatProblems(result.errors),
      /^command line: --listen: address "127.0.0.1" has no port/,
    );
  });

  test("duplicate upstream flags rejected", () => {
    const result = configFromFlags({
      listen: "127.0.0.1:8081",
      upstreams: ["http://a:1", "http://a:1"],
    });
    assert.ok(!result.ok);
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0].path, "--upstream");
  });

  test("no upstream flags rejected", () => {
    const result = configFromFlags({ listen: "127.0.0.1:8081", upstreams: [] });
    assert.ok(!result.ok);
    assert.equal(result.errors[0].path, "--upstream");
    assert.match(result.errors[0].message, /at least one --upstream/);
  });
});

describe("validateConfig", () => {
  test("accepts plain objects", () => {
    const result = validateConfig({
      listeners: [{ address: "127.0.0.1:1" }],
      upstreams: { a: { peers: [{ url: "http://b:2" }] } },
      routes: [{ upstream: "a" }],
      limits: { maxBodySize: 1024 },
    });
    assert.ok(result.ok);
    assert.equal(result.config.limits.maxBodyBytes, 1024);
  });
});

describe("upstream balancing and health settings", () => {
  /** MINIMAL with `lines` added to the `app` upstream, indented under it. */
  function withUpstream(lines: string): string {
    const indented = lines.trim().split("\n").map((line) => `    ${line}`).join("\n");
    return MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      `      - url: http://127.0.0.1:3000\n${indented}`,
    );
  }

  function upstreamOf(text: string) {
    const upstream = parseOk(text).upstreams.get("app");
    assert.ok(upstream !== undefined);
    return upstream;
  }

  test("every balancing algorithm parses", () => {
    for (const balancing of ["round_robin", "least_requests", "random_two"]) {
      assert.equal(upstreamOf(withUpstream(`balancing: ${balancing}`)).balancing, balancing);
    }
    const hashed = upstreamOf(withUpstream("balancing: consistent_hash\nhashKey: header:X-User"));
    assert.equal(hashed.balancing, "consistent_hash");
    assert.deepEqual(hashed.hashKey, { kind: "header", name: "x-user" });
  });

  test("consistent hash needs a hash key", () => {
    assertOnlyProblem(
      withUpstream("balancing: consistent_hash"),
      "upstreams.app.hashKey",
      /^balancing consistent_hash needs a hashKey, such as header:x-user/,
    );
  });

  test("hash key only with consistent hash", () => {
    assertOnlyProblem(
      withUpstream("hashKey: path"),
      "upstreams.app.hashKey",
      /^hashKey applies only to balancing: consistent_hash, and this upstream uses round_robin$/,
    );
  });

  test("invalid hash key", () => {
    assertOnlyProblem(
      withUpstream("balancing: consistent_hash\nhashKey: query:id"),
      "upstreams.app.hashKey",
      /^invalid hash key "query:id": use header:x-user, cookie:session, client_address or path$/,
    );
  });

  test("health check defaults", () => {
    assert.deepEqual(upstreamOf(withUpstream("healthCheck: {}")).healthCheck, {
      type: "http",
      path: "/",
      expectedStatuses: [{ min: 200, max: 399 }],
      intervalMs: 5_000,
      timeoutMs: 2_000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
    assert.deepEqual(upstreamOf(withUpstream("healthCheck: { type: tcp }")).healthCheck, {
      type: "tcp",
      intervalMs: 5_000,
      timeoutMs: 2_000,
      healthyThreshold: 2,
      unhealthyThreshold: 3,
    });
  });

  test("tcp check takes no path", () => {
    const errors = parseErrors(
      withUpstream("healthCheck: { type: tcp, path: /, expectedStatuses: 200 }"),
    );
    assert.deepEqual(errors.map((error) => error.path), [
      "upstreams.app.healthCheck.path",
      "upstreams.app.healthCheck.expectedStatuses",
    ]);
    assert.match(errors[0].message, /path applies only to type: http/);
  });

  test("expected statuses forms", () => {
    const cases: [string, { min: number; max: number }[]][] = [
      ["204", [{ min: 204, max: 204 }]],
      ['"200-299"', [{ min: 200, max: 299 }]],
      ['[200, "301-302", "404"]', [
        { min: 200, max: 200 },
        { min: 301, max: 302 },
        { min: 404, max: 404 },
      ]],
    ];
    for (const [value, expected] of cases) {
      const text = withUpstream(`healthCheck: { expectedStatuses: ${value} }`);
      const check = upstreamOf(text).healthCheck;
      assert.ok(check?.type === "http");
      assert.deepEqual(check.expectedStatuses, expected, value);
    }
  });

  test("invalid expected statuses", () => {
    for (const value of ["700", '"399-200"', "[]", '"2xx"', "{ a: 1 }"]) {
      const errors = parseErrors(withUpstream(`healthCheck: { expectedStatuses: ${value} }`));
      assert.equal(errors.length, 1, value);
      assert.equal(errors[0].path, "upstreams.app.healthCheck.expectedStatuses", value);
    }
    assertOnlyProblem(
      withUpstream('healthCheck: { expectedStatuses: "700" }'),
      "upstreams.app.healthCheck.expectedStatuses",
      /^invalid status "700": write a status from 100 to 599 or a range such as "200-399"$/,
    );
  });

  test("health check checks its fields", () => {
    assertOnlyProblem(
      withUpstream("healthCheck: { interval: 0s }"),
      "upstreams.app.healthCheck.interval",
      /at least 1ms/,
    );
    assertOnlyProblem(
      withUpstream("healthCheck: { unhealthyThreshold: 0 }"),
      "upstreams.app.healthCheck.unhealthyThreshold",
      /must be at least 1/,
    );
    assertOnlyProblem(
      withUpstream("healthCheck: { type: grpc }"),
      "upstreams.app.healthCheck.type",
      /use one of "http", "tcp"/,
    );
    assertOnlyProblem(
      withUpstream("healthCheck: { path: healthz }"),
      "upstreams.app.healthCheck.path",
      /must start with "\/"/,
    );
    assertOnlyProblem(
      withUpstream("healthCheck: { intervl: 1s }"),
      "upstreams.app.healthCheck.intervl",
      /did you mean "interval"/,
    );
  });

  test("passive defaults and limits", () => {
    assert.deepEqual(upstreamOf(withUpstream("passive: {}")).passive, {
      consecutiveFailures: 5,
      baseEjectionMs: 30_000,
      maxEjectionMs: 300_000,
    });
    assertOnlyProblem(
      withUpstream("passive: { baseEjection: 1m, maxEjection: 30s }"),
      "upstreams.app.passive.maxEjection",
      /^maxEjection \(30000ms\) must be at least baseEjection \(60000ms\)$/,
    );
  });

  test("empty sections turn nothing on", () => {
    const upstream = upstreamOf(withUpstream("healthCheck:\npassive:\ndiscovery:\nretries:"));
    assert.equal(upstream.healthCheck, undefined);
    assert.equal(upstream.passive, undefined);
    assert.equal(upstream.discovery, undefined);
    assert.deepEqual(upstream.retries, { attempts: 3, budgetPercent: 20, onStatuses: [] });
  });

  test("retry settings", () => {
    const text = withUpstream("retries: { attempts: 1, budget: 0%, onStatuses: [504] }");
    const retries = upstreamOf(text).retries;
    assert.deepEqual(retries, { attempts: 1, budgetPercent: 0, onStatuses: [504] });
    assertOnlyProblem(
      withUpstream("retries: { budget: 150% }"),
      "upstreams.app.retries.budget",
      /^expected a percentage from 0% to 100% such as 20%, got "150%"$/,
    );
    assertOnlyProblem(
      withUpstream("retries: { budget: 20 }"),
      "upstreams.app.retries.budget",
      /got the number 20/,
    );
    assertOnlyProblem(
      withUpstream("retries: { onStatuses: [404] }"),
      "upstreams.app.retries.onStatuses[0]",
      /must be at least 500/,
    );
    assertOnlyProblem(
      withUpstream("retries: { onStatuses: [502, 502] }"),
      "upstreams.app.retries.onStatuses[1]",
      /status 502 is listed twice/,
    );
    assertOnlyProblem(
      withUpstream("retries: { attempts: 0 }"),
      "upstreams.app.retries.attempts",
      /must be at least 1/,
    );
  });

  test("discovery interval", () => {
    assert.deepEqual(upstreamOf(withUpstream("discovery: {}")).discovery, {
      resolveIntervalMs: 30_000,
    });
    assert.deepEqual(upstreamOf(withUpstream("discovery: { resolveInterval: 5s }")).discovery, {
      resolveIntervalMs: 5_000,
    });
  });

  test("pool limits are checked", () => {
    assertOnlyProblem(
      withUpstream("pool: { maxConnectionsPerPeer: 0 }"),
      "upstreams.app.pool.maxConnectionsPerPeer",
      /must be at least 1/,
    );
    assertOnlyProblem(
      withUpstream("pool: { maxConnectionAge: 0s }"),
      "upstreams.app.pool.maxConnectionAge",
      /at least 1ms/,
    );
    const margin = upstreamOf(withUpstream("pool: { keepAliveMargin: 0 }")).pool.keepAliveMarginMs;
    assert.equal(margin, 0);
    assert.equal(upstreamOf(withUpstream("pool: { maxQueue: 0 }")).pool.maxQueue, 0);
  });

  test("total timeout", () => {
    assert.equal(upstreamOf(withUpstream("timeouts: { total: 90s }")).timeouts.totalMs, 90_000);
    assertOnlyProblem(
      withUpstream("timeouts: { total: 0s }"),
      "upstreams.app.timeouts.total",
      /at least 1ms/,
    );
  });

  test("shipped load-balancing example parses", () => {
    const path = new URL("../../../config/examples/load-balancing.yaml", import.meta.url);
    const config = parseOk(readFileSync(path, "utf8"));
    assert.equal(config.listeners[0].hostname, "127.0.0.1");
    assert.equal(config.listeners[0].port, 8080);
    const upstream = config.upstreams.get("app");
    assert.ok(upstream !== undefined);
    assert.deepEqual(
      upstream.peers.map((peer) => `${peer.hostname}:${peer.port}`),
      ["127.0.0.1:19001", "127.0.0.1:19002", "127.0.0.1:19003"],
    );
    assert.equal(upstream.healthCheck?.type, "http");
    assert.equal(upstream.healthCheck?.type === "http" && upstream.healthCheck.path, "/");
    assert.equal(upstream.healthCheck?.intervalMs, 1_000);
    assert.equal(config.routes.length, 1);
    assert.equal(config.routes[0].upstream, "app");
  });
});

describe("route timeouts", () => {
  /** MINIMAL with `lines` added to its one route, indented under it. */
  function withRoute(lines: string): string {
    const indented = lines.trim().split("\n").map((line) => `    ${line}`).join("\n");
    return MINIMAL.replace("  - upstream: app\n", `  - upstream: app\n${indented}\n`);
  }

  test("fields the route omits stay undefined", () => {
    const config = parseOk(withRoute("timeouts: { responseHeader: 2s }"));
    assert.deepEqual(config.routes[0].timeouts, {
      responseHeaderMs: 2_000,
      idleMs: undefined,
      totalMs: undefined,
    });
  });

  test("empty section overrides nothing", () => {
    const config = parseOk(withRoute("timeouts:"));
    assert.deepEqual(config.routes[0].timeouts, {
      responseHeaderMs: undefined,
      idleMs: undefined,
      totalMs: undefined,
    });
  });

  test("route leaves upstream timeouts unchanged", () => {
    const text = withRoute("timeouts: { responseHeader: 2s, idle: 3s, total: 4s }");
    const config = parseOk(text);
    assert.deepEqual(config.upstreams.get("app")?.timeouts, {
      connectMs: 5_000,
      responseHeaderMs: 60_000,
      idleMs: 60_000,
      totalMs: undefined,
    });
  });

  test("connect rejected with reason", () => {
    assertOnlyProblem(
      withRoute("timeouts: { connect: 1s, idle: 2s }"),
      "routes[0].timeouts.connect",
      /^connect cannot be set per route, because connections are pooled per peer: set it in the upstream's timeouts$/,
    );
  });

  test("connect rejected beside other problems", () => {
    const errors = parseErrors(withRoute("timeouts: { connect: 1s, total: 0s }"));
    assert.deepEqual(errors.map((error) => error.path), [
      "routes[0].timeouts.connect",
      "routes[0].timeouts.total",
    ]);
    assert.match(errors[1].message, /at least 1ms/);
  });

  test("unknown key with suggestion", () => {
    assertOnlyProblem(
      withRoute("timeouts: { responseHeaders: 1s }"),
      "routes[0].timeouts.responseHeaders",
      /did you mean "responseHeader"/,
    );
  });

  test("invalid durations rejected", () => {
    assertOnlyProblem(
      withRoute("timeouts: { idle: 0s }"),
      "routes[0].timeouts.idle",
      /too short: it must be at least 1ms/,
    );
    assertOnlyProblem(
      withRoute("timeouts: { responseHeader: 30 }"),
      "routes[0].timeouts.responseHeader",
      /^duration "30" has no unit/,
    );
  });

  test("timeouts must be a map", () => {
    assertOnlyProblem(withRoute("timeouts: 5s"), "routes[0].timeouts", /expected a map, got "5s"/);
  });
});

describe("peer enabled", () => {
  test("enabled false parses", () => {
    const text = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      "      - url: http://127.0.0.1:3000\n      - url: http://127.0.0.1:3001\n        enabled: false",
    );
    const peers = parseOk(text).upstreams.get("app")?.peers;
    assert.deepEqual(peers?.map((peer) => peer.enabled), [true, false]);
  });

  test("every peer may be disabled", () => {
    const text = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      "      - url: http://127.0.0.1:3000\n        enabled: false",
    );
    assert.equal(parseOk(text).upstreams.get("app")?.peers[0].enabled, false);
  });

  test("enabled must be a boolean", () => {
    const text = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      '      - url: http://127.0.0.1:3000\n        enabled: "no"',
    );
    assertOnlyProblem(
      text,
      "upstreams.app.peers[0].enabled",
      /^expected true or false, got "no"$/,
    );
  });
});

describe("admin section", () => {
  test("absent by default", () => {
    assert.equal(parseOk(MINIMAL).admin, undefined);
  });

  test("loopback address without token", () => {
    const config = parseOk(`${MINIMAL}admin:\n  address: 127.0.0.1:9901\n`);
    assert.deepEqual(config.admin, {
      address: "127.0.0.1:9901",
      hostname: "127.0.0.1",
      port: 9901,
      tokenEnv: undefined,
    });
  });

  test("other address needs tokenEnv", () => {
    assertOnlyProblem(
      `${MINIMAL}admin:\n  address: 0.0.0.0:9901\n`,
      "admin.address",
      /"0\.0\.0\.0:9901" is not a loopback address: set tokenEnv/,
    );
    const config = parseOk(`${MINIMAL}admin:\n  address: 0.0.0.0:9901\n  tokenEnv: CAIRN_ADMIN_TOKEN\n`);
    assert.equal(config.admin?.tokenEnv, "CAIRN_ADMIN_TOKEN");
  });

  test("IPv6 loopback allowed", () => {
    const config = parseOk(`${MINIMAL}admin:\n  address: "[::1]:9901"\n`);
    assert.equal(config.admin?.hostname, "::1");
  });

  test("address required", () => {
    const errors = parseErrors(`${MINIMAL}admin:\n  tokenEnv: X\n`);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].path, "admin.address");
  });

  test("invalid tokenEnv name", () => {
    assertOnlyProblem(
      `${MINIMAL}admin:\n  address: 127.0.0.1:9901\n  tokenEnv: "my token"\n`,
      "admin.tokenEnv",
      /must be an environment variable name/,
    );
  });

  test("inline token rejected", () => {
    const errors = parseErrors(`${MINIMAL}admin:\n  address: 127.0.0.1:9901\n  token: abc\n`);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].path, "admin.token");
  });

  test("address shared with a listener", () => {
    assertOnlyProblem(
      `${MINIMAL}admin:\n  address: 127.0.0.1:8080\n`,
      "admin.address",
      /already used by listeners\[0\]\.address/,
    );
  });
});
