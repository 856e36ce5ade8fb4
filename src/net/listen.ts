import { type Listener, type ListenOptions, type Network, NetworkError, type OpenHandler } from "./types.ts";

/**
 * Listens, or throws an error that names what was being started and on which address, with
 * the adapter's error code: runtimes word a busy port differently, some without the port.
 */
export async function listenOrExplain(
  network: Network,
  what: string,
  options: ListenOptions,
  onOpen: OpenHandler,
): Promise<Listener> {
  try {
    return await network.listen(options, onOpen);
  } catch (error) {
    const address = options.hostname.includes(":") ? `[${options.hostname}]:${options.port}` : `${options.hostname}:${options.port}`;
    const code = error instanceof NetworkError ? ` (${error.code})` : "";
    const detail = error instanceof NetworkError && error.code === "EADDRINUSE"
      ? "the address is already in use"
      : error instanceof Error ? error.message : String(error);
    throw new Error(`${what} cannot listen on ${address}${code}: ${detail}`, { cause: error });
  }
}
