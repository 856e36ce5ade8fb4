export interface RetryBudgetOptions {
  /** Retries allowed in flight, as a percentage of the requests in flight. */
  budgetPercent: number;
  /** Retries allowed in flight whatever the percentage gives, so a quiet upstream can retry. */
  minConcurrentRetries?: number;
}

/** Default of `minConcurrentRetries`, so that a quiet upstream can still retry a few requests. */
export const DEFAULT_MIN_CONCURRENT_RETRIES = 3;

/** Counts of a retry budget, cheap to take. */
export interface RetryBudgetStats {
  activeRequests: number;
  activeRetries: number;
  /** Retries the budget allows in flight right now. */
  allowedRetries: number;
  /** Retries turned down since start. */
  rejectedRetries: number;
}

/**
 * Limits retries to an upstream to a share of its traffic, so that retries cannot multiply
 * the load on an upstream that is already failing. A retry may start while the retries in
 * flight stay below `budgetPercent` of the requests in flight, or below `minConcurrentRetries`,
 * whichever is larger.
 */
export class RetryBudget {
  readonly budgetPercent: number;
  readonly minConcurrentRetries: number;
  #activeRequests = 0;
  #activeRetries = 0;
  #rejectedRetries = 0;

  constructor(options: RetryBudgetOptions) {
    const { budgetPercent } = options;
    const minimum = options.minConcurrentRetries ?? DEFAULT_MIN_CONCURRENT_RETRIES;
    if (!(budgetPercent >= 0 && budgetPercent <= 100)) {
      throw new RangeError(`budgetPercent must be from 0 to 100, got ${budgetPercent}`);
    }
    if (!Number.isSafeInteger(minimum) || minimum < 0) {
      throw new RangeError(
        `minConcurrentRetries must be a whole number of 0 or more, got ${minimum}`,
      );
    }
    this.budgetPercent = budgetPercent;
    this.minConcurrentRetries = minimum;
  }

  /** Counts a request as in flight until `requestFinished`. */
  requestStarted(): void {
    this.#activeRequests += 1;
  }

  requestFinished(): void {
    this.#activeRequests = Math.max(0, this.#activeRequests - 1);
  }

  /**
   * Returns true and counts a retry in flight when the budget allows one. The caller then calls
   * `retryFinished` when that attempt ends. Returns false, and counts a rejection, otherwise.
   */
  tryStartRetry(): boolean {
    if (this.#activeRetries < this.#allowedRetries()) {
      this.#activeRetries += 1;
      return true;
    }
    this.#rejectedRetries += 1;
    return false;
  }

  retryFinished(): void {
    this.#activeRetries = Math.max(0, this.#activeRetries - 1);
  }

  stats(): RetryBudgetStats {
    return {
      activeRequests: this.#activeRequests,
      activeRetries: this.#activeRetries,
      allowedRetries: this.#allowedRetries(),
      rejectedRetries: this.#rejectedRetries,
    };
  }

  #allowedRetries(): number {
    const share = Math.floor((this.#activeRequests * this.budgetPercent) / 100);
    return Math.max(share, this.minConcurrentRetries);
  }
}
