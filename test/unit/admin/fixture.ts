// Shared records and snapshots of the admin tests.
import type { AccessRecord } from "../../../src/proxy/events.ts";
import type { ProxySnapshot } from "../../../src/proxy/snapshot.ts";

export function accessRecord(overrides: Partial<AccessRecord> = {}): AccessRecord {
  return {
    startTime: Date.parse("2026-01-01T00:00:00.000Z"),
    requestId: "r1",
    client: "127.0.0.1",
    method: "GET",
    target: "/",
    host: "example.test",
    status: 200,
    bytesIn: 0,
    bytesOut: 0,
    route: "web",
    upstream: "http://127.0.0.1:9000",
    upstreamTimeMs: 1,
    totalTimeMs: 2,
    error: undefined,
    ...overrides,
  };
}

export function emptySnapshot(overrides: Partial<ProxySnapshot> = {}): ProxySnapshot {
  return {
    draining: false,
    openConnections: 0,
    listeners: [],
    routes: [],
    upstreams: [],
    ...overrides,
  };
}

export const upstreamSnapshot: ProxySnapshot["upstreams"][number] = {
  name: "app",
  balancing: "round_robin",
  pool: { connected: 3, idle: 2, inUse: 1, connecting: 1, queued: 4, reused: 7, opened: 3 },
  peers: [{
    label: "http://10.0.0.1:80",
    weight: 1,
    inFlight: 5,
    health: {
      enabled: true,
      healthy: true,
      ejected: true,
      available: false,
      ejectionRemainingMs: 1000,
      ejections: 2,
      consecutiveRequestFailures: 0,
      consecutiveCheckSuccesses: 0,
      consecutiveCheckFailures: 0,
      lastCheckFailure: undefined,
    },
    pool: { connected: 3, idle: 2, connecting: 1, queued: 4 },
  }],
};
