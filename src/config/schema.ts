import { z } from "zod";
import {
  type AddressResult,
  parseHostHeaderValue,
  parseHostPattern,
  parseListenAddress,
  parsePeerUrl,
} from "./address.ts";
import { isLoopbackHost } from "../net/ip-address.ts";
import type { BalancingAlgorithm } from "../upstream/balancer.ts";
import { type HashKeySource, parseHashKey } from "../upstream/hash-key.ts";
import { parseStatusRanges, type StatusRange } from "../upstream/status-ranges.ts";
import {
  DEFAULT_KEEP_ALIVE_MARGIN_MS,
  DEFAULT_MAX_QUEUE,
  DEFAULT_QUEUE_TIMEOUT_MS,
} from "../pool/pool.ts";
import { findCrossReferenceProblems } from "./cross-check.ts";
import {
  configErrorMap,
  describeValue,
  problemsFromIssues,
  type SchemaProblem,
  type UnknownKeyParams,
} from "./messages.ts";
import { parseDurationMs, parseSizeBytes, type UnitResult } from "./units.ts";

// ---------------------------------------------------------------------------------------------
// Typed result. Field names carry the unit: durations are milliseconds and sizes are bytes.

/** A validated configuration with every default filled in. */
export interface Config {
  listeners: ListenerConfig[];
  /** Upstreams by name, in the order the file lists them. */
  upstreams: Map<string, UpstreamConfig>;
  /** Routes in file order, which is also their matching precedence. */
  routes: RouteConfig[];
  limits: LimitsConfig;
  logging: LoggingConfig;
  shutdown: ShutdownConfig;
  reload: ReloadConfig;
  /** Address of the built-in demo origin, or undefined when it should not run. */
  demo: DemoConfig | undefined;
  /** The admin API listener, or undefined when it should not run. */
  admin: AdminConfig | undefined;
}

export interface ListenerConfig {
  /** Unique name, `listener-N` by default where N is the position in the list. */
  name: string;
  /** The address as written, such as `127.0.0.1:8080` or `[::1]:8080`. */
  address: string;
  /** Host name or IP address to bind; IPv6 without brackets. */
  hostname: string;
  /** Port to bind; 0 lets the operating system pick a free port. */
  port: number;
  /** The top-level limits with this listener's overrides applied. */
  limits: LimitsConfig;
}

export interface AdminConfig {
  address: string;
  hostname: string;
  port: number;
  /**
   * Name of the environment variable that contains the bearer token every admin request must
   * send. Required for an address other than loopback.
   */
  tokenEnv: string | undefined;
}

export interface DemoConfig {
  address: string;
  hostname: string;
  port: number;
}

export interface UpstreamConfig {
  /** The key under `upstreams`. */
  name: string;
  peers: PeerConfig[];
  balancing: BalancingAlgorithm;
  /** Source of the request key for `consistent_hash`, and undefined with other algorithms. */
  hashKey: HashKeySource | undefined;
  /** Active health checks, or undefined when the upstream has none. */
  healthCheck: HealthCheckConfig | undefined;
  /** Passive ejection of failing peers, or undefined when it is off. */
  passive: PassiveHealthConfig | undefined;
  retries: RetryConfig;
  /** Re-resolution of peer host names, or undefined when connects resolve them each time. */
  discovery: DiscoveryConfig | undefined;
  pool: PoolConfig;
  timeouts: UpstreamTimeoutsConfig;
  tls: UpstreamTlsConfig;
}

/** Load balancing algorithm across the peers of an upstream. */
export type { BalancingAlgorithm };

/** Settings shared by both kinds of active health check. */
interface HealthCheckTiming {
  /** Time from the end of one round of checks to the start of the next. */
  intervalMs: number;
  /** Deadline for one check, from the connect to the response head. */
  timeoutMs: number;
  /** Consecutive passing checks that make an unhealthy peer healthy. */
  healthyThreshold: number;
  /** Consecutive failing checks that make a healthy peer unhealthy. */
  unhealthyThreshold: number;
}

/** An HTTP check passes when `GET path` gets one of the expected statuses. */
export interface HttpHealthCheckConfig extends HealthCheckTiming {
  type: "http";
  path: string;
  expectedStatuses: StatusRange[];
}

/** A TCP check passes when a connection opens. */
export interface TcpHealthCheckConfig extends HealthCheckTiming {
  type: "tcp";
}

export type HealthCheckConfig = HttpHealthCheckConfig | TcpHealthCheckConfig;

export interface PassiveHealthConfig {
  /** Failed requests in a row (connect failures or 5xx responses) that eject a peer. */
  consecutiveFailures: number;
  /** Length of the first ejection; each further ejection in a row doubles it. */
  baseEjectionMs: number;
  /** Upper bound on the length of an ejection. */
  maxEjectionMs: number;
}

export interface RetryConfig {
  /** Tries per request, the first included, each on the next candidate peer. */
  attempts: number;
  /** Retries in flight allowed, as a percentage of the requests in flight. */
  budgetPercent: number;
  /** Response statuses that make the request go to the next peer, when repeating it is safe. */
  onStatuses: number[];
}

