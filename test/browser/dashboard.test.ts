/**
 * Opens the admin dashboard of a running Cairn in headless Chromium, through playwright-core,
 * and checks what the page shows and that it reloads itself.
 *
 * The browser is the system's Chromium at `/usr/bin/chromium` (Debian package `chromium`), or
 * the executable that `CAIRN_CHROMIUM` names. Without it every test fails, because CI installs it.
 * Cairn runs on Bun unless `CAIRN_RUNTIMES` lists the runtimes, as for the end-to-end tests.
 * Node needs `npm run build:node` first.
 */
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, test } from "node:test";
import { type Browser, chromium, type Page } from "playwright-core";
import { DASHBOARD_REFRESH_SECONDS } from "../../src/admin/dashboard.ts";
import {
  delay,
  type ProxyProcess,
  type RuntimeName,
  RUNTIMES,
  startProxy,
  waitFor,
  writeTempConfig,
} from "../e2e/harness.ts";

const CHROMIUM_PATH = process.env.CAIRN_CHROMIUM ?? "/usr/bin/chromium";

/** Bun alone by default, because every runtime renders the page with the same `renderDashboard`. */
const BROWSER_RUNTIMES: RuntimeName[] = process.env.CAIRN_RUNTIMES === undefined
  ? ["bun"]
  : RUNTIMES;

/** Maximum wait for one HTTP request sent from the test process. */
const REQUEST_TIMEOUT_MS = 5_000;
/** Maximum wait for a request to `/api/slow`, which the origin leaves pending across several tests. */
const SLOW_REQUEST_TIMEOUT_MS = 60_000;
/** Maximum wait for Chromium to start and for one page load. */
const BROWSER_TIMEOUT_MS = 20_000;
/** Maximum wait for the page to reload itself and show a change: one refresh period plus 5 s. */
const REFRESH_WAIT_MS = DASHBOARD_REFRESH_SECONDS * 1000 + 5_000;
/** Maximum wait for health checks and passive ejection to reach the states the tests expect. */
const HEALTH_WAIT_MS = 10_000;

/** Keep-alive timeout of the origins, longer than the whole test. */
const ORIGIN_KEEP_ALIVE_MS = 120_000;

/** Requests to the `api` route that the origin completes at once with status 200. */
const FAST_API_REQUESTS = 3;

/** One row of a peer table, as the page shows it. */
interface PeerRow {
  peer: string;
  state: string;
  stateClass: string;
  /** Computed CSS color of the state cell, such as `rgb(0, 102, 0)`. */
  stateColor: string;
  weight: string;
  inFlight: string;
  open: string;
  idle: string;
}

interface UpstreamSection {
  /** The `h3` text: name and balancing algorithm. */
  heading: string;
  /** The pool summary line below the heading. */
  pool: string;
  peers: PeerRow[];
}

/** The dashboard's content, read from the DOM with whitespace runs collapsed to one space. */
interface DashboardView {
  title: string;
  /** Content of `<meta http-equiv="refresh">`, or null without one. */
  refresh: string | null;
  /** The paragraph below `h1`: serving or draining, open client connections and links. */
  summary: string;
  listeners: string[];
  /** Rows of the routes table: name, upstream, requests and errors. */
  routes: string[][];
  /** The paragraph of request and error counts and rates. */
  traffic: string;
  upstreams: UpstreamSection[];
  links: string[];
}

/**
 * Reads the dashboard in the page. Returns null while a document is still loading, because a
 * reload may have replaced the page since the last read.
 */
