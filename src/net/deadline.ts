/**
 * A timer for a deadline that moves often: keep-alive, head and body timeouts are set again on
 * nearly every request or read. Moving the deadline later only stores a number; the one
 * underlying timer re-arms itself for the remaining time when it fires early. Only moving it
 * earlier than the armed time, or cancelling it for good, touches the runtime's timers.
 */
export class Deadline {
  #callback: () => void;
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** When the timer is armed to fire, in `performance.now()` milliseconds. */
  #armedAt = 0;
  /** When the callback is due; 0 when no deadline is set. */
  #dueAt = 0;

  constructor(callback: () => void) {
    this.#callback = callback;
  }

  /** True while a deadline is set. */
  get active(): boolean {
    return this.#dueAt !== 0;
  }

  /** Sets the deadline `ms` from now, replacing any earlier one. */
  set(ms: number): void {
    const now = performance.now();
    this.#dueAt = now + ms;
    if (this.#timer !== undefined && this.#armedAt <= this.#dueAt) return;
    this.#arm(now, ms);
  }

  /** Removes the deadline; the underlying timer, if armed, fires later and does nothing. */
  clear(): void {
    this.#dueAt = 0;
  }

  /** Removes the deadline and the underlying timer, so nothing keeps the process awake. */
  dispose(): void {
    this.#dueAt = 0;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #arm(now: number, ms: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedAt = now + ms;
    this.#timer = setTimeout(this.#fire, ms);
  }

  #fire = (): void => {
    this.#timer = undefined;
    if (this.#dueAt === 0) return;
    const now = performance.now();
    const remaining = this.#dueAt - now;
    // Timers may fire a little early on some runtimes; anything under a millisecond is due.
    if (remaining >= 1) {
      this.#arm(now, remaining);
      return;
    }
    this.#dueAt = 0;
    this.#callback();
  };
}
