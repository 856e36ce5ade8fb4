// The servers that the benchmarks load: the origin alone, and each proxy in front of it.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { nginxArgs, nginxPreamble } from "./nginx-config.ts";
import { type Child, startProcess, waitForPort } from "./processes.ts";
import { BIN, DIST } from "./setup.ts";

export const TARGET_NAMES = [
  "origin",
  "nginx",
  "haproxy",
  "node-http-proxy",
  "deno-fetch",
  "cairn-bun",
  "cairn-deno",
  "cairn-node",
] as const;

export type TargetName = typeof TARGET_NAMES[number];

export interface TargetContext {
  /** Temporary folder for configs and logs. */
  dir: string;
  originPort: number;
  /** CPU list that proxies are pinned to, or undefined to let them run anywhere. */
  cpus: string | undefined;
  /** Folder of the Cairn sources to run (see cairn-tree.ts). */
  cairnRoot: string;
}

/** A running target: the port to load, and the process whose memory is measured. */
export interface RunningTarget {
  port: number;
  /** The proxy's process; undefined for the origin, which runs for the whole benchmark. */
  child: Child | undefined;
}

export interface Target {
  name: TargetName;
  /** Description of the server and its settings, for the report. */
  description: string;
  start(context: TargetContext, port: number): Promise<RunningTarget>;
}

export const TARGETS: Record<TargetName, Target> = {
  "origin": {
    name: "origin",
    description: "the origin nginx alone, without a proxy (baseline)",
    start: (context) => Promise.resolve({ port: context.originPort, child: undefined }),
  },
  "nginx": {
    name: "nginx",
    description: "nginx, 1 worker, `keepalive 64` upstream pool (as many idle connections as the largest workload has clients), request and response streaming " +
      "(`proxy_request_buffering off`, `proxy_max_temp_file_size 0`)",
    start: (context, port) => {
      const config = writeNginxProxyConfig(context.dir, port, context.originPort);
      return started(context, port, "nginx", "nginx", nginxArgs(config, context.dir));
    },
  },
  "haproxy": {
    name: "haproxy",
    description: "HAProxy, `nbthread 1`, `http-reuse always`",
    start: (context, port) => {
      const config = writeHaproxyConfig(context.dir, port, context.originPort);
      return started(context, port, "haproxy", "haproxy", ["-db", "-f", config]);
    },
  },
  "node-http-proxy": {
    name: "node-http-proxy",
    description: "node-http-proxy on Node with a keep-alive `http.Agent` (bench/proxies/node-http-proxy.ts)",
    start: (context, port) =>
      started(context, port, "node-http-proxy", "node", [
        join(DIST, "node-http-proxy.js"),
        String(port),
        originUrl(context),
      ]),
  },
  "deno-fetch": {
    name: "deno-fetch",
    description: "`Deno.serve` passing each request to `fetch` (bench/proxies/deno-fetch.ts)",
    start: (context, port) =>
      started(context, port, "deno-fetch", join(BIN, "deno"), [
        "run",
        "--allow-net",
        join(context.cairnRoot, "bench/proxies/deno-fetch.ts"),
        String(port),
        originUrl(context),
      ]),
  },
  "cairn-bun": {
    name: "cairn-bun",
    description: "Cairn on Bun (`bun adapters/bun/main.ts`)",
    start: (context, port) =>
      started(context, port, "cairn-bun", join(BIN, "bun"), [
        join(context.cairnRoot, "adapters/bun/main.ts"),
        ...cairnArgs(context, port),
      ]),
  },
  "cairn-deno": {
    name: "cairn-deno",
    description: "Cairn on Deno (`deno run ... adapters/deno/main.ts`)",
    start: (context, port) =>
      started(context, port, "cairn-deno", join(BIN, "deno"), [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "--allow-sys",
        join(context.cairnRoot, "adapters/deno/main.ts"),
        ...cairnArgs(context, port),
      ]),
  },
  "cairn-node": {
    name: "cairn-node",
    description: "Cairn on Node (`node dist/node/cairn.js`, built by `npm run build:node`)",
    start: (context, port) =>
      started(context, port, "cairn-node", "node", [
        join(context.cairnRoot, "dist/node/cairn.js"),
        ...cairnArgs(context, port),
      ]),
  },
};

/**
 * Cairn's arguments: a config file like `--listen` and `--upstream` would give, with the access
 * log off, because none of the other proxies writes one.
 */
function cairnArgs(context: TargetContext, port: number): string[] {
  const path = join(context.dir, `cairn-${port}.yaml`);
  writeFileSync(
    path,
    [
      "listeners:",
      `  - address: 127.0.0.1:${port}`,
      "upstreams:",
      "  origin:",
      "    peers:",
      `      - url: ${originUrl(context)}`,
      "routes:",
      "  - upstream: origin",
      "logging:",
      "  access: false",
      "",
    ].join("\n"),
  );
  return ["--config", path];
}

function originUrl(context: TargetContext): string {
  return `http://127.0.0.1:${context.originPort}`;
}

async function started(
  context: TargetContext,
  port: number,
  name: string,
  command: string,
  args: string[],
): Promise<RunningTarget> {
  const child = startProcess(name, {
    command,
    args,
    cwd: context.cairnRoot,
    stderrFile: join(context.dir, `${name}-stderr.log`),
    cpus: context.cpus,
  });
  await waitForPort(port, child);
  return { port, child };
}

function writeNginxProxyConfig(dir: string, port: number, originPort: number): string {
  mkdirSync(join(dir, "proxy-temp"), { recursive: true });
  const config = `${nginxPreamble(dir, "proxy")}
  upstream origin {
    server 127.0.0.1:${originPort};
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port} backlog=4096;
    client_max_body_size 0;
    location / {
      proxy_pass http://origin;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_request_buffering off;
      proxy_max_temp_file_size 0;
    }
  }
}
`;
  const file = join(dir, "proxy-nginx.conf");
  writeFileSync(file, config);
  return file;
}

function writeHaproxyConfig(dir: string, port: number, originPort: number): string {
  // maxconn 8000 keeps HAProxy's file descriptor need (about two per connection) under a
  // 20,000 descriptor limit.
  const config = `global
  nbthread 1
  maxconn 8000

defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s

frontend bench
  bind 127.0.0.1:${port}
  default_backend origin

backend origin
  server origin 127.0.0.1:${originPort}
`;
  const file = join(dir, "haproxy.cfg");
  writeFileSync(file, config);
  return file;
}