function readDashboardInPage(): DashboardView | null {
  if (document.readyState !== "complete") return null;
  const text = (node: Element | null | undefined) =>
    (node?.textContent ?? "").replace(/\s+/g, " ").trim();
  const listItems = (title: string) => {
    const heading = [...document.querySelectorAll("h2")].find((h2) => text(h2) === title);
    const list = heading?.nextElementSibling;
    return list === null || list === undefined ? [] : [...list.querySelectorAll("li")].map(text);
  };
  const upstreams = [...document.querySelectorAll("h3")].map((h3) => {
    const pool = h3.nextElementSibling;
    const table = pool?.nextElementSibling;
    const rows = table === null || table === undefined
      ? []
      : [...table.querySelectorAll("tr")].slice(1);
    const peers = rows.map((row) => {
      const cells = [...row.querySelectorAll("td")];
      const state = cells[1];
      return {
        peer: text(cells[0]),
        state: text(state),
        stateClass: state?.className ?? "",
        stateColor: state === undefined ? "" : getComputedStyle(state).color,
        weight: text(cells[2]),
        inFlight: text(cells[3]),
        open: text(cells[4]),
        idle: text(cells[5]),
      };
    });
    return { heading: text(h3), pool: text(pool), peers };
  });
  const h1 = document.querySelector("h1");
  return {
    title: document.title,
    refresh: document.querySelector('meta[http-equiv="refresh"]')?.getAttribute("content") ?? null,
    summary: text(h1?.nextElementSibling),
    listeners: listItems("Listeners"),
    routes: [...document.querySelectorAll("#routes tr")].slice(1)
      .map((row) => [...row.querySelectorAll("td")].map(text)),
    traffic: text(document.querySelector("#traffic")),
    upstreams,
    links: [...document.querySelectorAll("a")].map((link) => link.getAttribute("href") ?? ""),
  };
}

/**
 * Reads the dashboard until `check` accepts it, for at most `timeoutMs`. Reads that a reload
 * interrupts are retried, so the page can reload itself while the test waits.
 */
async function waitForView(
  page: Page,
  description: string,
  check: (view: DashboardView) => boolean = () => true,
  timeoutMs = REQUEST_TIMEOUT_MS,
): Promise<DashboardView> {
  const deadline = Date.now() + timeoutMs;
  let last: DashboardView | null = null;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      last = await page.evaluate(readDashboardInPage);
      if (last !== null && check(last)) return last;
    } catch (error) {
      // A reload destroys the document that the read ran in. Anything else is a real failure.
      if (
        !(error instanceof Error) || !/Execution context was destroyed|navigat/i.test(error.message)
      ) throw error;
      lastError = error;
    }
    await delay(100);
  }
  throw new Error(
    `the dashboard did not show ${description} within ${timeoutMs} ms; last read: ` +
      `${JSON.stringify(last)}; last error: ${String(lastError)}`,
  );
}

function findUpstream(view: DashboardView, name: string): UpstreamSection {
  const section = view.upstreams.find((upstream) => upstream.heading.startsWith(`${name} (`));
  assert.ok(section, `no upstream ${name} on the page: ${JSON.stringify(view.upstreams)}`);
  return section;
}

function findPeer(view: DashboardView, upstream: string, label: string): PeerRow {
  const row = findUpstream(view, upstream).peers.find((peer) => peer.peer === label);
  assert.ok(
    row,
    `no peer ${label} under ${upstream}: ${JSON.stringify(findUpstream(view, upstream))}`,
  );
  return row;
}

/** An origin that responds 200 at once, except to `/api/slow`, which waits for `releaseAll`. */
class SlowOrigin {
  readonly server: Server;
  readonly pending: ServerResponse[] = [];

  constructor() {
    this.server = createServer((request, response) => {
      if (request.url === "/api/slow") {
        this.pending.push(response);
        return;
      }
      response.writeHead(200, { "content-type": "text/plain", "content-length": "5" });
      response.end("hello");
    });
  }

  /** Completes every pending request with status 200. */
  releaseAll(): void {
    for (const response of this.pending.splice(0)) {
      response.writeHead(200, { "content-type": "text/plain", "content-length": "4" });
      response.end("slow");
    }
  }
}

/** Starts `server` on an ephemeral port of 127.0.0.1 and returns the port. */
async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return (server.address() as AddressInfo).port;
}

/** Returns a port of 127.0.0.1 that was free a moment ago, for a peer that refuses connections. */
async function closedPort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

function get(url: string, timeoutMs = REQUEST_TIMEOUT_MS): Promise<Response> {
  return fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
}

/**
 * Builds a config whose peers cover every state the page shows except `unknown`, which occurs
 * only while discovery replaces a peer set. Upstream `app` has a healthy, an unhealthy and a
 * disabled peer. The single peer of `legacy` responds 503, so one request ejects it.
 */
