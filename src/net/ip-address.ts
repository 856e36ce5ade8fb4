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
