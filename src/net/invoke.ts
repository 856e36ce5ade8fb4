/**
 * Calls a connection handler. An exception from it is a bug in the caller, not a network event:
 * it is thrown again in a microtask, so it surfaces as uncaught instead of breaking the
 * adapter's own bookkeeping in the middle of an event.
 */
export function invoke(call: () => void): void {
  try {
    call();
  } catch (error) {
    rethrowLater(error);
  }
}

/** Throws `error` from a microtask, outside the current call stack. */
export function rethrowLater(error: unknown): void {
  queueMicrotask(() => {
    throw error;
  });
}
