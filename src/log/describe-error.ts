/** Returns the message of a thrown value, for log lines and error messages. */
export function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