function dashboardConfig(
  ports: { live: number; refused: number; disabled: number; failing: number },
): string {
  return `
listeners:
  - address: 127.0.0.1:0
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:${ports.live}
      - url: http://127.0.0.1:${ports.refused}
        weight: 2
      - url: http://127.0.0.1:${ports.disabled}
        enabled: false
    healthCheck:
      path: /health
      interval: 100ms
      timeout: 500ms
      healthyThreshold: 1
      unhealthyThreshold: 1
  legacy:
    peers:
      - url: http://127.0.0.1:${ports.failing}
    passive:
      consecutiveFailures: 1
      baseEjection: 10m
      maxEjection: 10m
    retries:
      attempts: 1
routes:
  - name: api
    match:
      pathPrefix: /api
    upstream: app
  - name: legacy
    upstream: legacy
admin:
  address: 127.0.0.1:0
logging:
  access: false
shutdown:
  drainTimeout: 30s
`;
}

interface StatusPeer {
  peer: string;
  health: { healthy: boolean; ejected: boolean } | null;
}

/** Returns the peers of `/status`, by label. */
async function statusPeers(admin: string): Promise<Map<string, StatusPeer>> {
  const response = await get(`${admin}/status`);
  const body = await response.json() as { upstreams: { peers: StatusPeer[] }[] };
  return new Map(
    body.upstreams.flatMap((upstream) => upstream.peers).map((peer) => [peer.peer, peer]),
  );
}