export interface DiscoveryConfig {
  /** Time from the end of one resolution of the peers' host names to the start of the next. */
  resolveIntervalMs: number;
}

export interface PeerConfig {
  /** The URL as written, for messages and logs. */
  url: string;
  scheme: "http" | "https";
  /** Lower-case host name or IP address; IPv6 without brackets. */
  hostname: string;
  /** Port from the URL, or 80 for http and 443 for https. */
  port: number;
  /** Share of requests relative to the other peers' weights; a whole number of 1 or more. */
  weight: number;
  /** The operator's switch: a disabled peer gets no requests, but its health checks still run. */
  enabled: boolean;
}

export interface PoolConfig {
  /** Idle keep-alive connections kept per peer; 0 closes each connection after its response. */
  maxIdlePerPeer: number;
  /** An idle pooled connection is closed after this long. */
  idleTimeoutMs: number;
  /** Connections per peer, idle and in use together; undefined means no limit. */
  maxConnectionsPerPeer: number | undefined;
  /** Requests per peer that may wait for a connection when the peer is at its limit. */
  maxQueue: number;
  /** Maximum wait for a connection, after which the request fails with 503. */
  queueTimeoutMs: number;
  /** A connection is closed after this many requests; undefined means no limit. */
  maxRequestsPerConnection: number | undefined;
  /** A connection is closed, once idle, after it has been open this long; undefined: no limit. */
  maxConnectionAgeMs: number | undefined;
  /** A connection is reused only until this long before the origin's `Keep-Alive: timeout`. */
  keepAliveMarginMs: number;
}

export interface UpstreamTimeoutsConfig {
  /** Time to open a connection to a peer, including the TLS handshake. */
  connectMs: number;
  /** Time from sending the request until the response head has arrived. */
  responseHeaderMs: number;
  /** Maximum time without any bytes in either direction once the response has started. */
  idleMs: number;
  /** Deadline for the whole exchange, retries included; undefined means none. */
  totalMs: number | undefined;
}

/** TLS settings used for the upstream's `https://` peers. */
export interface UpstreamTlsConfig {
  /** Name sent with SNI and checked against the certificate; defaults to the peer's host. */
  serverName: string | undefined;
  /** PEM file with the CA certificates to trust instead of the runtime's default roots. */
  caFile: string | undefined;
  /** Whether to verify the peer's certificate. */
  verify: boolean;
}

export interface RouteConfig {
  /** Unique name, `route-N` by default where N is the position in the list. */
  name: string;
  match: RouteMatch;
  /** Name of the upstream that receives matching requests; it is present in `upstreams`. */
  upstream: string;
  /** Request headers to set, replacing any value the client sent; names are lower-case. */
  setHeaders: HeaderField[];
  /** Lower-case names of request headers to remove before forwarding. */
  removeHeaders: string[];
  /** Host header value sent upstream in place of the client's. */
  hostRewrite: string | undefined;
  timeouts: RouteTimeoutsConfig;
}

/**
 * Deadlines that replace the upstream's for requests on one route; undefined keeps the
 * upstream's value. Connect has no override because connections are pooled per peer.
 */
export interface RouteTimeoutsConfig {
  responseHeaderMs: number | undefined;
  idleMs: number | undefined;
  totalMs: number | undefined;
}

/** Conditions a request must meet, all of them, for its route to match. */
export interface RouteMatch {
  /**
   * Lower-case host patterns, any of which may match: exact (`api.example.com`) or wildcard
   * (`*.example.com`). Empty means any host, including a request without one.
   */
  hosts: string[];
  /** Exact path, compared without the query string. */
  path?: string;
  /** Path prefix, compared as a plain string prefix without the query string. */
  pathPrefix?: string;
  /** Accepted methods, case-sensitive as in HTTP; empty means any method. */
  methods: string[];
  /** Headers that must each be present with exactly this value; names are lower-case. */
  headers: HeaderField[];
}

/** A header name, always lower-case, and its value. */
export interface HeaderField {
  name: string;
  value: string;
}

/** Limits applied to each client connection and request. */
export interface LimitsConfig {
  maxRequestLineBytes: number;
  /** Maximum total size of the header fields of one request. */
  maxHeaderBytes: number;
  maxHeaderCount: number;
  maxBodyBytes: number;
  /** Longest chunk-size line of a chunked request body, extensions included. */
  maxChunkExtensionBytes: number;
  /** Largest trailer section of a chunked request body. */
  maxTrailerBytes: number;
  /** Deadline for receiving the whole request head, from its first byte. */
  headerTimeoutMs: number;
  /** Maximum idle time between requests on a client connection. */
  keepAliveTimeoutMs: number;
  /** Maximum idle time while a request body is being received. */
  bodyTimeoutMs: number;
  /** The connection is closed after this many requests. */
  maxRequestsPerConnection: number;
}

export type LogLevel = "debug" | "info" | "warn" | "error";

export type AccessLogFormat = "json" | "combined";

