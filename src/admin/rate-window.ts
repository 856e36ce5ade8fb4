/**
 * Counts events of a few kinds in one-second slots over a sliding window, for per-second rates
 * over the last minute. Recording costs a clock read and an addition.
 */
export class RateWindow {
  /** One row of `seconds` slots per kind. */
  readonly #slots: Float64Array;
  readonly #seconds: number;
  readonly #kinds: number;
  /** The latest second that has a slot, in seconds since the epoch. */
  #latest: number;
  readonly #startedSecond: number;
  readonly #now: () => number;

  /** `now` returns milliseconds, as `Date.now` does. */
  constructor(kinds: number, seconds = 60, now: () => number = Date.now) {
    this.#kinds = kinds;
    this.#seconds = seconds;
    this.#slots = new Float64Array(kinds * seconds);
    this.#now = now;
    this.#startedSecond = Math.floor(now() / 1000);
    this.#latest = this.#startedSecond;
  }

  /** Counts one event of `kind`, an index from 0. */
  record(kind: number): void {
    const second = this.#advance();
    this.#slots[kind * this.#seconds + (second % this.#seconds)]++;
  }

  /**
   * Returns the events per second of each kind and the number of seconds they cover. That is the
   * window, or the time since the window was created when it is shorter, so that a new process
   * does not report a rate diluted by time it did not run.
   */
  rates(): { seconds: number; perSecond: number[] } {
    const second = this.#advance();
    const seconds = Math.min(this.#seconds, second - this.#startedSecond + 1);
    const perSecond: number[] = [];
    for (let kind = 0; kind < this.#kinds; kind++) {
      let total = 0;
      for (let slot = 0; slot < this.#seconds; slot++) total += this.#slots[kind * this.#seconds + slot];
      perSecond.push(total / seconds);
    }
    return { seconds, perSecond };
  }

  /** Clears the slots of the seconds that passed since the last call and returns the latest second. */
  #advance(): number {
    const second = Math.floor(this.#now() / 1000);
    if (second > this.#latest) {
      const passed = Math.min(second - this.#latest, this.#seconds);
      for (let i = 1; i <= passed; i++) {
        const slot = (this.#latest + i) % this.#seconds;
        for (let kind = 0; kind < this.#kinds; kind++) this.#slots[kind * this.#seconds + slot] = 0;
      }
      this.#latest = second;
    }
    return this.#latest;
  }
}
