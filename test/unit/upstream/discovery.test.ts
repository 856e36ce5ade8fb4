import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { MemoryNetwork } from "../../../src/net/memory.ts";
import { PeerDiscovery, type PeerSetChange } from "../../../src/upstream/discovery.ts";
import { RoundRobinBalancer } from "../../../src/upstream/round-robin.ts";

interface Spec {
  hostname: string;
  port: number;
  weight: number;
}

const API: Spec = { hostname: "api.internal", port: 8080, weight: 1 };
const STATIC: Spec = { hostname: "10.0.9.9", port: 80, weight: 2 };

function setup(specs: Spec[], network = new MemoryNetwork()) {
  const changes: PeerSetChange<Spec>[] = [];
  const errors: string[] = [];
  const discovery = new PeerDiscovery(network, {
    specs,
    resolveIntervalMs: 10,
    onChange: (change) => changes.push(change),
    onError: (error, spec) => errors.push(`${spec.hostname}: ${error.message}`),
  });
  return { changes, discovery, errors, network };
}

function addresses(change: { peers: readonly { address: string }[] } | undefined): string[] {
  return (change?.peers ?? []).map((peer) => peer.address);
}

describe("PeerDiscovery", () => {
  test("starts with the names unresolved", () => {
    const { discovery } = setup([API, STATIC]);
    assert.deepEqual(addresses(discovery), ["api.internal", "10.0.9.9"]);
    assert.equal(discovery.peers[0].spec, API);
  });

  test("first refresh reports the addresses", async () => {
    const { changes, discovery, network } = setup([API, STATIC]);
    network.setHost("api.internal", ["10.0.0.2", "10.0.0.1"]);
    await discovery.refresh();
    assert.equal(changes.length, 1);
    assert.deepEqual(addresses(changes[0]), ["10.0.0.1", "10.0.0.2", "10.0.9.9"]);
    assert.deepEqual(addresses({ peers: changes[0].added }), ["10.0.0.1", "10.0.0.2"]);
    assert.deepEqual(addresses({ peers: changes[0].removed }), ["api.internal"]);
    assert.deepEqual(addresses(discovery), ["10.0.0.1", "10.0.0.2", "10.0.9.9"]);
  });

  test("reports added and removed addresses", async () => {
    const { changes, discovery, network } = setup([API]);
    network.setHost("api.internal", ["10.0.0.1", "10.0.0.2"]);
    await discovery.refresh();
    const kept = discovery.peers[1];

    network.setHost("api.internal", ["10.0.0.2", "10.0.0.3"]);
    await discovery.refresh();
    const change = changes[1];
    assert.deepEqual(addresses({ peers: change.added }), ["10.0.0.3"]);
    assert.deepEqual(addresses({ peers: change.removed }), ["10.0.0.1"]);
    assert.equal(change.peers[0], kept, "a peer whose address stays is the same object");
  });

  test("no change reports nothing", async () => {
    const { changes, discovery, network } = setup([API]);
    network.setHost("api.internal", ["10.0.0.1"]);
    await discovery.refresh();
    network.setHost("api.internal", ["10.0.0.1"]);
    await discovery.refresh();
    await discovery.refresh();
    assert.equal(changes.length, 1);
  });

  test("a failed resolution keeps the last good set", async () => {
    const { changes, discovery, errors, network } = setup([API, STATIC]);
    network.setHost("api.internal", ["10.0.0.1"]);
    await discovery.refresh();
    const before = discovery.peers;

    network.removeHost("api.internal");
    await discovery.refresh();
    assert.equal(changes.length, 1);
    assert.deepEqual(discovery.peers, before);
    assert.deepEqual(errors, ["api.internal: host not found: api.internal"]);

    network.setHost("api.internal", []);
    await discovery.refresh();
    assert.deepEqual(addresses(discovery), ["10.0.0.1", "10.0.9.9"]);
    assert.equal(errors.length, 2);
  });

  test("a name that never resolves keeps its name", async () => {
    const { changes, discovery, errors } = setup([API]);
    await discovery.refresh();
    assert.deepEqual(addresses(discovery), ["api.internal"]);
    assert.equal(changes.length, 0);
    assert.equal(errors.length, 1);
  });

  test("same name on two ports stays apart", async () => {
    const other = { ...API, port: 9090 };
    const { discovery, network } = setup([API, other]);
    network.setHost("api.internal", ["10.0.0.1"]);
    await discovery.refresh();
    assert.equal(discovery.peers.length, 2);
    assert.notEqual(discovery.peers[0].key, discovery.peers[1].key);
    assert.equal(discovery.peers[1].spec.port, 9090);
  });

  test("concurrent refreshes share one round", async () => {
    const { changes, discovery, network } = setup([API]);
    network.setHost("api.internal", ["10.0.0.1"]);
    await Promise.all([discovery.refresh(), discovery.refresh()]);
    assert.equal(changes.length, 1);
  });

  test("interval rounds follow the host table", async () => {
    const { changes, discovery, network } = setup([API]);
    network.setHost("api.internal", ["10.0.0.1"]);
    discovery.start();
    const deadline = Date.now() + 2_000;
    while (changes.length < 1 && Date.now() < deadline) await sleep(5);
    network.setHost("api.internal", ["10.0.0.1", "10.0.0.2"]);
    while (changes.length < 2 && Date.now() < deadline) await sleep(5);
    await discovery.stop();
    assert.deepEqual(changes.map((change) => addresses(change)), [
      ["10.0.0.1"],
      ["10.0.0.1", "10.0.0.2"],
    ]);
    network.setHost("api.internal", ["10.0.0.3"]);
    await sleep(40);
    assert.equal(changes.length, 2, "no round after stop");
  });

  test("a balancer rebuilt from a change keeps working", async () => {
    const { changes, discovery, network } = setup([API]);
    network.setHost("api.internal", ["10.0.0.1", "10.0.0.2"]);
    await discovery.refresh();
    const toPeer = (peer: (typeof discovery.peers)[number]) => ({
      ...peer,
      weight: peer.spec.weight,
    });
    const balancer = new RoundRobinBalancer(discovery.peers.map(toPeer));
    const inFlight = balancer.candidates()[0];

    network.setHost("api.internal", ["10.0.0.3"]);
    await discovery.refresh();
    balancer.setPeers(changes[1].peers.map(toPeer));
    assert.deepEqual(balancer.candidates().map((peer) => peer.address), ["10.0.0.3"]);
    assert.equal(inFlight.address, "10.0.0.1", "a request in flight keeps its peer");
  });

  test("rejects bad options", () => {
    const network = new MemoryNetwork();
    const onChange = () => {};
    assert.throws(
      () => new PeerDiscovery(network, { specs: [API], resolveIntervalMs: 0, onChange }),
      /at least 1 ms/,
    );
    assert.throws(
      () => new PeerDiscovery(network, { specs: [], resolveIntervalMs: 10, onChange }),
      /at least one peer/,
    );
  });
});

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
