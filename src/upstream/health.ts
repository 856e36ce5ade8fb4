/**
 * Health of the peers of one upstream, from three sources kept apart:
 * - The operator's enable or disable, which wins over everything else.
 * - Active checks, which flip a peer between healthy and unhealthy only after a number of
 *   consecutive results the other way.
 * - Passive ejection, which takes a peer out of rotation for a while after consecutive
 *   failed requests, with an exponential back-off.
 *
 * A peer is available when it is enabled, healthy and not ejected. The registry reports every
 * change through `onChange` and never logs.
 */

export interface PassiveHealthOptions {
  /** Consecutive failed requests (connect failures or 5xx responses) that eject a peer. */
  consecutiveFailures: number;
  /** Length of the first ejection. Each further ejection in a row doubles it. */
  baseEjectionMs: number;
  /** Upper bound on the length of an ejection. */
  maxEjectionMs: number;
}

export interface HealthRegistryOptions<P> {
  /** Consecutive passing checks that make an unhealthy peer healthy. Default 1. */
  healthyThreshold?: number;
  /** Consecutive failing checks that make a healthy peer unhealthy. Default 1. */
  unhealthyThreshold?: number;
  /** Passive ejection settings. Without them, failed requests never eject a peer. */
  passive?: PassiveHealthOptions;
  /** Receives every change of a peer's health. It must not throw. */
  onChange?: (event: HealthEvent<P>) => void;
  /** Monotonic clock in milliseconds. Default `performance.now`. Tests pass a fake one. */
  now?: () => number;
}

/** A change of one peer's health, as the registry reports it. */
export type HealthEvent<P> =
  | { readonly kind: "enabled" | "disabled"; readonly peer: P }
  /** Active checks failed `unhealthyThreshold` times in a row. `detail` is the last failure. */
  | { readonly kind: "unhealthy"; readonly peer: P; readonly detail: string }
  /** Active checks passed `healthyThreshold` times in a row. */
  | { readonly kind: "healthy"; readonly peer: P }
  /** Requests failed `consecutiveFailures` times in a row, or the trial request failed. */
  | {
    readonly kind: "ejected";
    readonly peer: P;
    readonly durationMs: number;
    /** Ejections in a row, counting this one. The back-off doubles with each. */
    readonly ejections: number;
    readonly detail: string;
  }
  /** The ejection time passed. The next request is a trial: a failure ejects the peer again. */
  | { readonly kind: "ejection_ended"; readonly peer: P };

/** A peer's health at one moment, cheap to take for status pages and metrics. */
export interface PeerHealthStats {
  enabled: boolean;
  /** Verdict of active checks, true when none run. */
  healthy: boolean;
  ejected: boolean;
  /** Enabled, healthy and not ejected. */
  available: boolean;
  /** Time left of the current ejection, or 0 when not ejected. */
  ejectionRemainingMs: number;
  /** Ejections since start. */
  ejections: number;
  /** Failed requests in a row, as passive ejection counts them. */
  consecutiveRequestFailures: number;
  /** Passing checks in a row. */
  consecutiveCheckSuccesses: number;
  /** Failing checks in a row. */
  consecutiveCheckFailures: number;
  /** Detail of the last failed check, such as `status 500`. */
  lastCheckFailure: string | undefined;
}

/**
 * Doublings of the base ejection after which the back-off stops growing. From 1 ms, 31
 * doublings pass 2^31 - 1 ms, the longest configurable duration, so the cap applies by then.
 */
const MAX_EJECTION_DOUBLINGS = 31;

interface PeerState {
  enabled: boolean;
  healthy: boolean;
  checkSuccesses: number;
  checkFailures: number;
  lastCheckFailure: string | undefined;
  requestFailures: number;
  /** Clock time at which the current ejection ends, or undefined when not ejected. */
  ejectedUntil: number | undefined;
  /** Ejections in a row without a successful request between them. */
  ejectionStreak: number;
  totalEjections: number;
  /** True after an ejection ended, until the next request result. */
  onTrial: boolean;
}

/** Health state of a set of peers, which it identifies by object identity. */
export class HealthRegistry<P> {
  readonly #healthyThreshold: number;
  readonly #unhealthyThreshold: number;
  readonly #passive: PassiveHealthOptions | undefined;
  readonly #onChange: (event: HealthEvent<P>) => void;
  readonly #now: () => number;
  #states = new Map<P, PeerState>();

  constructor(peers: readonly P[], options: HealthRegistryOptions<P> = {}) {
    this.#healthyThreshold = countOption("healthyThreshold", options.healthyThreshold);
    this.#unhealthyThreshold = countOption("unhealthyThreshold", options.unhealthyThreshold);
    const passive = options.passive;
    if (passive !== undefined) {
      countOption("passive.consecutiveFailures", passive.consecutiveFailures);
      durationOption("passive.baseEjectionMs", passive.baseEjectionMs);
      durationOption("passive.maxEjectionMs", passive.maxEjectionMs);
      if (passive.maxEjectionMs < passive.baseEjectionMs) {
        throw new RangeError(
          `passive.maxEjectionMs (${passive.maxEjectionMs}) must be at least ` +
            `passive.baseEjectionMs (${passive.baseEjectionMs})`,
        );
      }
    }
    this.#passive = passive;
    this.#onChange = options.onChange ?? (() => {});
    this.#now = options.now ?? (() => performance.now());
    this.setPeers(peers);
  }

