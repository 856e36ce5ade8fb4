import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { createAdminApp } from "../../../src/admin/app.ts";
import { MetricsCollector } from "../../../src/admin/metrics.ts";
import type { ReloadOutcome } from "../../../src/lifecycle/reloader.ts";
import type { ProxySnapshot, ProxyView } from "../../../src/proxy/snapshot.ts";
import { accessRecord, emptySnapshot, upstreamSnapshot } from "./fixture.ts";

class FakeView implements ProxyView {
  draining = false;
  state: ProxySnapshot = emptySnapshot({
    listeners: [{ name: "public", address: { hostname: "::1", port: 8080, family: "IPv6" } }],
    routes: [{ name: "web", upstream: "app" }],
    upstreams: [structuredClone(upstreamSnapshot)],
  });
  snapshot(): ProxySnapshot {
    return { ...this.state, draining: this.draining };
  }
}

function get(path: string, headers: Record<string, string> = {}): Request {
  return new Request(`http://admin.test${path}`, { headers });
}

describe("admin app", () => {
  test("healthz returns ok", async () => {
    const app = createAdminApp({ view: new FakeView(), metrics: new MetricsCollector() });
    const response = await app.fetch(get("/healthz"));
    assert.equal(response.status, 200);
    assert.equal(await response.text(), "ok\n");
    assert.equal(response.headers.get("content-type"), "text/plain; charset=utf-8");
  });

  test("readyz turns 503 while draining", async () => {
    const view = new FakeView();
    const app = createAdminApp({ view, metrics: new MetricsCollector() });
    assert.equal((await app.fetch(get("/readyz"))).status, 200);
    view.draining = true;
    const response = await app.fetch(get("/readyz"));
    assert.equal(response.status, 503);
    assert.equal(await response.text(), "draining\n");
  });

  test("status returns the snapshot as JSON", async () => {
    const app = createAdminApp({ view: new FakeView(), metrics: new MetricsCollector() });
    const response = await app.fetch(get("/status"));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^application\/json/);
    const body = await response.json();
    assert.deepEqual(body.listeners, [{ name: "public", address: "[::1]:8080" }]);
    assert.deepEqual(body.routes, [{ name: "web", upstream: "app" }]);
    assert.equal(body.upstreams[0].name, "app");
    assert.equal(body.upstreams[0].pool.idle, 2);
    assert.equal(body.upstreams[0].peers[0].peer, "http://10.0.0.1:80");
    assert.equal(body.upstreams[0].peers[0].inFlight, 5);
    assert.equal(body.upstreams[0].peers[0].health.ejected, true);
    assert.equal(body.draining, false);
  });

  test("metrics uses the Prometheus content type", async () => {
    const metrics = new MetricsCollector();
    metrics.access(accessRecord());
    const app = createAdminApp({ view: new FakeView(), metrics });
    const response = await app.fetch(get("/metrics"));
    assert.equal(response.status, 200);
    assert.equal(response.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.ok(
      (await response.text()).includes('cairn_requests_total{route="web",code_class="2xx"} 1\n'),
    );
  });

  test("dashboard lists peers and refreshes", async () => {
    const view = new FakeView();
    view.state.upstreams[0].peers[0].label = "http://<peer>:80";
    const app = createAdminApp({ view, metrics: new MetricsCollector() });
    const response = await app.fetch(get("/"));
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /^text\/html/);
    const page = await response.text();
    assert.match(page, /<meta http-equiv="refresh" content="5">/);
    assert.ok(page.includes("http://&#60;peer&#62;:80"), "the peer label is not escaped");
    assert.ok(page.includes('<td class="ejected">ejected</td>'));
    assert.ok(page.includes("<li>public: [::1]:8080</li>"));
  });

  test("dashboard lists workers when given", async () => {
    const app = createAdminApp({
      view: new FakeView(),
      metrics: new MetricsCollector(),
      workers: () => [
        { index: 0, pid: 101, running: true, restarts: 0 },
        { index: 1, pid: undefined, running: false, restarts: 2 },
      ],
    });
    const html = await (await app.fetch(get("/"))).text();
    assert.match(html, /<tr><td>0<\/td><td>101<\/td><td>running<\/td><td>0<\/td><\/tr>/);
    assert.match(html, /<tr><td>1<\/td><td><\/td><td>starting<\/td><td>2<\/td><\/tr>/);
    const single = await (await createAdminApp({ view: new FakeView(), metrics: new MetricsCollector() }).fetch(get("/"))).text();
    assert.doesNotMatch(single, /<h2>Workers<\/h2>/);
  });

  test("unknown path returns 404", async () => {
    const app = createAdminApp({ view: new FakeView(), metrics: new MetricsCollector() });
    assert.equal((await app.fetch(get("/nope"))).status, 404);
  });

  test("token required when set", async () => {
    const app = createAdminApp({
      view: new FakeView(),
      metrics: new MetricsCollector(),
      token: "s3cret",
    });
    const missing = await app.fetch(get("/healthz"));
    assert.equal(missing.status, 401);
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer/);
    const wrong = await app.fetch(get("/healthz", { Authorization: "Bearer s3cre" }));
    assert.equal(wrong.status, 401);
    const right = await app.fetch(get("/healthz", { Authorization: "Bearer s3cret" }));
    assert.equal(right.status, 200);
  });

  test("route error returns 500 and is reported", async () => {
    const view = new FakeView();
    view.snapshot = () => {
      throw new Error("boom");
    };
    const reported: string[] = [];
    const app = createAdminApp({
      view,
      metrics: new MetricsCollector(),
      onError: (error, path) => reported.push(`${path}: ${error.message}`),
    });
    assert.equal((await app.fetch(get("/status"))).status, 500);
    assert.deepEqual(reported, ["/status: boom"]);
  });

  test("POST /reload answers with the outcome and its status code", async () => {
    const outcomes: ReloadOutcome[] = [
      {
        status: "reloaded",
        summary: {
          upstreams: { added: [], changed: ["app"], removed: [], kept: [] },
          listeners: { added: [], removed: [], kept: ["public"] },
          routes: 1,
        },
      },
      { status: "invalid", problems: [{ source: "cairn.yaml", path: "routes[0].upstream", message: "unknown upstream", line: 9 }] },
      { status: "unavailable", message: "no file" },
      { status: "failed", message: "address in use" },
    ];
    let next = 0;
    const app = createAdminApp({
      view: new FakeView(),
      metrics: new MetricsCollector(),
      reload: () => Promise.resolve(outcomes[next++]),
    });
    const post = () => app.fetch(new Request("http://admin.test/reload", { method: "POST" }));
    const reloaded = await post();
    assert.equal(reloaded.status, 200);
    assert.deepEqual((await reloaded.json()).upstreams.changed, ["app"]);
    const invalid = await post();
    assert.equal(invalid.status, 422);
    assert.equal((await invalid.json()).problems[0].path, "routes[0].upstream");
    assert.equal((await post()).status, 409);
    assert.equal((await post()).status, 500);

    const wrongMethod = await app.fetch(get("/reload"));
    assert.equal(wrongMethod.status, 405);
    assert.equal(wrongMethod.headers.get("allow"), "POST");
    assert.equal(next, 4, "GET does not reload");
  });

  test("/reload is absent without a reload function", async () => {
    const app = createAdminApp({ view: new FakeView(), metrics: new MetricsCollector() });
    assert.equal((await app.fetch(new Request("http://admin.test/reload", { method: "POST" }))).status, 404);
  });
});
