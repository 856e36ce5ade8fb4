import type { Balancer, WeightedPeer } from "./balancer.ts";
import { extractHashKey, type HashKeyRequest, type HashKeySource } from "./hash-key.ts";
import type { HealthRegistry } from "./health.ts";

export interface PeerSelectorOptions<P extends WeightedPeer> {
  balancer: Balancer<P>;
  health: HealthRegistry<P>;
  /** Source of a request's hash key, which only consistent hashing reads. */
  hashKey?: HashKeySource;
}

/**
 * One attempt to send a request to a peer, from the moment it is chosen until its exchange
 * ends. It counts as in flight for the load-aware balancers until `end`, and its first
 * reported outcome feeds passive health.
 */
export interface PeerAttempt<P> {
  readonly peer: P;
  /**
   * Reports a failure before any response head: the connect failed or timed out, or the
   * connection closed or timed out before the head. Counts against the peer.
   */
  fail(detail: string): void;
  /** Reports the response head's status. A status of 500 or more counts against the peer. */
  respond(status: number): void;
  /** Ends the attempt. It may be called more than once, and only the first call counts. */
  end(): void;
}

/**
 * Chooses peers for requests to one upstream: the balancer orders them, the health registry
 * drops those that must not get requests, and the selector counts requests in flight per peer
 * for the load-aware balancers.
 */
export class PeerSelector<P extends WeightedPeer> {
  readonly balancer: Balancer<P>;
  readonly health: HealthRegistry<P>;
  readonly #hashKey: HashKeySource | undefined;
  readonly #inFlight = new Map<P, number>();
  readonly #countInFlight = (peer: P) => this.#inFlight.get(peer) ?? 0;

  constructor(options: PeerSelectorOptions<P>) {
    this.balancer = options.balancer;
    this.health = options.health;
    this.#hashKey = options.hashKey;
  }

  /**
   * Returns the peers to try for `request`, best first, without peers that are disabled,
   * unhealthy or ejected. An empty list means no peer may take the request (503).
   */
  candidates(request: HashKeyRequest): P[] {
    const key = this.#hashKey === undefined ? undefined : extractHashKey(this.#hashKey, request);
    const ordered = this.balancer.candidates({ key, inFlight: this.#countInFlight });
    return ordered.filter((peer) => this.health.isAvailable(peer));
  }

  /** Starts an attempt on `peer`, which counts as in flight until the attempt ends. */
  begin(peer: P): PeerAttempt<P> {
    this.#inFlight.set(peer, this.#countInFlight(peer) + 1);
    let reported = false;
    let ended = false;
    return {
      peer,
      fail: (detail) => {
        if (reported) return;
        reported = true;
        this.health.recordRequestFailure(peer, detail);
      },
      respond: (status) => {
        if (reported) return;
        reported = true;
        if (status >= 500) {
          this.health.recordRequestFailure(peer, `status ${status}`);
        } else {
          this.health.recordRequestSuccess(peer);
        }
      },
      end: () => {
        if (ended) return;
        ended = true;
        const remaining = this.#countInFlight(peer) - 1;
        if (remaining > 0) {
          this.#inFlight.set(peer, remaining);
        } else {
          this.#inFlight.delete(peer);
        }
      },
    };
  }

  /** Requests in flight to `peer`. */
  inFlight(peer: P): number {
    return this.#countInFlight(peer);
  }

  /**
   * Replaces the peers, such as after service discovery, in the balancer and the health
   * registry together. Attempts already begun go on and end normally.
   */
  setPeers(peers: readonly P[]): void {
    this.balancer.setPeers(peers);
    this.health.setPeers(peers);
  }
}
