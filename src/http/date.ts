let cachedSecond = -1;
let cachedDate = "";

/** The current time as an IMF-fixdate (RFC 9110 §5.6.7), computed at most once a second. */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== cachedSecond) {
    cachedSecond = second;
    cachedDate = new Date(second * 1000).toUTCString();
  }
  return cachedDate;
}
