import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { ConsistentHashBalancer } from "../../../src/upstream/consistent-hash.ts";
import type { HashKeyRequest } from "../../../src/upstream/hash-key.ts";
import { HealthRegistry } from "../../../src/upstream/health.ts";
import { LeastRequestsBalancer } from "../../../src/upstream/least-requests.ts";
import { RoundRobinBalancer } from "../../../src/upstream/round-robin.ts";
import { PeerSelector } from "../../../src/upstream/selector.ts";
import { peer, type TestPeer } from "./balancer-contract.ts";

function request(headers: Record<string, string> = {}): HashKeyRequest {
  return { header: (name) => headers[name], path: "/", clientAddress: "192.0.2.1" };
}

const PASSIVE = { consecutiveFailures: 2, baseEjectionMs: 60_000, maxEjectionMs: 60_000 };

function roundRobinSelector(peers: TestPeer[]) {
  const health = new HealthRegistry(peers, { passive: PASSIVE });
  return {
    health,
    selector: new PeerSelector({ balancer: new RoundRobinBalancer(peers), health }),
  };
}

describe("PeerSelector", () => {
  test("drops unavailable peers", () => {
    const peers = [peer("a"), peer("b"), peer("c")];
    const { health, selector } = roundRobinSelector(peers);
    health.setEnabled(peers[1], false);
    for (let i = 0; i < 6; i++) {
      const names = selector.candidates(request()).map((p) => p.name);
      assert.deepEqual([...names].sort(), ["a", "c"]);
    }
  });

  test("no available peer gives an empty list", () => {
    const peers = [peer("a")];
    const { health, selector } = roundRobinSelector(peers);
    health.recordCheck(peers[0], false, "down");
    assert.deepEqual(selector.candidates(request()), []);
  });

  test("counts attempts in flight", () => {
    const [a, b] = [peer("a"), peer("b")];
    const health = new HealthRegistry([a, b]);
    const selector = new PeerSelector({ balancer: new LeastRequestsBalancer([a, b]), health });
    const first = selector.begin(a);
    selector.begin(a);
    assert.equal(selector.inFlight(a), 2);
    assert.equal(selector.candidates(request())[0], b, "the idle peer comes first");
    first.end();
    first.end();
    assert.equal(selector.inFlight(a), 1, "a second end does not count");
  });

  test("5xx responses and failures eject", () => {
    const peers = [peer("a"), peer("b")];
    const { health, selector } = roundRobinSelector(peers);
    const attempt = selector.begin(peers[0]);
    attempt.respond(503);
    attempt.respond(200);
    attempt.end();
    assert.equal(
      health.stats(peers[0])?.consecutiveRequestFailures,
      1,
      "only the first report counts",
    );
    const second = selector.begin(peers[0]);
    second.fail("connect failed (ECONNREFUSED)");
    second.end();
    assert.deepEqual(selector.candidates(request()).map((p) => p.name), ["b"]);
  });

  test("responses below 500 count as success", () => {
    const peers = [peer("a")];
    const { health, selector } = roundRobinSelector(peers);
    selector.begin(peers[0]).fail("timed out");
    selector.begin(peers[0]).respond(404);
    assert.equal(health.stats(peers[0])?.consecutiveRequestFailures, 0);
  });

  test("hash key comes from the request", () => {
    const peers = Array.from({ length: 5 }, (_, i) => peer(`p${i}`));
    const health = new HealthRegistry(peers);
    const balancer = new ConsistentHashBalancer(peers, { peerKey: (p) => p.name });
    const selector = new PeerSelector({
      balancer,
      health,
      hashKey: { kind: "header", name: "x-user" },
    });
    for (let user = 0; user < 20; user++) {
      const expected = balancer.candidates({ key: `user-${user}` });
      const picked = selector.candidates(request({ "x-user": `user-${user}` }));
      assert.deepEqual(picked, expected, `user-${user}`);
    }
  });

  test("setPeers updates balancer and health", () => {
    const peers = [peer("a"), peer("b")];
    const { health, selector } = roundRobinSelector(peers);
    const attempt = selector.begin(peers[0]);
    const c = peer("c");
    selector.setPeers([peers[1], c]);
    assert.deepEqual(health.peers, [peers[1], c]);
    assert.deepEqual(selector.candidates(request()).map((p) => p.name).sort(), ["b", "c"]);
    attempt.respond(502);
    attempt.end();
    assert.equal(selector.inFlight(peers[0]), 0, "an attempt on a removed peer still ends");
  });
});
