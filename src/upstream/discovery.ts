import type { Network } from "../net/types.ts";

/** A configured peer whose host name discovery resolves; other fields pass through. */
export interface DiscoverySpec {
  readonly hostname: string;
}

/** One address of a configured peer. */
export interface DiscoveredPeer<S> {
  readonly spec: S;
  /** IP address to connect to, or the host name itself until the name first resolves. */
  readonly address: string;
  /** Identity within the set: the spec's position and the address. */
  readonly key: string;
}

/** A new peer set, with what changed since the last one. */
export interface PeerSetChange<S> {
  readonly peers: readonly DiscoveredPeer<S>[];
  readonly added: readonly DiscoveredPeer<S>[];
  readonly removed: readonly DiscoveredPeer<S>[];
}

export interface PeerDiscoveryOptions<S> {
  /** Configured peers, in order. IP literals resolve to themselves. */
  specs: readonly S[];
  /** Time from the end of one resolution round to the start of the next. */
  resolveIntervalMs: number;
  /** Receives each new peer set; it is not called when a round changes nothing. */
  onChange: (change: PeerSetChange<S>) => void;
  /** Receives each failed resolution. The spec keeps its last good addresses. */
  onError?: (error: Error, spec: S) => void;
}

/**
 * Re-resolves the host names of configured peers on an interval and reports the resulting set
 * of peers, one per address. A peer whose address stays keeps the same `DiscoveredPeer` object
 * across rounds, so state keyed by it (health, requests in flight) carries over. A failed or
 * empty resolution keeps that spec's last good addresses. Until a name first resolves, its spec
 * has one peer whose address is the name itself, so connects resolve it as without discovery.
 */
export class PeerDiscovery<S extends DiscoverySpec> {
  readonly #network: Network;
  readonly #specs: readonly S[];
  readonly #intervalMs: number;
  readonly #onChange: (change: PeerSetChange<S>) => void;
  readonly #onError: (error: Error, spec: S) => void;
  /** The current peers of each spec, by spec position. */
  #bySpec: DiscoveredPeer<S>[][];
  #peers: DiscoveredPeer<S>[];
  #running = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #refreshing: Promise<void> | undefined;

  constructor(network: Network, options: PeerDiscoveryOptions<S>) {
    if (!(options.resolveIntervalMs >= 1)) {
      throw new RangeError(
        `resolveIntervalMs must be at least 1 ms, got ${options.resolveIntervalMs}`,
      );
    }
    if (options.specs.length === 0) {
      throw new RangeError("discovery needs at least one peer to resolve");
    }
    this.#network = network;
    this.#specs = options.specs;
    this.#intervalMs = options.resolveIntervalMs;
    this.#onChange = options.onChange;
    this.#onError = options.onError ?? (() => {});
    this.#bySpec = options.specs.map((spec, index) => [discovered(spec, index, spec.hostname)]);
    this.#peers = this.#bySpec.flat();
  }

  /** The current peer set: specs in order, each spec's addresses sorted. */
  get peers(): readonly DiscoveredPeer<S>[] {
    return this.#peers;
  }

  /** Starts the rounds; the first runs at once. Does nothing when already running. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    void this.#loop();
  }

  /** Stops scheduling rounds. Resolves once a round under way has ended. */
  async stop(): Promise<void> {
    this.#running = false;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#refreshing;
  }

  /**
   * Resolves every spec now and calls `onChange` when the set changed. A round already under
   * way is joined rather than repeated.
   */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#resolveAll().finally(() => {
      this.#refreshing = undefined;
    });
    return this.#refreshing;
  }

  async #loop(): Promise<void> {
    try {
      await this.refresh();
    } finally {
      if (this.#running) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          void this.#loop();
        }, this.#intervalMs);
      }
    }
  }

  async #resolveAll(): Promise<void> {
    const results = await Promise.allSettled(
      this.#specs.map((spec) => this.#network.resolve(spec.hostname)),
    );

    const previous = this.#peers;
    const previousByKey = new Map(previous.map((peer) => [peer.key, peer]));
    const bySpec = results.map((result, index) => {
      const spec = this.#specs[index];
      if (result.status === "rejected") {
        this.#onError(toError(result.reason), spec);
        return this.#bySpec[index];
      }
      if (result.value.length === 0) {
        this.#onError(new Error(`${spec.hostname} resolved to no address`), spec);
        return this.#bySpec[index];
      }
      const addresses = [...new Set(result.value)].sort();
      return addresses.map((address) => {
        const fresh = discovered(spec, index, address);
        return previousByKey.get(fresh.key) ?? fresh;
      });
    });

    const peers = bySpec.flat();
    const currentKeys = new Set(peers.map((peer) => peer.key));
    const added = peers.filter((peer) => !previousByKey.has(peer.key));
    const removed = previous.filter((peer) => !currentKeys.has(peer.key));
    this.#bySpec = bySpec;
    this.#peers = peers;
    if (added.length > 0 || removed.length > 0) {
      this.#onChange({ peers, added, removed });
    }
  }
}

function discovered<S>(spec: S, index: number, address: string): DiscoveredPeer<S> {
  return { spec, address, key: `${index}|${address}` };
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}
