// Shared pieces of the proxy tests that run Cairn's server over the memory network.
import { parseConfigText } from "../../../src/config/load.ts";
import type { MemoryNetwork } from "../../../src/net/memory.ts";
import type { Connection } from "../../../src/net/types.ts";
import type { ProxyError } from "../../../src/proxy/errors.ts";
import type {
  AccessRecord,
  DiscoveryChange,
  PeerHealthChange,
  ProxyEvents,
  RetryRecord,
} from "../../../src/proxy/events.ts";
import { ProxyServer } from "../../../src/proxy/server.ts";

const latin1 = new TextDecoder("latin1");

export const PROXY_PORT = 8080;

export class RecordingEvents implements ProxyEvents {
  records: AccessRecord[] = [];
  errors: ProxyError[] = [];
  retries: RetryRecord[] = [];
  healthChanges: PeerHealthChange[] = [];
  discoveryChanges: DiscoveryChange[] = [];
  discoveryErrors: Error[] = [];
  access(record: AccessRecord): void {
    this.records.push(record);
  }
  exchangeError(error: ProxyError): void {
    this.errors.push(error);
  }
  connectionError(error: ProxyError): void {
    this.errors.push(error);
  }
  retry(record: RetryRecord): void {
    this.retries.push(record);
  }
  healthChanged(change: PeerHealthChange): void {
    this.healthChanges.push(change);
  }
  discoveryChanged(change: DiscoveryChange): void {
    this.discoveryChanges.push(change);
  }
  discoveryError(error: Error): void {
    this.discoveryErrors.push(error);
  }
}

/** A memory-network endpoint that records what it receives. */
export class Peer {
  connection!: Connection;
  text = "";
  ended = false;
  closed = false;
  onData: (peer: Peer) => void = () => {};

  handlers() {
    return {
      data: (chunk: Uint8Array) => {
        this.text += latin1.decode(chunk);
        this.onData(this);
      },
      drain: () => {},
      end: () => {
        this.ended = true;
      },
      close: () => {
        this.closed = true;
      },
    };
  }

  send(text: string): void {
    this.connection.write(Uint8Array.from(text, (c) => c.charCodeAt(0)));
  }

  get finished(): boolean {
    return this.ended || this.closed;
  }
}

/** Starts the proxy on `network` with a config text, failing the test on config errors. */
export async function startProxyServer(
  network: MemoryNetwork,
  yaml: string,
  events = new RecordingEvents(),
): Promise<ProxyServer> {
  const loaded = parseConfigText(yaml, "test.yaml");
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.errors));
  return await ProxyServer.start(loaded.config, {
    network,
    events,
    readTextFile: () => Promise.reject(new Error("no files")),
  });
}

export async function connectClient(network: MemoryNetwork): Promise<Peer> {
  const client = new Peer();
  client.connection = await network.connect({ hostname: "127.0.0.1", port: PROXY_PORT }, () => client.handlers());
  return client;
}

/** Polls `check` every 2 ms and rejects when it is still false after `timeoutMs`. */
export async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

export function countResponses(text: string): number {
  return (text.match(/HTTP\/1\.1 \d{3} /g) ?? []).length;
}

export function countRequests(text: string): number {
  return (text.match(/ HTTP\/1\.1\r\n/g) ?? []).length;
}

export const OK = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