  /** The peers the registry tracks, in the order last given. */
  get peers(): P[] {
    return [...this.#states.keys()];
  }

  /**
   * Replaces the tracked peers. Peers in both lists keep their state, and new peers start
   * enabled and healthy. Dropped peers are forgotten, and later results for them are ignored.
   */
  setPeers(peers: readonly P[]): void {
    const states = new Map<P, PeerState>();
    for (const peer of peers) {
      states.set(peer, this.#states.get(peer) ?? newState());
    }
    this.#states = states;
  }

  /**
   * Returns whether requests may go to `peer`: it is tracked, enabled, healthy and not ejected.
   * An ejection that has run out ends here, which reports `ejection_ended`.
   */
  isAvailable(peer: P): boolean {
    const state = this.#states.get(peer);
    if (state === undefined) {
      return false;
    }
    this.#endEjectionIfDue(peer, state);
    return state.enabled && state.healthy && state.ejectedUntil === undefined;
  }

  /** Records the operator's decision. A disabled peer gets no requests, whatever its health. */
  setEnabled(peer: P, enabled: boolean): void {
    const state = this.#states.get(peer);
    if (state === undefined || state.enabled === enabled) {
      return;
    }
    state.enabled = enabled;
    this.#onChange({ kind: enabled ? "enabled" : "disabled", peer });
  }

  /** Records the result of one active check. */
  recordCheck(peer: P, passed: boolean, detail = ""): void {
    const state = this.#states.get(peer);
    if (state === undefined) {
      return;
    }
    if (passed) {
      state.checkSuccesses += 1;
      state.checkFailures = 0;
      if (!state.healthy && state.checkSuccesses >= this.#healthyThreshold) {
        state.healthy = true;
        this.#onChange({ kind: "healthy", peer });
      }
      return;
    }
    state.checkFailures += 1;
    state.checkSuccesses = 0;
    state.lastCheckFailure = detail;
    if (state.healthy && state.checkFailures >= this.#unhealthyThreshold) {
      state.healthy = false;
      this.#onChange({ kind: "unhealthy", peer, detail });
    }
  }

  /** Records a request that got a response below 500 from `peer`. */
  recordRequestSuccess(peer: P): void {
    const state = this.#states.get(peer);
    if (state === undefined) {
      return;
    }
    this.#endEjectionIfDue(peer, state);
    state.requestFailures = 0;
    if (state.onTrial) {
      state.onTrial = false;
      state.ejectionStreak = 0;
    }
  }

  /**
   * Records a request to `peer` that failed to connect or got a 5xx response. Results that
   * arrive while the peer is ejected are ignored: they come from requests sent before it.
   */
  recordRequestFailure(peer: P, detail: string): void {
    const state = this.#states.get(peer);
    const passive = this.#passive;
    if (state === undefined || passive === undefined) {
      return;
    }
    this.#endEjectionIfDue(peer, state);
    if (state.ejectedUntil !== undefined) {
      return;
    }
    state.requestFailures += 1;
    if (state.onTrial || state.requestFailures >= passive.consecutiveFailures) {
      this.#eject(peer, state, passive, detail);
    }
  }

  /** Takes a snapshot of `peer`'s health, or undefined when the peer is not tracked. */
  stats(peer: P): PeerHealthStats | undefined {
    const state = this.#states.get(peer);
    if (state === undefined) {
      return undefined;
    }
    this.#endEjectionIfDue(peer, state);
    const ejectedUntil = state.ejectedUntil;
    const ejected = ejectedUntil !== undefined;
    return {
      enabled: state.enabled,
      healthy: state.healthy,
      ejected,
      available: state.enabled && state.healthy && !ejected,
      ejectionRemainingMs: ejected ? Math.max(0, ejectedUntil - this.#now()) : 0,
      ejections: state.totalEjections,
      consecutiveRequestFailures: state.requestFailures,
      consecutiveCheckSuccesses: state.checkSuccesses,
      consecutiveCheckFailures: state.checkFailures,
      lastCheckFailure: state.lastCheckFailure,
    };
  }

  #eject(peer: P, state: PeerState, passive: PassiveHealthOptions, detail: string): void {
    state.ejectionStreak += 1;
    state.totalEjections += 1;
    state.requestFailures = 0;
    state.onTrial = false;
    const doublings = Math.min(state.ejectionStreak - 1, MAX_EJECTION_DOUBLINGS);
    const durationMs = Math.min(passive.baseEjectionMs * 2 ** doublings, passive.maxEjectionMs);
    state.ejectedUntil = this.#now() + durationMs;
    this.#onChange({ kind: "ejected", peer, durationMs, ejections: state.ejectionStreak, detail });
  }

  #endEjectionIfDue(peer: P, state: PeerState): void {
    if (state.ejectedUntil === undefined || this.#now() < state.ejectedUntil) {
      return;
    }
    state.ejectedUntil = undefined;
    state.onTrial = true;
    this.#onChange({ kind: "ejection_ended", peer });
  }
}

function newState(): PeerState {
  return {
    enabled: true,
    healthy: true,
    checkSuccesses: 0,
    checkFailures: 0,
    lastCheckFailure: undefined,
    requestFailures: 0,
    ejectedUntil: undefined,
    ejectionStreak: 0,
    totalEjections: 0,
    onTrial: false,
  };
}

function countOption(name: string, value: number | undefined): number {
  const count = value ?? 1;
  if (!Number.isSafeInteger(count) || count < 1) {
    throw new RangeError(`${name} must be a whole number of 1 or more, got ${value}`);
  }
  return count;
}

function durationOption(name: string, value: number): void {
  if (!Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a duration of 0 ms or more, got ${value}`);
  }
}