for (const runtime of BROWSER_RUNTIMES) {
  describe(`admin dashboard in Chromium on ${runtime}`, () => {
    const origin = new SlowOrigin();
    const failingOrigin = createServer((_request, response) => {
      response.writeHead(503, { "content-type": "text/plain", "content-length": "11" });
      response.end("unavailable");
    });
    let proxy: ProxyProcess | undefined;
    let browser: Browser | undefined;
    let page: Page;
    let admin = "";
    let proxyUrl = "";
    let livePeer = "";
    let refusedPeer = "";
    let disabledPeer = "";
    let failingPeer = "";
    /** Load events of `page`. Each manual navigation and each reload adds one. */
    let loads = 0;
    /** Proxied requests to `/api/slow`, in the order they were sent. */
    const slowRequests: Promise<Response>[] = [];

    /** The error that `before` raised. Bun runs the tests anyway, so each one raises it again. */
    let setupError: Error | undefined;

    function assertSetUp(): void {
      if (setupError !== undefined) {
        throw new Error(`setup failed: ${setupError.message}`, { cause: setupError });
      }
    }

    before(async () => {
      try {
        await setUp();
      } catch (error) {
        setupError = error instanceof Error ? error : new Error(String(error));
        throw error;
      }
    });

    async function setUp(): Promise<void> {
      if (!existsSync(CHROMIUM_PATH)) {
        throw new Error(
          `Chromium not found at ${CHROMIUM_PATH}: install it with \`apt-get install chromium\` ` +
            "(as .ci/run does) or set CAIRN_CHROMIUM to a Chromium executable",
        );
      }
      // Node's default keep-alive timeout of 5 s would close pooled connections mid-test.
      origin.server.keepAliveTimeout = ORIGIN_KEEP_ALIVE_MS;
      failingOrigin.keepAliveTimeout = ORIGIN_KEEP_ALIVE_MS;
      const ports = {
        live: await listen(origin.server),
        failing: await listen(failingOrigin),
        refused: await closedPort(),
        disabled: await closedPort(),
      };
      livePeer = `http://127.0.0.1:${ports.live}`;
      refusedPeer = `http://127.0.0.1:${ports.refused}`;
      disabledPeer = `http://127.0.0.1:${ports.disabled}`;
      failingPeer = `http://127.0.0.1:${ports.failing}`;

      proxy = await startProxy(runtime, ["--config", writeTempConfig(dashboardConfig(ports))]);
      assert.notEqual(proxy.adminPort, undefined, "the start line names no admin address");
      admin = `http://127.0.0.1:${proxy.adminPort}`;
      proxyUrl = `http://127.0.0.1:${proxy.port}`;

      // Requests wait for the health checks, so none of them goes to the refused peer.
      const deadline = Date.now() + HEALTH_WAIT_MS;
      let peers = await statusPeers(admin);
      while (peers.get(refusedPeer)?.health?.healthy !== false && Date.now() < deadline) {
        await delay(100);
        peers = await statusPeers(admin);
      }
      assert.equal(
        peers.get(refusedPeer)?.health?.healthy,
        false,
        `${refusedPeer} is still healthy`,
      );

      for (let i = 0; i < FAST_API_REQUESTS; i++) {
        const response = await get(`${proxyUrl}/api/hello`);
        assert.equal(response.status, 200);
        assert.equal(await response.text(), "hello");
      }
      const failed = await get(`${proxyUrl}/legacy`);
      assert.equal(failed.status, 503);
      await failed.body?.cancel();
      peers = await statusPeers(admin);
      assert.equal(peers.get(failingPeer)?.health?.ejected, true, `${failingPeer} was not ejected`);

      slowRequests.push(get(`${proxyUrl}/api/slow`, SLOW_REQUEST_TIMEOUT_MS));
      assert.ok(
        await waitFor(() => origin.pending.length === 1),
        "the origin did not receive /api/slow",
      );

      browser = await chromium.launch({
        executablePath: CHROMIUM_PATH,
        // Chromium does not start as root without --no-sandbox, and CI runs as root.
        args: ["--no-sandbox"],
        timeout: BROWSER_TIMEOUT_MS,
      });
      page = await browser.newPage();
      page.setDefaultTimeout(BROWSER_TIMEOUT_MS);
      page.on("load", () => loads++);
      const response = await page.goto(`${admin}/`, { waitUntil: "load" });
      assert.equal(response?.status(), 200);
    }

    after(async () => {
      origin.releaseAll();
      await Promise.allSettled(slowRequests);
      await browser?.close();
      await proxy?.stop("SIGKILL");
      await closeServer(origin.server);
      await closeServer(failingOrigin);
    });

    test("shows listeners and routes", async () => {
      assertSetUp();
      const view = await waitForView(page, "its content");
      assert.equal(view.title, "Cairn");
      assert.equal(view.refresh, String(DASHBOARD_REFRESH_SECONDS));
      assert.match(
        view.summary,
        /^Serving\. \d+ client connections? open\. See \/status and \/metrics\.$/,
      );
      assert.deepEqual(view.links, ["/status", "/metrics"]);
      assert.deepEqual(view.listeners, [`listener-0: 127.0.0.1:${proxy!.port}`]);
      // The pending /api/slow request has not finished, so it is not counted yet.
      assert.deepEqual(view.routes, [
        ["api", "app", String(FAST_API_REQUESTS), "0"],
        ["legacy", "legacy", "1", "1"],
      ]);
      assert.deepEqual(view.upstreams.map((upstream) => upstream.heading), [
        "app (round_robin)",
        "legacy (round_robin)",
      ]);
    });

    test("shows request and error counts and rates", async () => {
      assertSetUp();
      const view = await waitForView(page, "its content");
      const match = /^(\d+) requests, 1 error \(5xx\) since start\. Over the last (\d+) seconds?: (\d+\.\d\d) requests\/s, (\d+\.\d\d) errors\/s\.$/
        .exec(view.traffic);
      assert.ok(match, view.traffic);
      assert.equal(Number(match[1]), FAST_API_REQUESTS + 1);
      const seconds = Number(match[2]);
      assert.ok(seconds >= 1, view.traffic);
      assert.ok(seconds <= 60, view.traffic);
      // Every request ran within the window, so the rates are the counts over the window.
      assert.equal(match[3], ((FAST_API_REQUESTS + 1) / seconds).toFixed(2));
      assert.equal(match[4], (1 / seconds).toFixed(2));
    });

    test("shows each peer's health state", async () => {
      assertSetUp();
      const view = await waitForView(page, "its content");
      assert.deepEqual(findUpstream(view, "app").peers.map((peer) => peer.peer), [
        livePeer,
        refusedPeer,
        disabledPeer,
      ]);
      const expected = [
        {
          upstream: "app",
          label: livePeer,
          state: "healthy",
          color: "rgb(0, 102, 0)",
          weight: "1",
        },
        {
          upstream: "app",
          label: refusedPeer,
          state: "unhealthy",
          color: "rgb(187, 0, 0)",
          weight: "2",
        },
        {
          upstream: "app",
          label: disabledPeer,
          state: "disabled",
          color: "rgb(102, 102, 102)",
          weight: "1",
        },
        {
          upstream: "legacy",
          label: failingPeer,
          state: "ejected",
          color: "rgb(187, 0, 0)",
          weight: "1",
        },
      ];
      for (const { upstream, label, state, color, weight } of expected) {
        const row = findPeer(view, upstream, label);
        assert.equal(row.state, state, `state of ${label}`);
        assert.equal(row.stateClass, state, `class of the state cell of ${label}`);
        assert.equal(row.stateColor, color, `color of the state cell of ${label}`);
        assert.equal(row.weight, weight, `weight of ${label}`);
      }
    });

    test("shows in-flight and pool counts", async () => {
      assertSetUp();
      const view = await waitForView(page, "its content");
      const live = findPeer(view, "app", livePeer);
      assert.equal(live.inFlight, "1", "the pending /api/slow request is not in flight");
      assert.ok(Number(live.open) >= 1, `${livePeer} shows ${live.open} open connections`);
      for (const label of [refusedPeer, disabledPeer]) {
        const row = findPeer(view, "app", label);
        assert.equal(row.inFlight, "0", `in flight to ${label}`);
        assert.equal(row.open, "0", `open connections to ${label}`);
        assert.equal(row.idle, "0", `idle connections to ${label}`);
      }
      // The 503 response left its keep-alive connection idle in the pool.
      const failing = findPeer(view, "legacy", failingPeer);
      assert.equal(failing.inFlight, "0", `in flight to ${failingPeer}`);
      assert.equal(failing.open, "1", `open connections to ${failingPeer}`);
      assert.equal(failing.idle, "1", `idle connections to ${failingPeer}`);

      for (const name of ["app", "legacy"]) {
        const upstream = findUpstream(view, name);
        const open = upstream.peers.reduce((sum, peer) => sum + Number(peer.open), 0);
        const idle = upstream.peers.reduce((sum, peer) => sum + Number(peer.idle), 0);
        assert.equal(upstream.pool, `Pool: ${open} open, ${idle} idle, 0 connecting, 0 queued.`);
      }
    });

    test("links to status and metrics", async () => {
      assertSetUp();
      const linksPage = await browser!.newPage();
      linksPage.setDefaultTimeout(BROWSER_TIMEOUT_MS);
      try {
        await linksPage.goto(`${admin}/`);
        await Promise.all([
          linksPage.waitForURL(`${admin}/metrics`),
          linksPage.click('a[href="/metrics"]'),
        ]);
        const metrics = await linksPage.innerText("body");
        // The pending /api/slow request has not finished, so it is not counted yet.
        assert.match(
          metrics,
          new RegExp(
            `^cairn_requests_total\\{route="api",code_class="2xx"\\} ${FAST_API_REQUESTS}$`,
            "m",
          ),
        );
        assert.match(metrics, /^cairn_requests_total\{route="legacy",code_class="5xx"\} 1$/m);

        await linksPage.goBack();
        await Promise.all([
          linksPage.waitForURL(`${admin}/status`),
          linksPage.click('a[href="/status"]'),
        ]);
        const status = JSON.parse(await linksPage.innerText("body"));
        assert.equal(status.draining, false);
      } finally {
        await linksPage.close();
      }
    });

    test("reloads itself with new counts", async () => {
      assertSetUp();
      const before = await waitForView(page, "its content");
      assert.equal(findPeer(before, "app", livePeer).inFlight, "1");
      const loadsBefore = loads;

      origin.releaseAll();
      const released = await slowRequests[0];
      assert.equal(released.status, 200);
      assert.equal(await released.text(), "slow");

      await waitForView(
        page,
        `0 requests in flight to ${livePeer}`,
        (view) => findPeer(view, "app", livePeer).inFlight === "0",
        REFRESH_WAIT_MS,
      );
      assert.ok(loads > loadsBefore, "the page changed without a reload");
    });

    test("shows draining after SIGTERM", async () => {
      assertSetUp();
      // A request in flight keeps Cairn draining, with its admin API up, until it finishes.
      slowRequests.push(get(`${proxyUrl}/api/slow`, SLOW_REQUEST_TIMEOUT_MS));
      assert.ok(
        await waitFor(() => origin.pending.length === 1),
        "the origin did not receive /api/slow",
      );
      const exited = proxy!.stop("SIGTERM");

      const view = await waitForView(
        page,
        "the draining state",
        (view) => view.summary.startsWith("Draining: shutdown has begun."),
        REFRESH_WAIT_MS,
      );
      assert.equal(findPeer(view, "app", livePeer).inFlight, "1");

      origin.releaseAll();
      const released = await slowRequests[1];
      assert.equal(released.status, 200);
      await released.body?.cancel();
      assert.equal(await exited, 0);
    });
  });
}