export interface LoggingConfig {
  /** Whether to write one line per request to the access log. */
  access: boolean;
  /** `json` for one JSON object per line, `combined` for the Apache and nginx combined format. */
  format: AccessLogFormat;
  /** File the access log is appended to; undefined for standard output. */
  accessFile: string | undefined;
  /** Whether responses carry the request's `X-Request-Id`. */
  echoRequestId: boolean;
  /** Minimum severity of the diagnostic messages that are written. */
  level: LogLevel;
}

export interface ShutdownConfig {
  /** Time that requests in flight get to finish after a shutdown signal. */
  drainTimeoutMs: number;
}

export interface ReloadConfig {
  /** Whether a change of the config file's contents reloads it, as SIGHUP does. */
  watch: boolean;
  /** How often the file is read to look for a change. */
  watchIntervalMs: number;
}

/** Outcome of `validateConfig`. */
export type ValidationResult =
  | { ok: true; config: Config }
  | { ok: false; errors: SchemaProblem[] };

// ---------------------------------------------------------------------------------------------
// Field schemas.

/** Letters, digits, `.`, `_` and `-`, starting with a letter or digit, to read well in logs. */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
/** The `token` rule of RFC 9110, section 5.6.2, which header names and methods follow. */
const TOKEN_PATTERN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Control characters other than horizontal tab, which RFC 9110 forbids in field values. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const FORBIDDEN_VALUE_CHARACTERS = /[\x00-\x08\x0a-\x1f\x7f]/;
/** Spaces and control characters, which cannot appear unencoded in a request target. */
// deno-lint-ignore no-control-regex -- matching control characters is the point
const FORBIDDEN_PATH_CHARACTERS = /[\x00-\x20\x7f]/;
/** Methods of RFC 9110 and PATCH (RFC 5789), which a lower-case spelling most likely means. */
const STANDARD_METHODS = [
  "GET",
  "HEAD",
  "POST",
  "PUT",
  "DELETE",
  "CONNECT",
  "OPTIONS",
  "TRACE",
  "PATCH",
];

/**
 * Headers a route may not set or remove: they frame the message or manage the connection, so
 * rewriting them could desynchronize the proxy and the peer. Host has `hostRewrite` instead.
 */
