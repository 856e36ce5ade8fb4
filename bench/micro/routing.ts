// Router lookups among 1,000 routes and balancer picks. Runs on any runtime; `npm run
// bench:micro` runs it on Bun.
import { bench, do_not_optimize, run } from "mitata";
import { validateConfig } from "../../src/config/schema.ts";
import { Router, type RouteRequest } from "../../src/router/router.ts";
import { RoundRobinBalancer } from "../../src/upstream/balancer.ts";
import { JSON_MARKER, rowsFromMitata } from "./report.ts";

const ROUTE_COUNT = 1000;

/** Builds a Router from route objects written as in cairn.yaml, through config validation. */
function buildRouter(routes: object[]): Router {
  const result = validateConfig({
    listeners: [{ address: "127.0.0.1:8080" }],
    upstreams: { app: { peers: [{ url: "http://127.0.0.1:9000" }] } },
    routes,
  });
  if (!result.ok) throw new Error(`invalid benchmark routes: ${JSON.stringify(result.errors.slice(0, 3))}`);
  return new Router(result.config.routes);
}

function request(host: string | undefined, path: string): RouteRequest {
  return { host, path, method: "GET", header: () => undefined };
}

const indices = Array.from({ length: ROUTE_COUNT }, (_, i) => i);
const byHost = buildRouter(indices.map((i) => ({ match: { host: [`svc-${i}.example.com`] }, upstream: "app" })));
const byWildcard = buildRouter(indices.map((i) => ({ match: { host: [`*.tenant-${i}.example.com`] }, upstream: "app" })));
const byPrefix = buildRouter(indices.map((i) => ({ match: { pathPrefix: `/svc-${i}/` }, upstream: "app" })));

const lookups: [string, Router, RouteRequest, string | undefined][] = [
  ["exact host, 1,000 hosts", byHost, request("svc-777.example.com", "/orders/42"), "route-777"],
  ["wildcard host, 1,000 suffixes", byWildcard, request("eu.api.tenant-777.example.com:8443", "/orders/42"), "route-777"],
  ["path prefix, first of 1,000", byPrefix, request("example.com", "/svc-0/orders/42"), "route-0"],
  ["path prefix, last of 1,000", byPrefix, request("example.com", "/svc-999/orders/42"), "route-999"],
  ["no route matches, 1,000 prefixes", byPrefix, request("example.com", "/none/orders/42"), undefined],
];

for (const [name, router, lookup, expected] of lookups) {
  // Check the lookup finds the intended route before timing it.
  const found = router.match(lookup)?.name;
  if (found !== expected) throw new Error(`${name}: matched ${found}, expected ${expected}`);
  bench(`router lookup, 1,000 routes|${name}`, () => do_not_optimize(router.match(lookup)));
}

const peerSets: [string, { weight: number }[]][] = [
  ["1 peer", [{ weight: 1 }]],
  ["3 peers, weights 5/2/1", [{ weight: 5 }, { weight: 2 }, { weight: 1 }]],
  ["10 peers, equal weights", Array.from({ length: 10 }, () => ({ weight: 1 }))],
];
for (const [name, peers] of peerSets) {
  const balancer = new RoundRobinBalancer(peers);
  bench(`round-robin balancer pick|${name}`, () => do_not_optimize(balancer.candidates()));
}

const results = await run({ format: "quiet" });
console.log(JSON_MARKER + JSON.stringify(rowsFromMitata(results, runtimeName())));

function runtimeName(): string {
  const versions = process.versions as Record<string, string | undefined>;
  if (versions.bun !== undefined) return `bun ${versions.bun}`;
  if (versions.deno !== undefined) return `deno ${versions.deno}`;
  return `node ${versions.node}`;
}
