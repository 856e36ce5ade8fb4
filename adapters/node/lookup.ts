import dns from "node:dns/promises";
import { NetworkError } from "../../src/net/types.ts";

/**
 * Resolves a host name to its distinct addresses through `node:dns` `lookup`, which calls the
 * operating system's resolver (the hosts file included). Node and Bun both provide it.
 */
export async function lookupAddresses(
  hostname: string,
  toNetworkError: (error: unknown) => NetworkError,
): Promise<string[]> {
  let found: { address: string }[];
  try {
    found = await dns.lookup(hostname, { all: true });
  } catch (error) {
    const mapped = toNetworkError(error);
    if (mapped.code === "ENOTFOUND") {
      // The runtime's message may leave out the name, as Bun's does.
      throw new NetworkError("ENOTFOUND", `host not found: ${hostname}`, { cause: error });
    }
    throw mapped;
  }
  if (found.length === 0) {
    throw new NetworkError("ENOTFOUND", `host not found: ${hostname}`);
  }
  return [...new Set(found.map((entry) => entry.address))];
}
