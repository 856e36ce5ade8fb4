import { ConsistentHashBalancer } from "../../../src/upstream/consistent-hash.ts";
import { LeastRequestsBalancer } from "../../../src/upstream/least-requests.ts";
import { RandomTwoBalancer } from "../../../src/upstream/random-two.ts";
import { RoundRobinBalancer } from "../../../src/upstream/round-robin.ts";
import { runBalancerContract } from "./balancer-contract.ts";
import { seededRandom } from "./seeded-random.ts";

runBalancerContract("round robin", (peers) => new RoundRobinBalancer(peers));

runBalancerContract("least requests", (peers) => new LeastRequestsBalancer(peers));

runBalancerContract(
  "random two",
  (peers) => new RandomTwoBalancer(peers, { random: seededRandom(0x9e3779b9) }),
);

runBalancerContract(
  "consistent hash",
  (peers) =>
    new ConsistentHashBalancer(peers, {
      peerKey: (peer) => peer.name,
      random: seededRandom(0x85ebca6b),
    }),
);
