/**
 * Parsers for the network addresses in the configuration: listen addresses (`HOST:PORT`), peer
 * URLs, route host patterns and Host header values. Each returns the parsed value or a message
 * that names the input and shows how to write it.
 */

export type AddressResult<T> = { ok: true; value: T } | { ok: false; message: string };

export interface HostPort {
  /** Host name or IP address; IPv6 without the brackets, such as `::1`. */
  hostname: string;
  port: number;
}

export interface PeerAddress {
  scheme: "http" | "https";
  /** Lower-case host name or IP address; IPv6 without the brackets. */
  hostname: string;
  /** The port in the URL, or 80 for http and 443 for https when it has none. */
  port: number;
}

/** A DNS name or dotted IPv4 address: labels of letters, digits, `-` and `_`, joined by dots. */
const NAME_PATTERN = /^[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*$/;
const PORT_PATTERN = /^\d{1,5}$/;
/** The port text of an `http://` or `https://` URL that the URL parser rejected. */
const PEER_PORT_PATTERN = /^https?:\/\/(?:[^@/?#]*@)?(?:\[[^\]]*\]|[^:/?#]*):([^/?#]*)/i;

/**
 * Parses a listen address `HOST:PORT`, with IPv6 in brackets (`[::1]:8080`). Port 0 is
 * accepted and lets the operating system pick a free port.
 */
export function parseListenAddress(text: string): AddressResult<HostPort> {
  const parts = splitHostAndPort(text, "address");
  if (!parts.ok) {
    return parts;
  }

  const { host, port } = parts.value;
  // A bare number such as `8095` is a port without its host, not a host without its port.
  if (port === undefined && PORT_PATTERN.test(host)) {
    return { ok: false, message: missingHostMessage(text, `:${host}`) };
  }
  if (port === undefined) {
    return {
      ok: false,
      message: `address "${text}" has no port: write HOST:PORT, such as 127.0.0.1:8080`,
    };
  }
  if (host === "") {
    return { ok: false, message: missingHostMessage(text, text) };
  }

  const portNumber = parsePort(port, text);
  if (!portNumber.ok) {
    return portNumber;
  }
  return { ok: true, value: { hostname: unbracket(host), port: portNumber.value } };
}

/** Builds the message for a listen address without a host. `portSuffix` is `:PORT`. */
function missingHostMessage(text: string, portSuffix: string): string {
  return `address "${text}" has no host: write HOST:PORT, such as 127.0.0.1${portSuffix} ` +
    `(0.0.0.0${portSuffix} listens on every IPv4 interface)`;
}

/**
 * Parses a peer URL: `http://` or `https://`, a host and an optional port. A trailing `/` is
 * allowed. A path, query, fragment or user name is rejected because the proxy forwards each
 * request's own path and would silently ignore them.
 */
export function parsePeerUrl(text: string): AddressResult<PeerAddress> {
  const lower = text.toLowerCase();
  const scheme = lower.startsWith("http://")
    ? "http"
    : lower.startsWith("https://")
    ? "https"
    : undefined;
  if (scheme === undefined) {
    return {
      ok: false,
      message: `invalid URL "${text}": a peer URL must start with http:// or https://, ` +
        `such as http://127.0.0.1:3000`,
    };
  }

  let url: URL;
  try {
    url = new URL(text);
  } catch {
    const port = PEER_PORT_PATTERN.exec(text)?.[1];
    if (port !== undefined && port !== "") {
      const range = "a peer port is a whole number from 1 to 65535";
      const message = /^\d+$/.test(port)
        ? `port ${port} in "${text}" is out of range: ${range}`
        : `invalid port "${port}" in "${text}": ${range}`;
      return { ok: false, message };
    }
    return {
      ok: false,
      message: `invalid URL "${text}": write scheme, host and optional port, such as ` +
        `http://127.0.0.1:3000`,
    };
  }

  if (url.username !== "" || url.password !== "") {
    return {
      ok: false,
      message: `invalid URL "${text}": user names and passwords are not supported in peer ` +
        `URLs; use setHeaders on the route to send an Authorization header`,
    };
  }
  if (url.pathname !== "/" || url.search !== "" || text.includes("?")) {
    return {
      ok: false,
      message: `invalid URL "${text}": a peer URL must not have a path or query, because ` +
        `requests keep their own path; write only scheme, host and port`,
    };
  }
  if (url.hash !== "" || text.includes("#")) {
    return { ok: false, message: `invalid URL "${text}": a peer URL must not have a fragment` };
  }

  const defaultPort = scheme === "http" ? 80 : 443;
  const port = url.port === "" ? defaultPort : Number(url.port);
  if (port === 0) {
    return { ok: false, message: `invalid URL "${text}": port 0 cannot be connected to` };
  }
  return { ok: true, value: { scheme, hostname: unbracket(url.hostname), port } };
}

/**
 * Parses a route host pattern into its lower-case form: an exact host (`api.example.com`,
 * `10.0.0.1`, `[::1]`) or a wildcard whose `*` is the whole first label (`*.example.com`).
 */
export function parseHostPattern(text: string): AddressResult<string> {
  const lower = text.toLowerCase();
  if (lower === "*") {
    return {
      ok: false,
      message: `host pattern "*" is not supported: remove match.host to match every host`,
    };
  }

  const name = lower.startsWith("*.") ? lower.slice(2) : lower;
  if (name.includes("*")) {
    return {
      ok: false,
      message: `invalid host pattern "${text}": a wildcard must be the whole first label, ` +
        `as in *.example.com`,
    };
  }

  if (name.startsWith("[")) {
    if (name === lower && name.endsWith("]") && isIpv6(name.slice(1, -1))) {
      return { ok: true, value: lower };
    }
    return {
      ok: false,
      message: `invalid host pattern "${text}": write an IPv6 address in brackets with no ` +
        `port, such as [::1]`,
    };
  }

  if (name.includes(":")) {
    return {
      ok: false,
      message: `host pattern "${text}" must not contain a port: routes match the host name ` +
        `and ignore the port in the request's Host header`,
    };
  }
  if (!NAME_PATTERN.test(name)) {
    return {
      ok: false,
      message: `invalid host pattern "${text}": write a host name such as api.example.com ` +
        `or a wildcard such as *.example.com`,
    };
  }
  return { ok: true, value: lower };
}

/**
 * Checks a value to send as the Host header: a host name or IP address with an optional port,
 * such as `app.internal` or `[::1]:8080`. Returns the text unchanged when it is valid.
 */
export function parseHostHeaderValue(text: string): AddressResult<string> {
  if (text.includes("://")) {
    return { ok: false, message: urlAsHostMessage(text) };
  }

  const parts = splitHostAndPort(text, "host");
  if (!parts.ok) {
    return parts;
  }

  const { host, port } = parts.value;
  if (host === "") {
    return { ok: false, message: `invalid host "${text}": the host name is empty` };
  }
  if (port !== undefined) {
    const portNumber = parsePort(port, text);
    if (!portNumber.ok) {
      return portNumber;
    }
  }
  return { ok: true, value: text };
}

/** Message for a URL given where a Host header value belongs, suggesting the URL's host. */
function urlAsHostMessage(text: string): string {
  let host = "";
  try {
    // URL.host keeps a non-default port and drops the default one, as a Host header does.
    host = new URL(text).host;
  } catch {
    // Without a parsable URL there is no host to suggest.
  }
  const example = host === "" ? "" : `, such as "${host}"`;
  return `invalid host "${text}": write HOST or HOST:PORT, not a URL${example}`;
}

/**
 * Splits `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT` and checks the host's characters.
 * The port, when present, is returned unparsed.
 */
function splitHostAndPort(
  text: string,
  kind: "address" | "host",
): AddressResult<{ host: string; port: string | undefined }> {
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    const host = close === -1 ? text : text.slice(0, close + 1);
    const rest = close === -1 ? "" : text.slice(close + 1);
    if (close === -1 || !isIpv6(host.slice(1, -1)) || (rest !== "" && !rest.startsWith(":"))) {
      return {
        ok: false,
        message: `invalid ${kind} "${text}": write an IPv6 address in brackets, such as ` +
          `[::1]:8080`,
      };
    }
    return { ok: true, value: { host, port: rest === "" ? undefined : rest.slice(1) } };
  }

  const colonCount = text.split(":").length - 1;
  if (colonCount > 1) {
    return {
      ok: false,
      message: `invalid ${kind} "${text}": put an IPv6 address in brackets, such as [::1]:8080`,
    };
  }

  const colon = text.indexOf(":");
  const host = colon === -1 ? text : text.slice(0, colon);
  const port = colon === -1 ? undefined : text.slice(colon + 1);
  if (host !== "" && !NAME_PATTERN.test(host)) {
    return {
      ok: false,
      message: `invalid ${kind} "${text}": "${host}" is not a valid host name or IP address`,
    };
  }
  return { ok: true, value: { host, port } };
}

function parsePort(port: string, text: string): AddressResult<number> {
  const value = PORT_PATTERN.test(port) ? Number(port) : NaN;
  if (!(value >= 0 && value <= 65535)) {
    return {
      ok: false,
      message: `invalid port "${port}" in "${text}": a port is a whole number from 0 to 65535`,
    };
  }
  return { ok: true, value };
}

/** Uses the WHATWG URL parser, present in every supported runtime, to validate IPv6 syntax. */
function isIpv6(address: string): boolean {
  if (!address.includes(":")) {
    return false;
  }
  try {
    new URL(`http://[${address}]/`);
    return true;
  } catch {
    return false;
  }
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}
