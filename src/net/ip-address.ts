/** Dotted-quad IPv4: four decimal numbers from 0 to 255, without leading zeros. */
const IPV4_PATTERN =
  /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/**
 * Returns the family of an IP address literal, or undefined when `text` is not one (a host
 * name, or an address with a port or brackets). IPv6 is checked with the WHATWG URL parser,
 * which every supported runtime has. Zone ids such as `fe80::1%eth0` are not accepted.
 */
export function ipAddressFamily(text: string): "IPv4" | "IPv6" | undefined {
  if (IPV4_PATTERN.test(text)) {
    return "IPv4";
  }
  if (!text.includes(":") || text.includes("[") || text.includes("]")) {
    return undefined;
  }
  try {
    new URL(`http://[${text}]/`);
    return "IPv6";
  } catch {
    return undefined;
  }
}

/** True for `localhost`, 127.0.0.0/8 and `::1`: addresses only this machine can reach. */
export function isLoopbackHost(hostname: string): boolean {
  const lower = hostname.toLowerCase();
  if (lower === "localhost") return true;
  const family = ipAddressFamily(lower);
  if (family === "IPv4") return lower.startsWith("127.");
  if (family === "IPv6") return lower === "::1" || lower === "0:0:0:0:0:0:0:1";
  return false;
}

/** Formats an address as `host:port`, with IPv6 in brackets, or as the path of a Unix socket. */
export function formatSocketAddress(
  address: { hostname: string; port: number; family: string },
): string {
  if (address.family === "unix") return address.hostname;
  return address.family === "IPv6"
    ? `[${address.hostname}]:${address.port}`
    : `${address.hostname}:${address.port}`;
}