const PROXY_MANAGED_HEADERS = new Set([
  "connection",
  "content-length",
  "host",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

/**
 * Builds an object schema that rejects unknown keys, with one issue per key at the key's path.
 * The issue carries the known keys so that the message can suggest the intended one.
 * `misplacedKeys` gives the message, by key, for settings that belong in another section.
 */
function strictObject<Shape extends z.ZodRawShape>(
  shape: Shape,
  objectParams?: z.core.$ZodObjectParams,
  misplacedKeys?: Record<string, string>,
) {
  const params: UnknownKeyParams = { unknownKey: true, knownKeys: Object.keys(shape) };
  if (misplacedKeys !== undefined) params.misplacedKeys = misplacedKeys;
  const unknownKey = z.unknown().superRefine((_value, context) => {
    context.addIssue({ code: "custom", message: "unknown key", params });
  });
  return z.object(shape, objectParams).catchall(unknownKey);
}

/** Treats a key with an empty value (`limits:` followed by nothing) like a missing key. */
function section<Schema extends z.ZodType>(schema: Schema) {
  return z.preprocess((value) => (value === null ? undefined : value), schema);
}

/** Turns a parser result into the parsed value or a zod issue at the current path. */
function unwrap<T>(result: UnitResult | AddressResult<T>, context: z.RefinementCtx): T {
  if (!result.ok) {
    context.addIssue({ code: "custom", message: result.message });
    return z.NEVER;
  }
  return result.value as T;
}

function durationValueSchema(minimumMs: number) {
  const typeError = (issue: { input?: unknown }) =>
    `expected a duration such as 30s or 250ms, got ${describeValue(issue.input)}`;
  const schema = z
    .union([z.string(), z.number()], { error: typeError })
    .transform((value, context) => {
      const ms = unwrap<number>(parseDurationMs(value), context);
      if (ms < minimumMs) {
        context.addIssue({
          code: "custom",
          message: `duration "${value}" is too short: it must be at least ${minimumMs}ms`,
        });
      }
      return ms;
    });
  return schema;
}

function durationSchema(defaultText: string, minimum: number) {
  return durationValueSchema(minimum).prefault(defaultText);
}

function sizeValueSchema(minimumBytes: number) {
  const typeError = (issue: { input?: unknown }) =>
    `expected a size such as 64KiB or 1MiB, got ${describeValue(issue.input)}`;
  const schema = z
    .union([z.string(), z.number()], { error: typeError })
    .transform((value, context) => {
      const bytes = unwrap<number>(parseSizeBytes(value), context);
      if (bytes < minimumBytes) {
        context.addIssue({
          code: "custom",
          message: `size "${value}" is too small: it must be at least ${minimumBytes} bytes`,
        });
      }
      return bytes;
    });
  return schema;
}

function sizeSchema(defaultText: string, minimum: number) {
  return sizeValueSchema(minimum).prefault(defaultText);
}

const nameSchema = z.string().superRefine((name, context) => {
  if (!NAME_PATTERN.test(name)) {
    context.addIssue({
      code: "custom",
      message: `invalid name ${describeValue(name)}: use letters, digits, ".", "_" and "-", ` +
        `starting with a letter or digit`,
    });
  }
});

const listenAddressSchema = z.string().transform((text, context) => {
  const { hostname, port } = unwrap(parseListenAddress(text), context);
  return { address: text, hostname, port };
});

/** Lower-cases a header name, adding an issue when the name is not a valid token. */
function normalizeHeaderName(
  name: string,
  context: z.RefinementCtx,
  path: PropertyKey[],
): string {
  if (!TOKEN_PATTERN.test(name)) {
    context.addIssue({
      code: "custom",
      path,
      message: `invalid header name ${describeValue(name)}: use letters, digits and ` +
        `!#$%&'*+-.^_\`|~ only`,
    });
  }
  return name.toLowerCase();
}

function checkHeaderValue(value: string, context: z.RefinementCtx, path: PropertyKey[]): void {
  if (FORBIDDEN_VALUE_CHARACTERS.test(value)) {
    context.addIssue({
      code: "custom",
      path,
      message: `invalid header value ${describeValue(value)}: it must not contain line ` +
        `breaks or other control characters`,
    });
  }
}

function checkNotProxyManaged(lowerName: string, context: z.RefinementCtx, path: PropertyKey[]) {
  if (PROXY_MANAGED_HEADERS.has(lowerName)) {
    const reason = lowerName === "host"
      ? "use hostRewrite to change the Host header sent upstream"
      : "the proxy manages it to frame messages and connections";
    context.addIssue({
      code: "custom",
      path,
      message: `header "${lowerName}" cannot be set or removed: ${reason}`,
    });
  }
}

/** A map of header names to values, checked and turned into lower-case fields. */
const headerMapSchema = z.record(z.string(), z.string()).transform((record, context) => {
  const fields: HeaderField[] = [];
  const seen = new Map<string, string>();
  for (const [name, value] of Object.entries(record)) {
    const lower = normalizeHeaderName(name, context, [name]);
    checkHeaderValue(value, context, [name]);
    const previous = seen.get(lower);
    if (previous !== undefined) {
      context.addIssue({
        code: "custom",
        path: [name],
        message: `header "${name}" repeats "${previous}": header names are ` +
          `case-insensitive, so keep one of them`,
      });
    }
    seen.set(lower, name);
    fields.push({ name: lower, value });
  }
  return fields;
});

function pathSchema(field: "path" | "pathPrefix") {
  return z.string().superRefine((path, context) => {
    if (!path.startsWith("/")) {
      context.addIssue({
        code: "custom",
        message: `${field} ${describeValue(path)} must start with "/"`,
      });
    } else if (path.includes("?") || path.includes("#")) {
      context.addIssue({
        code: "custom",
        message: `${field} ${describeValue(path)} must not contain "?" or "#": routes match ` +
          `the path without the query string`,
      });
    } else if (FORBIDDEN_PATH_CHARACTERS.test(path)) {
      context.addIssue({
        code: "custom",
        message: `${field} ${describeValue(path)} must not contain spaces or control ` +
          `characters: write them percent-encoded, as requests carry them, such as %20`,
      });
    }
  });
}

const hostMatchSchema = z
  .union([z.string(), z.array(z.string())], {
    error: (issue) =>
      `expected a host name or a list of host names, got ${describeValue(issue.input)}`,
  })
  .transform((value, context) => {
    const patterns = typeof value === "string" ? [value] : value;
    if (patterns.length === 0) {
      context.addIssue({
        code: "custom",
        message: "the host list is empty: list at least one host, or remove host to match " +
          "every host",
      });
    }

    const hosts: string[] = [];
    patterns.forEach((pattern, index) => {
      const result = parseHostPattern(pattern);
      if (result.ok) {
        hosts.push(result.value);
      } else {
        const path = typeof value === "string" ? [] : [index];
        context.addIssue({ code: "custom", path, message: result.message });
      }
    });
    return hosts;
  });

const methodsSchema = z
  .array(z.string())
  .min(1)
  .transform((methods, context) => {
    methods.forEach((method, index) => {
      const upper = method.toUpperCase();
      if (!TOKEN_PATTERN.test(method)) {
        context.addIssue({
          code: "custom",
          path: [index],
          message: `invalid method ${describeValue(method)}: a method is a single word, ` +
            `such as GET`,
        });
      } else if (method !== upper && STANDARD_METHODS.includes(upper)) {
        context.addIssue({
          code: "custom",
          path: [index],
          message: `method "${method}" must be written "${upper}": HTTP methods are ` +
            `case-sensitive`,
        });
      }
    });
    return methods;
  });

const matchSchema = strictObject({
  host: hostMatchSchema.optional(),
  path: pathSchema("path").optional(),
  pathPrefix: pathSchema("pathPrefix").optional(),
  methods: methodsSchema.optional(),
  headers: section(headerMapSchema.optional()),
}).transform((match, context): RouteMatch => {
  if (match.path !== undefined && match.pathPrefix !== undefined) {
    context.addIssue({
      code: "custom",
      path: ["pathPrefix"],
      message: "path and pathPrefix cannot both be set: use path for one exact path or " +
        "pathPrefix for every path that starts with it",
    });
  }

  const result: RouteMatch = {
    hosts: match.host ?? [],
    methods: match.methods ?? [],
    headers: match.headers ?? [],
  };
  if (match.path !== undefined) {
    result.path = match.path;
  }
  if (match.pathPrefix !== undefined) {
    result.pathPrefix = match.pathPrefix;
  }
  return result;
});

const setHeadersSchema = headerMapSchema.superRefine((fields, context) => {
  for (const field of fields) {
    checkNotProxyManaged(field.name, context, []);
  }
});

const removeHeadersSchema = z.array(z.string()).transform((names, context) => {
  return names.map((name, index) => {
    const lower = normalizeHeaderName(name, context, [index]);
    checkNotProxyManaged(lower, context, [index]);
    return lower;
  });
});

/** A route's `timeouts`: the upstream's fields except `connect`, each optional. */
const routeTimeoutsSchema = strictObject(
  {
    responseHeader: durationValueSchema(1).optional(),
    idle: durationValueSchema(1).optional(),
    total: durationValueSchema(1).optional(),
  },
  undefined,
  {
    connect: "connect cannot be set per route, because connections are pooled per peer: " +
      "set it in the upstream's timeouts",
  },
).transform((timeouts): RouteTimeoutsConfig => ({
  responseHeaderMs: timeouts.responseHeader,
  idleMs: timeouts.idle,
  totalMs: timeouts.total,
}));

const routeSchema = strictObject({
  name: nameSchema.optional(),
  match: section(matchSchema.optional()),
  upstream: z.string().min(1),
  setHeaders: section(setHeadersSchema.optional()),
  removeHeaders: section(removeHeadersSchema.optional()),
  hostRewrite: z
    .string()
    .transform((text, context) => unwrap(parseHostHeaderValue(text), context))
    .optional(),
  timeouts: section(routeTimeoutsSchema.optional()),
}).transform((route, context) => {
  const setHeaders = route.setHeaders ?? [];
  const removeHeaders = route.removeHeaders ?? [];
  removeHeaders.forEach((name, index) => {
    if (setHeaders.some((field) => field.name === name)) {
      context.addIssue({
        code: "custom",
        path: ["removeHeaders", index],
        message: `header "${name}" is both set and removed: keep it in only one of ` +
          `setHeaders and removeHeaders`,
      });
    }
  });

  const match: RouteMatch = route.match ?? { hosts: [], methods: [], headers: [] };
  const timeouts: RouteTimeoutsConfig = route.timeouts ??
    { responseHeaderMs: undefined, idleMs: undefined, totalMs: undefined };
  return {
    name: route.name,
    match,
    upstream: route.upstream,
    setHeaders,
    removeHeaders,
    hostRewrite: route.hostRewrite,
    timeouts,
  };
});

const peerSchema = strictObject({
  url: z.string().transform((text, context) => {
    return { text, ...unwrap(parsePeerUrl(text), context) };
  }),
  weight: z.int().min(1).default(1),
  enabled: z.boolean().default(true),
}, {
  // A peer written as a bare URL (`- http://...`) most likely meant `- url: http://...`.
  error: (issue) =>
    issue.code === "invalid_type" && typeof issue.input === "string"
      ? `expected a map, got ${describeValue(issue.input)}: write the peer as ` +
        `- url: ${issue.input}`
      : undefined,
}).transform((peer): PeerConfig => ({
  url: peer.url.text,
  scheme: peer.url.scheme,
  hostname: peer.url.hostname,
  port: peer.url.port,
  weight: peer.weight,
  enabled: peer.enabled,
}));

const peersSchema = z
  .array(peerSchema)
  .min(1)
  .transform((peers, context) => {
    const seen = new Map<string, number>();
    peers.forEach((peer, index) => {
      const key = `${peer.scheme}://${peer.hostname}:${peer.port}`;
      const previous = seen.get(key);
      if (previous !== undefined) {
        context.addIssue({
          code: "custom",
          path: [index, "url"],
          message: `peer "${peer.url}" is the same as peers[${previous}]: list each peer ` +
            `once and raise its weight to send it more requests`,
        });
      }
      seen.set(key, index);
    });
    return peers;
  });

const poolSchema = strictObject({
  maxIdlePerPeer: z.int().min(0).default(128),
  idleTimeout: durationSchema("60s", 1),
  maxConnectionsPerPeer: z.int().min(1).optional(),
  maxQueue: z.int().min(0).default(DEFAULT_MAX_QUEUE),
  queueTimeout: durationSchema(`${DEFAULT_QUEUE_TIMEOUT_MS}ms`, 1),
  maxRequestsPerConnection: z.int().min(1).optional(),
  maxConnectionAge: durationValueSchema(1).optional(),
  keepAliveMargin: durationSchema(`${DEFAULT_KEEP_ALIVE_MARGIN_MS}ms`, 0),
}).transform((pool): PoolConfig => ({
  maxIdlePerPeer: pool.maxIdlePerPeer,
  idleTimeoutMs: pool.idleTimeout,
  maxConnectionsPerPeer: pool.maxConnectionsPerPeer,
  maxQueue: pool.maxQueue,
  queueTimeoutMs: pool.queueTimeout,
  maxRequestsPerConnection: pool.maxRequestsPerConnection,
  maxConnectionAgeMs: pool.maxConnectionAge,
  keepAliveMarginMs: pool.keepAliveMargin,
}));

const upstreamTimeoutsSchema = strictObject({
  connect: durationSchema("5s", 1),
  responseHeader: durationSchema("60s", 1),
  idle: durationSchema("60s", 1),
  total: durationValueSchema(1).optional(),
}).transform((timeouts): UpstreamTimeoutsConfig => ({
  connectMs: timeouts.connect,
  responseHeaderMs: timeouts.responseHeader,
  idleMs: timeouts.idle,
  totalMs: timeouts.total,
}));

const BALANCING_ALGORITHMS = [
  "round_robin",
  "least_requests",
  "random_two",
  "consistent_hash",
] as const satisfies readonly BalancingAlgorithm[];

const hashKeySchema = z.string().transform((text, context) => {
  const result = parseHashKey(text);
  if (!result.ok) {
    context.addIssue({ code: "custom", message: result.message });
    return z.NEVER;
  }
  return result.value;
});

const expectedStatusesSchema = z.unknown().transform((value, context) => {
  const result = parseStatusRanges(value);
  if (!result.ok) {
    context.addIssue({ code: "custom", message: result.message });
    return z.NEVER;
  }
  return result.value;
});

const healthCheckSchema = strictObject({
  type: z.enum(["http", "tcp"]).default("http"),
  path: pathSchema("path").optional(),
  expectedStatuses: expectedStatusesSchema.optional(),
  interval: durationSchema("5s", 1),
  timeout: durationSchema("2s", 1),
  healthyThreshold: z.int().min(1).default(2),
  unhealthyThreshold: z.int().min(1).default(3),
}).transform((check, context): HealthCheckConfig => {
  const timing = {
    intervalMs: check.interval,
    timeoutMs: check.timeout,
    healthyThreshold: check.healthyThreshold,
    unhealthyThreshold: check.unhealthyThreshold,
  };
  if (check.type === "http") {
    return {
      type: "http",
      path: check.path ?? "/",
      expectedStatuses: check.expectedStatuses ?? [{ min: 200, max: 399 }],
      ...timing,
    };
  }
  for (const key of ["path", "expectedStatuses"] as const) {
    if (check[key] !== undefined) {
      context.addIssue({
        code: "custom",
        path: [key],
        message: `${key} applies only to type: http, because a tcp check only connects`,
      });
    }
  }
  return { type: "tcp", ...timing };
});

const passiveSchema = strictObject({
  consecutiveFailures: z.int().min(1).default(5),
  baseEjection: durationSchema("30s", 1),
  maxEjection: durationSchema("5m", 1),
}).transform((passive, context): PassiveHealthConfig => {
  if (passive.maxEjection < passive.baseEjection) {
    context.addIssue({
      code: "custom",
      path: ["maxEjection"],
      message: `maxEjection (${passive.maxEjection}ms) must be at least baseEjection ` +
        `(${passive.baseEjection}ms)`,
    });
  }
  return {
    consecutiveFailures: passive.consecutiveFailures,
    baseEjectionMs: passive.baseEjection,
    maxEjectionMs: passive.maxEjection,
  };
});

/** A percentage from 0% to 100%, such as `20%` or `12.5%`. */
const PERCENT_PATTERN = /^(\d{1,3}(?:\.\d+)?)%$/;

const percentSchema = z.unknown().transform((value, context) => {
  const match = typeof value === "string" ? PERCENT_PATTERN.exec(value) : null;
  const percent = match === null ? NaN : Number(match[1]);
  if (!(percent <= 100)) {
    context.addIssue({
      code: "custom",
      message: `expected a percentage from 0% to 100% such as 20%, got ${describeValue(value)}`,
    });
    return z.NEVER;
  }
  return percent;
});

const retryStatusesSchema = z.array(z.int().min(500).max(599)).transform((statuses, context) => {
  statuses.forEach((status, index) => {
    if (statuses.indexOf(status) !== index) {
      const message = `status ${status} is listed twice`;
      context.addIssue({ code: "custom", path: [index], message });
    }
  });
  return statuses;
});

const retriesSchema = strictObject({
  attempts: z.int().min(1).default(3),
  budget: percentSchema.prefault("20%"),
  onStatuses: retryStatusesSchema.default([]),
}).transform((retries): RetryConfig => ({
  attempts: retries.attempts,
  budgetPercent: retries.budget,
  onStatuses: retries.onStatuses,
}));

const discoverySchema = strictObject({
  resolveInterval: durationSchema("30s", 1),
}).transform((discovery): DiscoveryConfig => ({ resolveIntervalMs: discovery.resolveInterval }));

const upstreamTlsSchema = strictObject({
  serverName: z
    .string()
    .regex(/^[A-Za-z0-9_.-]+$/, {
      error: (issue) =>
        `invalid serverName ${describeValue(issue.input)}: write a host name such as ` +
        `api.internal`,
    })
    .optional(),
  caFile: z.string().min(1).optional(),
  verify: z.boolean().default(true),
}).transform((tls): UpstreamTlsConfig => ({
  serverName: tls.serverName,
  caFile: tls.caFile,
  verify: tls.verify,
}));

const upstreamSchema = strictObject({
  peers: peersSchema,
  balancing: z.enum(BALANCING_ALGORITHMS).default("round_robin"),
  hashKey: hashKeySchema.optional(),
  healthCheck: section(healthCheckSchema.optional()),
  passive: section(passiveSchema.optional()),
  retries: section(retriesSchema.prefault({})),
  discovery: section(discoverySchema.optional()),
  pool: section(poolSchema.prefault({})),
  timeouts: section(upstreamTimeoutsSchema.prefault({})),
  tls: section(upstreamTlsSchema.prefault({})),
}).transform((upstream, context): Omit<UpstreamConfig, "name"> => {
  if (upstream.balancing === "consistent_hash" && upstream.hashKey === undefined) {
    context.addIssue({
      code: "custom",
      path: ["hashKey"],
      message: "balancing consistent_hash needs a hashKey, such as header:x-user, " +
        "cookie:session, client_address or path",
    });
  }
  if (upstream.balancing !== "consistent_hash" && upstream.hashKey !== undefined) {
    context.addIssue({
      code: "custom",
      path: ["hashKey"],
      message: `hashKey applies only to balancing: consistent_hash, and this upstream uses ` +
        `${upstream.balancing}`,
    });
  }
  return {
    peers: upstream.peers,
    balancing: upstream.balancing,
    hashKey: upstream.hashKey,
    healthCheck: upstream.healthCheck,
    passive: upstream.passive,
    retries: upstream.retries,
    discovery: upstream.discovery,
    pool: upstream.pool,
    timeouts: upstream.timeouts,
    tls: upstream.tls,
  };
});

const upstreamsSchema = z
  .record(nameSchema, upstreamSchema, {
    error: (issue) => {
      if (issue.code !== "invalid_type") {
        return undefined;
      }
      if (issue.input === undefined) {
        return "required section is missing: add a map of upstream names to upstreams";
      }
      return `expected a map of upstream names to upstreams, got ${describeValue(issue.input)}`;
    },
  })
  .transform((record, context) => {
    const upstreams = new Map<string, UpstreamConfig>();
    for (const [name, upstream] of Object.entries(record)) {
      upstreams.set(name, { name, ...upstream });
    }
    if (upstreams.size === 0) {
      context.addIssue({ code: "custom", message: "must define at least one upstream" });
    }
    return upstreams;
  });


/**
 * Limit fields with their defaults. The top-level `limits` section fills every default; a
 * listener's `limits` section overrides only the fields it names.
 */
const LIMIT_DEFAULTS = {
  maxRequestLineBytes: "8KiB",
  maxHeaderBytes: "64KiB",
  maxHeaderCount: 100,
  maxBodySize: "1GiB",
  maxChunkExtensionBytes: "16KiB",
  maxTrailerBytes: "16KiB",
  headerTimeout: "30s",
  keepAliveTimeout: "60s",
  bodyTimeout: "60s",
  maxRequestsPerConnection: 1000,
} as const;

function limitFields(withDefaults: boolean) {
  const size = (name: keyof typeof LIMIT_DEFAULTS, minimum: number) =>
    withDefaults
      ? sizeSchema(String(LIMIT_DEFAULTS[name]), minimum)
      : sizeValueSchema(minimum).optional();
  const duration = (name: keyof typeof LIMIT_DEFAULTS) =>
    withDefaults
      ? durationSchema(String(LIMIT_DEFAULTS[name]), 1)
      : durationValueSchema(1).optional();
  const count = (name: "maxHeaderCount" | "maxRequestsPerConnection") => {
    const schema = z.int().min(1);
    return withDefaults ? schema.default(LIMIT_DEFAULTS[name]) : schema.optional();
  };
  return {
    maxRequestLineBytes: size("maxRequestLineBytes", 1),
    maxHeaderBytes: size("maxHeaderBytes", 1),
    maxHeaderCount: count("maxHeaderCount"),
    maxBodySize: size("maxBodySize", 0),
    maxChunkExtensionBytes: size("maxChunkExtensionBytes", 1),
    maxTrailerBytes: size("maxTrailerBytes", 1),
    headerTimeout: duration("headerTimeout"),
    keepAliveTimeout: duration("keepAliveTimeout"),
    bodyTimeout: duration("bodyTimeout"),
    maxRequestsPerConnection: count("maxRequestsPerConnection"),
  };
}

type LimitFieldValues = { [K in keyof ReturnType<typeof limitFields>]?: number };

function toLimitsConfig(limits: LimitFieldValues): Partial<LimitsConfig> {
  const result: Partial<LimitsConfig> = {
    maxRequestLineBytes: limits.maxRequestLineBytes,
    maxHeaderBytes: limits.maxHeaderBytes,
    maxHeaderCount: limits.maxHeaderCount,
    maxBodyBytes: limits.maxBodySize,
    maxChunkExtensionBytes: limits.maxChunkExtensionBytes,
    maxTrailerBytes: limits.maxTrailerBytes,
    headerTimeoutMs: limits.headerTimeout,
    keepAliveTimeoutMs: limits.keepAliveTimeout,
    bodyTimeoutMs: limits.bodyTimeout,
    maxRequestsPerConnection: limits.maxRequestsPerConnection,
  };
  for (const key of Object.keys(result) as (keyof LimitsConfig)[]) {
    if (result[key] === undefined) delete result[key];
  }
  return result;
}

const limitsSchema = strictObject(limitFields(true)).transform(
  (limits) => toLimitsConfig(limits) as LimitsConfig,
);

const limitOverridesSchema = strictObject(limitFields(false)).transform(toLimitsConfig);

const listenerSchema = strictObject({
  name: nameSchema.optional(),
  address: listenAddressSchema,
  limits: section(limitOverridesSchema.optional()),
});

const loggingSchema = strictObject({
  access: z.boolean().default(true),
  format: z.enum(["json", "combined"]).default("json"),
  accessFile: z.string().min(1).optional(),
  echoRequestId: z.boolean().default(false),
  level: z.enum(["debug", "info", "warn", "error"]).default("info"),
}).transform((logging): LoggingConfig => ({
  access: logging.access,
  format: logging.format,
  accessFile: logging.accessFile,
  echoRequestId: logging.echoRequestId,
  level: logging.level,
}));

const shutdownSchema = strictObject({
  drainTimeout: durationSchema("30s", 0),
}).transform((shutdown): ShutdownConfig => ({ drainTimeoutMs: shutdown.drainTimeout }));

const reloadSchema = strictObject({
  watch: z.boolean().default(true),
  watchInterval: durationSchema("1s", 100),
}).transform((reload): ReloadConfig => ({ watch: reload.watch, watchIntervalMs: reload.watchInterval }));

const demoSchema = strictObject({
  address: listenAddressSchema,
}).transform((demo): DemoConfig => ({ ...demo.address }));

const adminSchema = strictObject({
  address: listenAddressSchema,
  tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, {
    message: "must be an environment variable name: letters, digits and _, not starting with a digit",
  }).optional(),
}).superRefine((admin, context) => {
  if (admin.tokenEnv === undefined && !isLoopbackHost(admin.address.hostname)) {
    context.addIssue({
      code: "custom",
      path: ["address"],
      message: `"${admin.address.address}" is not a loopback address: set tokenEnv to the name of ` +
        "an environment variable that contains a bearer token, or listen on 127.0.0.1",
    });
  }
}).transform((admin): AdminConfig => ({ ...admin.address, tokenEnv: admin.tokenEnv }));

/** The whole configuration file. Unknown keys anywhere are errors, so typos do not pass. */
export const configSchema = strictObject({
  listeners: z.array(listenerSchema).min(1),
  upstreams: upstreamsSchema,
  routes: z.array(routeSchema).min(1),
  limits: section(limitsSchema.prefault({})),
  logging: section(loggingSchema.prefault({})),
  shutdown: section(shutdownSchema.prefault({})),
  reload: section(reloadSchema.prefault({})),
  demo: section(demoSchema.optional()),
  admin: section(adminSchema.optional()),
}).transform((file): Config => ({
  listeners: file.listeners.map((listener, index) => ({
    name: listener.name ?? `listener-${index}`,
    ...listener.address,
    limits: { ...file.limits, ...listener.limits },
  })),
  upstreams: file.upstreams,
  routes: file.routes.map((route, index) => ({ ...route, name: route.name ?? `route-${index}` })),
  limits: file.limits,
  logging: file.logging,
  shutdown: file.shutdown,
  reload: file.reload,
  demo: file.demo,
  admin: file.admin,
}));

/**
 * Validates a parsed YAML document (or an equivalent object) and fills in defaults. Checks
 * across sections, such as a route naming an unknown upstream, run even when other parts are
 * invalid. A check within one object, such as path with pathPrefix or a repeated peer, runs only
 * once that object's own fields are valid, so fixing one problem can reveal another.
 */
export function validateConfig(input: unknown): ValidationResult {
  const result = configSchema.safeParse(input, { error: configErrorMap });
  const errors = result.success ? [] : problemsFromIssues(result.error.issues);
  errors.push(...findCrossReferenceProblems(input));
  if (!result.success || errors.length > 0) {
    return { ok: false, errors };
  }
  return { ok: true, config: result.data };
}
