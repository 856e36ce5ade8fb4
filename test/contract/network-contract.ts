/**
 * The behaviour every `Network` must show, as `node:test` tests. Each runtime's test file calls
 * `runNetworkContract` with its own network, so the memory network and the three socket
 * adapters are held to the same checks. Real networks are only ever used on 127.0.0.1.
 */

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import {
  type ClientTlsOptions,
  type Connection,
  type ConnectionHandlers,
  type Listener,
  type ListenOptions,
  type Network,
  NetworkError,
  type NetworkErrorCode,
} from "../../src/net/types.ts";
import { TEST_CA, TEST_CERT, TEST_KEY } from "./tls-fixture.ts";

export interface NetworkContractOptions {
  /** Whether `connect` checks the server certificate against `ca`. Default true. */
  checksCertificates?: boolean;
  /** Whether `tls.verify: false` is supported. Default true. */
  supportsVerifyFalse?: boolean;
  /** Whether aborting a connect during its TLS handshake closes the socket at once. Default true. */
  abortClosesTlsHandshake?: boolean;
  /** Whether two listeners with `reusePort` can share a port. Default false. */
  sharesPortWithReusePort?: boolean;
}

const HOST = "127.0.0.1";
/** Upper bound for one test. The waits inside a test time out first. */
const TEST_TIMEOUT_MS = 30_000;
/** Upper bound for each wait on an event. */
const WAIT_TIMEOUT_MS = 10_000;
/** How long a test watches for an event that must not happen. */
const QUIET_PERIOD_MS = 200;
const KIB = 1024;
const MIB = 1024 * KIB;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Registers the contract tests for the network that `makeNetwork` returns. */
export function runNetworkContract(
  label: string,
  makeNetwork: () => Network,
  options: NetworkContractOptions = {},
): void {
  const checksCertificates = options.checksCertificates ?? true;
  const supportsVerifyFalse = options.supportsVerifyFalse ?? true;
  const abortClosesTlsHandshake = options.abortClosesTlsHandshake ?? true;
  const sharesPortWithReusePort = options.sharesPortWithReusePort ?? false;
  const run = (name: string, body: (harness: Harness) => Promise<void>) => {
    test(name, { timeout: TEST_TIMEOUT_MS }, () => withHarness(makeNetwork(), body));
  };

  describe(`${label} network contract`, () => {
    run("echo round trip", async (h) => {
      const { port } = await h.listen(echo);
      const client = await h.connect(port);
      client.connection.setNoDelay(true);
      client.connection.write(encoder.encode("hello, "));
      client.connection.write(encoder.encode("cairn"));
      client.connection.end();

      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(decoder.decode(concat(client.chunks)), "hello, cairn");
      assert.deepEqual(client.events.slice(-2), ["end", "close"]);
      assert.equal(client.closeError, undefined);
      assert.equal(client.connection.tls, undefined);
      const server = await h.accepted(0);
      await h.waitFor(() => server.closeCount > 0, "server close");
      assert.equal(server.closeError, undefined);
      assert.equal(server.connection.tls, undefined);
    });

    run("listener address reports the real port", async (h) => {
      const { listener, port } = await h.listen(echo);
      assert.ok(port > 0, `listener port ${port} should be a real port`);
      assert.equal(listener.address.hostname, HOST);
      assert.equal(listener.address.family, "IPv4");

      const client = await h.connect(port);
      const server = await h.accepted(0);
      assert.equal(client.connection.remoteAddress.port, port);
      assert.equal(client.connection.remoteAddress.hostname, HOST);
      assert.equal(client.connection.remoteAddress.family, "IPv4");
      assert.ok(client.connection.localAddress.port > 0);
      assert.equal(server.connection.localAddress.port, port);
      assert.equal(server.connection.remoteAddress.port, client.connection.localAddress.port);
      assert.equal(server.connection.remoteAddress.hostname, HOST);
    });

    run("write returns false and drain follows", async (h) => {
      const total = 16 * MIB;
      const chunkSize = 256 * KIB;
      const { port } = await h.listen((peer) => {
        peer.connection.pause();
        peer.onEnd = () => peer.connection.end();
      });
      const client = await h.connect(port);
      const server = await h.accepted(0);

      let firstFalseOffset = -1;
      for (let offset = 0; offset < total; offset += chunkSize) {
        const accepted = client.connection.write(pattern(offset, chunkSize));
        if (!accepted && firstFalseOffset < 0) {
          firstFalseOffset = offset;
        }
      }
      assert.ok(firstFalseOffset >= 0, "write never returned false for 16 MiB to a paused peer");
      assert.ok(client.connection.bufferedAmount > 0, "bufferedAmount should count queued bytes");
      await sleep(QUIET_PERIOD_MS);
      assert.equal(server.bytes, 0, "a peer paused in its open handler received data");
      assert.equal(client.drainCount, 0, "drain fired while the peer could not read");

      server.connection.resume();
      await h.waitFor(() => client.drainCount > 0, "drain on the writer");
      assert.equal(client.drainCount, 1);
      await h.waitFor(() => server.bytes === total, `all ${total} bytes at the reader`);
      assert.equal(client.connection.bufferedAmount, 0);
      // Checking the kept chunks at the end proves that the adapter did not reuse their memory.
      assert.equal(findPatternMismatch(server.chunks), -1);

      client.connection.end();
      await h.waitFor(() => client.closeCount > 0 && server.closeCount > 0, "both closes");
      assert.equal(client.closeError, undefined);
      assert.equal(server.closeError, undefined);
    });

    run("pause stops data and resume delivers the rest", async (h) => {
      const total = 2 * MIB;
      const { port } = await h.listen((peer) => {
        peer.connection.write(pattern(0, total));
        peer.connection.end();
      });
      let bytesAtPause = -1;
      const client = await h.connect(port, (peer) => {
        peer.onData = () => {
          if (bytesAtPause < 0) {
            bytesAtPause = peer.bytes;
            peer.connection.pause();
          }
        };
        peer.onEnd = () => peer.connection.end();
      });

      await h.waitFor(() => bytesAtPause >= 0, "first data chunk");
      await sleep(QUIET_PERIOD_MS);
      assert.equal(client.bytes, bytesAtPause, "data arrived while paused");
      assert.equal(client.endCount, 0, "end arrived while paused");

      client.connection.resume();
      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(client.bytes, total);
      assert.equal(findPatternMismatch(client.chunks), -1);
      assert.deepEqual(client.events.slice(-3), ["data", "end", "close"]);
    });

    run("end waits while paused", async (h) => {
      const { port } = await h.listen((peer) => {
        peer.connection.write(encoder.encode("short reply"));
        peer.connection.end();
      });
      const client = await h.connect(port, (peer) => {
        peer.connection.pause();
        peer.onEnd = () => peer.connection.end();
      });

      await sleep(QUIET_PERIOD_MS);
      assert.equal(client.bytes, 0, "data arrived while paused");
      assert.equal(client.endCount, 0, "end arrived while paused");
      assert.equal(client.closeCount, 0, "close arrived while paused with unread data");

      client.connection.resume();
      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(decoder.decode(concat(client.chunks)), "short reply");
      assert.deepEqual(client.events, ["data", "end", "close"]);
    });

    run("pause while a read is pending", async (h) => {
      const { port } = await h.listen(() => {});
      const client = await h.connect(port, (peer) => {
        peer.onEnd = () => peer.connection.end();
      });
      const server = await h.accepted(0);
      // Let the client's adapter start waiting for data, then pause from outside any handler.
      await sleep(50);
      client.connection.pause();
      server.connection.write(encoder.encode("sent while paused"));
      server.connection.end();

      await sleep(QUIET_PERIOD_MS);
      assert.equal(client.bytes, 0, "data arrived while paused");
      assert.equal(client.endCount, 0, "end arrived while paused");
      client.connection.resume();
      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(decoder.decode(concat(client.chunks)), "sent while paused");
      assert.deepEqual(client.events, ["data", "end", "close"]);
    });

    run("half-close then large reply", async (h) => {
      const total = 8 * MIB;
      const request = "GET / HTTP/1.1\r\nHost: cairn.test\r\n\r\n";
      const { port } = await h.listen((peer) => {
        peer.onEnd = () => {
          for (let offset = 0; offset < total; offset += MIB) {
            peer.connection.write(pattern(offset, MIB));
          }
          peer.connection.end();
        };
      });
      const client = await h.connect(port);
      client.connection.write(encoder.encode(request));
      client.connection.end();

      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(client.bytes, total);
      assert.equal(findPatternMismatch(client.chunks), -1);
      assert.deepEqual(client.events.slice(-3), ["data", "end", "close"]);
      assert.equal(client.closeError, undefined);

      const server = await h.accepted(0);
      await h.waitFor(() => server.closeCount > 0, "server close");
      assert.equal(decoder.decode(concat(server.chunks)), request);
      // The reply filled the write queue, so a drain may come between end and close.
      assert.deepEqual(server.events.filter((event) => event !== "drain"), [
        "data",
        "end",
        "close",
      ]);
      assert.equal(server.closeError, undefined);
    });

    run("server half-close then client reply", async (h) => {
      const { port } = await h.listen((peer) => {
        peer.connection.write(encoder.encode("server is done"));
        peer.connection.end();
      });
      const client = await h.connect(port, (peer) => {
        peer.onEnd = () => {
          // The client's side stays writable after the server's FIN, also in a later task.
          setTimeout(() => {
            peer.connection.write(encoder.encode("client reply"));
            peer.connection.end();
          }, 50);
        };
      });

      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(decoder.decode(concat(client.chunks)), "server is done");
      assert.equal(client.closeError, undefined);
      const server = await h.accepted(0);
      await h.waitFor(() => server.closeCount > 0, "server close");
      assert.equal(decoder.decode(concat(server.chunks)), "client reply");
      assert.deepEqual(server.events, ["data", "end", "close"]);
      assert.equal(server.closeError, undefined);
    });

    for (const side of ["client", "server"] as const) {
      run(`${side} destroy while the peer reads`, async (h) => {
        const { port } = await h.listen(() => {});
        const client = await h.connect(port);
        const server = await h.accepted(0);
        await sleep(20);
        const [destroyer, other] = side === "client" ? [client, server] : [server, client];
        other.onEnd = () => other.connection.end();

        destroyer.connection.destroy();
        assert.equal(destroyer.closeCount, 0, "close fired inside destroy()");
        await h.waitFor(() => destroyer.closeCount > 0, "close on the destroyed side");
        assert.equal(destroyer.closeError, undefined);
        // The peer may see FIN (then end) or RST. Either way its close must come exactly once.
        await h.waitFor(() => other.closeCount > 0, "close on the other side");
        assertCloseError(other.closeError, ["ECONNRESET", "EPIPE"]);
      });
    }

    run("destroy with an error reports it", async (h) => {
      const { port } = await h.listen(() => {});
      const client = await h.connect(port);
      const server = await h.accepted(0);
      const failure = new Error("request body too large");
      server.onEnd = () => server.connection.end();

      client.connection.destroy(failure);
      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(client.closeError, failure);
      await h.waitFor(() => server.closeCount > 0, "server close");
      assertCloseError(server.closeError, ["ECONNRESET", "EPIPE"]);
    });

    run("methods after close do nothing", async (h) => {
      const { port } = await h.listen(echo);
      const client = await h.connect(port);
      client.connection.end();
      await h.waitFor(() => client.closeCount > 0, "client close");

      assert.equal(client.connection.write(encoder.encode("late")), false);
      client.connection.end();
      client.connection.pause();
      client.connection.resume();
      client.connection.setNoDelay(false);
      client.connection.destroy();
      client.connection.destroy(new Error("late destroy"));
      assert.equal(client.connection.bufferedAmount, 0);
      await sleep(50);
      assert.equal(client.closeCount, 1);
      assert.equal(client.closeError, undefined);
    });

    run("write after end is ignored", async (h) => {
      const { port } = await h.listen(echo);
      const client = await h.connect(port);
      client.connection.write(encoder.encode("before end"));
      client.connection.end();
      assert.equal(client.connection.write(encoder.encode(" after end")), false);
      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(decoder.decode(concat(client.chunks)), "before end");
      assert.equal(client.closeError, undefined);
    });

    run("connect to a closed port rejects", async (h) => {
      const { listener, port } = await h.listen(echo);
      await listener.close();
      let opened = false;
      await assertRejectsWith(
        h.network.connect({ hostname: HOST, port }, (connection) => {
          opened = true;
          return h.track(connection).handlers();
        }),
        "ECONNREFUSED",
      );
      assert.equal(opened, false);
    });

    run("listen on a used port rejects", async (h) => {
      const { port } = await h.listen(echo);
      await assertRejectsWith(h.network.listen({ hostname: HOST, port }, echoOpen), "EADDRINUSE");
    });

    // Only names every machine resolves locally: these tests must not depend on outside DNS.
    run("resolve localhost to loopback", async (h) => {
      const addresses = await withTimeout(h.network.resolve("localhost"), "resolve localhost");
      assert.ok(addresses.length > 0, "localhost resolved to no address");
      assert.equal(new Set(addresses).size, addresses.length, `repeated address in ${addresses}`);
      for (const address of addresses) {
        const loopback = address === "::1" || address.startsWith("127.");
        assert.ok(loopback, `localhost resolved to ${address}, which is not a loopback address`);
      }
    });

    run("resolve an IP literal to itself", async (h) => {
      assert.deepEqual(await withTimeout(h.network.resolve(HOST), "resolve IPv4"), [HOST]);
      assert.deepEqual(await withTimeout(h.network.resolve("::1"), "resolve IPv6"), ["::1"]);
    });

    run("listen with reusePort", async (h) => {
      // Where the runtime cannot share ports, the option must be ignored, not fail.
      const { port } = await h.listen(echo, { hostname: HOST, port: 0, reusePort: true });
      if (sharesPortWithReusePort) {
        await h.listen(echo, { hostname: HOST, port, reusePort: true });
      }
      const client = await h.connect(port);
      client.connection.write(encoder.encode("shared port"));
      client.connection.end();
      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(decoder.decode(concat(client.chunks)), "shared port");
    });

    run("connect with an aborted signal rejects", async (h) => {
      const { port } = await h.listen(echo);
      const controller = new AbortController();
      controller.abort();
      let opened = false;
      await assertRejectsWith(
        h.network.connect({ hostname: HOST, port, signal: controller.signal }, (connection) => {
          opened = true;
          return h.track(connection).handlers();
        }),
        "ABORTED",
      );
      assert.equal(opened, false);
    });

    run("abort cancels a pending connect", async (h) => {
      const { port } = await h.listen((peer) => {
        peer.onEnd = () => peer.connection.end();
      });
      const controller = new AbortController();
      let opened = false;
      const connecting = h.network.connect(
        { hostname: HOST, port, signal: controller.signal },
        (connection) => {
          opened = true;
          return h.track(connection).handlers();
        },
      );
      controller.abort();
      await assertRejectsWith(connecting, "ABORTED");
      assert.equal(opened, false);
      // The server may have accepted the TCP connection already. It must still close once.
      await sleep(50);
      await h.waitFor(() => h.serverPeers.every((peer) => peer.closeCount > 0), "server closes");
    });

    run("listener close keeps open connections", async (h) => {
      const { listener, port } = await h.listen(echo);
      const client = await h.connect(port);
      await listener.close();
      await assertRejectsWith(
        h.network.connect({ hostname: HOST, port }, echoOpen),
        "ECONNREFUSED",
      );

      client.connection.write(encoder.encode("still open"));
      client.connection.end();
      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(decoder.decode(concat(client.chunks)), "still open");
      assert.equal(client.closeError, undefined);
    });

    run("peer reset during writes", async (h) => {
      const chunk = pattern(0, 64 * KIB);
      let writesAfterClose = 0;
      const { port } = await h.listen((peer) => {
        const pump = () => {
          while (peer.closeCount === 0 && peer.connection.write(chunk)) {
            // Keep writing until the queue is full. The drain handler restarts the loop.
          }
        };
        peer.onDrain = pump;
        peer.onClose = () => {
          // Writing to a closed connection must not throw either.
          if (peer.connection.write(chunk) === false) {
            writesAfterClose += 1;
          }
        };
        pump();
      });
      const client = await h.connect(port, (peer) => {
        peer.onData = () => {
          if (peer.bytes > 256 * KIB) {
            // Unread bytes make the operating system send RST instead of FIN.
            peer.connection.pause();
            peer.connection.destroy();
          }
        };
      });
      const server = await h.accepted(0);

      await h.waitFor(() => client.closeCount > 0, "client close");
      await h.waitFor(() => server.closeCount > 0, "server close");
      assertCloseError(server.closeError, ["ECONNRESET", "EPIPE"]);
      assert.equal(writesAfterClose, 1);
      // Late socket errors would surface here as uncaught errors, which fail the test run.
      await sleep(QUIET_PERIOD_MS);
    });

    run("unix socket echo", async (h) => {
      const path = join(tmpdir(), `cairn-${Date.now()}-${Math.floor(Math.random() * 1e9)}.sock`);
      h.onCleanup(() => rmSync(path, { force: true }));
      const { listener } = await h.listen(echo, { hostname: "", port: 0, path });
      assert.equal(listener.address.family, "unix");
      assert.equal(listener.address.hostname, path);

      const client = await h.connect(0, undefined, { path });
      client.connection.write(encoder.encode("over a unix socket"));
      client.connection.end();
      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(decoder.decode(concat(client.chunks)), "over a unix socket");
      assert.equal(client.closeError, undefined);
      assert.equal(client.connection.remoteAddress.family, "unix");
    });

    run("TLS echo negotiates ALPN", async (h) => {
      const total = 4 * MIB;
      const { port } = await h.listen(
        (peer) => {
          peer.onEnd = () => {
            peer.connection.write(pattern(0, total));
            peer.connection.end();
          };
        },
        {
          hostname: HOST,
          port: 0,
          tls: { cert: TEST_CERT, key: TEST_KEY, alpnProtocols: ["http/1.1"] },
        },
      );
      const clientTls: ClientTlsOptions = {
        serverName: "localhost",
        ca: TEST_CA,
        alpnProtocols: ["http/1.1"],
      };
      const client = await h.connect(port, undefined, { tls: clientTls });
      assert.equal(client.connection.tls?.alpnProtocol, "http/1.1");
      client.connection.write(encoder.encode("hello over TLS"));
      client.connection.end();

      await h.waitFor(() => client.closeCount > 0, "client close");
      assert.equal(client.bytes, total);
      assert.equal(findPatternMismatch(client.chunks), -1);
      assert.equal(client.closeError, undefined);
      const server = await h.accepted(0);
      await h.waitFor(() => server.closeCount > 0, "server close");
      assert.equal(decoder.decode(concat(server.chunks)), "hello over TLS");
      assert.equal(server.connection.tls?.alpnProtocol, "http/1.1");
      assert.equal(server.closeError, undefined);
    });

    run("abort cancels a pending TLS handshake", async (h) => {
      // A plain listener never responds to the ClientHello, so the handshake waits.
      const { port } = await h.listen((peer) => {
        peer.onEnd = () => peer.connection.end();
      });
      const controller = new AbortController();
      let opened = false;
      const connecting = h.network.connect(
        {
          hostname: HOST,
          port,
          tls: { serverName: "localhost", ca: TEST_CA },
          signal: controller.signal,
        },
        (connection) => {
          opened = true;
          return h.track(connection).handlers();
        },
      );
      await h.accepted(0);
      await sleep(50);
      controller.abort();
      await assertRejectsWith(connecting, "ABORTED");
      assert.equal(opened, false);
      if (abortClosesTlsHandshake) {
        const server = await h.accepted(0);
        await h.waitFor(() => server.closeCount > 0, "server close");
      }
    });

    if (checksCertificates) {
      run("TLS connect rejects an untrusted certificate", async (h) => {
        const { port } = await h.listen(echo, {
          hostname: HOST,
          port: 0,
          tls: { cert: TEST_CERT, key: TEST_KEY },
        });
        let opened = false;
        await assertRejectsWith(
          h.network.connect({ hostname: HOST, port, tls: { serverName: "localhost" } }, (c) => {
            opened = true;
            return h.track(c).handlers();
          }),
          "TLS",
        );
        assert.equal(opened, false);
        await sleep(50);
        assert.equal(h.serverPeers.length, 0, "a failed handshake reached the open handler");
      });
    }

    if (supportsVerifyFalse) {
      run("TLS verify false accepts an untrusted certificate", async (h) => {
        const { port } = await h.listen(echo, {
          hostname: HOST,
          port: 0,
          tls: { cert: TEST_CERT, key: TEST_KEY },
        });
        const client = await h.connect(port, undefined, {
          tls: { serverName: "localhost", verify: false },
        });
        client.connection.write(encoder.encode("unverified"));
        client.connection.end();
        await h.waitFor(() => client.closeCount > 0, "client close");
        assert.equal(decoder.decode(concat(client.chunks)), "unverified");
      });
    }
  });
}

/** The events of one connection, recorded for assertions, plus hooks a test can set. */
class Peer {
  readonly connection: Connection;
  readonly chunks: Uint8Array[] = [];
  /** Event names in order, with runs of `data` collapsed into one entry. */
  readonly events: string[] = [];
  bytes = 0;
  endCount = 0;
  drainCount = 0;
  closeCount = 0;
  closeError: Error | undefined;
  eventsAfterClose: string[] = [];
  onData: ((chunk: Uint8Array) => void) | undefined;
  onEnd: (() => void) | undefined;
  onDrain: (() => void) | undefined;
  onClose: (() => void) | undefined;

  constructor(connection: Connection) {
    this.connection = connection;
  }

  handlers(): ConnectionHandlers {
    return {
      data: (chunk) => {
        this.#record("data");
        this.chunks.push(chunk);
        this.bytes += chunk.length;
        this.onData?.(chunk);
      },
      drain: () => {
        this.#record("drain");
        this.drainCount += 1;
        this.onDrain?.();
      },
      end: () => {
        this.#record("end");
        this.endCount += 1;
        this.onEnd?.();
      },
      close: (error) => {
        this.#record("close");
        this.closeCount += 1;
        this.closeError = error;
        this.onClose?.();
      },
    };
  }

  #record(event: string): void {
    if (this.closeCount > 0) {
      this.eventsAfterClose.push(event);
    }
    if (event === "data" && this.events.at(-1) === "data") {
      return;
    }
    this.events.push(event);
  }
}

/** Everything one test opened, so that it can all be closed and checked afterwards. */
class Harness {
  readonly network: Network;
  readonly serverPeers: Peer[] = [];
  readonly #peers: Peer[] = [];
  readonly #listeners: Listener[] = [];
  readonly #cleanups: (() => void)[] = [];

  constructor(network: Network) {
    this.network = network;
  }

  track(connection: Connection): Peer {
    const peer = new Peer(connection);
    this.#peers.push(peer);
    return peer;
  }

  onCleanup(cleanup: () => void): void {
    this.#cleanups.push(cleanup);
  }

  /** Listens on 127.0.0.1 with a free port. `setup` runs for each accepted connection. */
  async listen(
    setup: (peer: Peer) => void,
    options: ListenOptions = { hostname: HOST, port: 0 },
  ): Promise<{ listener: Listener; port: number }> {
    const listener = await this.network.listen(options, (connection) => {
      const peer = this.track(connection);
      this.serverPeers.push(peer);
      setup(peer);
      return peer.handlers();
    });
    this.#listeners.push(listener);
    return { listener, port: listener.address.port };
  }

  async connect(
    port: number,
    setup?: (peer: Peer) => void,
    extra: { path?: string; tls?: ClientTlsOptions } = {},
  ): Promise<Peer> {
    let peer: Peer | undefined;
    const connection = await withTimeout(
      this.network.connect({ hostname: HOST, port, ...extra }, (opened) => {
        peer = this.track(opened);
        setup?.(peer);
        return peer.handlers();
      }),
      "connect",
    );
    assert.ok(peer !== undefined, "connect resolved without calling the open handler");
    assert.equal(peer.connection, connection);
    return peer;
  }

  /** Waits for the `index`-th accepted connection. */
  async accepted(index: number): Promise<Peer> {
    await this.waitFor(() => this.serverPeers.length > index, `accepted connection ${index}`);
    return this.serverPeers[index];
  }

  waitFor(condition: () => boolean, description: string): Promise<void> {
    return waitFor(condition, description);
  }

  /**
   * Destroys what is still open, closes the listeners and checks that every connection saw
   * exactly one close and nothing after it.
   */
  async cleanup(): Promise<void> {
    for (const peer of this.#peers) {
      if (peer.closeCount === 0) {
        peer.connection.destroy();
      }
    }
    for (const listener of this.#listeners) {
      await withTimeout(listener.close(), "listener close");
    }
    try {
      await waitFor(() => this.#peers.every((peer) => peer.closeCount > 0), "every close");
      // A second close or a late event would show up within this period.
      await sleep(20);
      for (const peer of this.#peers) {
        assert.equal(peer.closeCount, 1, "close must fire exactly once");
        assert.deepEqual(peer.eventsAfterClose, [], "events after close");
      }
    } finally {
      for (const cleanup of this.#cleanups) {
        cleanup();
      }
    }
  }
}

async function withHarness(
  network: Network,
  body: (harness: Harness) => Promise<void>,
): Promise<void> {
  const harness = new Harness(network);
  let failed = false;
  try {
    await body(harness);
  } catch (error) {
    failed = true;
    throw error;
  } finally {
    try {
      await harness.cleanup();
    } catch (error) {
      // Report the body's failure. A cleanup failure only matters when the body passed.
      if (!failed) {
        throw error;
      }
    }
  }
}

function echo(peer: Peer): void {
  peer.onData = (chunk) => peer.connection.write(chunk);
  peer.onEnd = () => peer.connection.end();
}

/** An open handler that echoes, for connections that the test does not inspect. */
function echoOpen(connection: Connection): ConnectionHandlers {
  return {
    data: (chunk) => connection.write(chunk),
    drain: () => {},
    end: () => connection.end(),
    close: () => {},
  };
}

async function assertRejectsWith(
  promise: Promise<unknown>,
  code: NetworkErrorCode,
): Promise<void> {
  await assert.rejects(withTimeout(promise, `rejection with ${code}`), (error: unknown) => {
    assert.ok(error instanceof NetworkError, `expected a NetworkError, got ${String(error)}`);
    assert.equal(error.code, code, `unexpected code for: ${error.message}`);
    return true;
  });
}

function assertCloseError(error: Error | undefined, codes: NetworkErrorCode[]): void {
  if (error === undefined) {
    return;
  }
  assert.ok(error instanceof NetworkError, `close error should be a NetworkError: ${error}`);
  assert.ok(codes.includes(error.code), `close error code ${error.code} not in ${codes}`);
}

/** Bytes that differ at every offset modulo 256, 64 KiB and 16 MiB, so reordering shows. */
function pattern(offset: number, length: number): Uint8Array {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    bytes[i] = patternByte(offset + i);
  }
  return bytes;
}

function patternByte(position: number): number {
  return (position ^ (position >>> 8) ^ (position >>> 16) ^ (position >>> 24)) & 0xff;
}

/** Returns the first offset where `chunks` differ from `pattern`, or -1. */
function findPatternMismatch(chunks: Uint8Array[]): number {
  let position = 0;
  for (const chunk of chunks) {
    for (let i = 0; i < chunk.length; i++) {
      if (chunk[i] !== patternByte(position)) {
        return position;
      }
      position += 1;
    }
  }
  return -1;
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const total = chunks.reduce((sum, chunk) => sum + chunk.length, 0);
  const result = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    result.set(chunk, offset);
    offset += chunk.length;
  }
  return result;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, description: string): Promise<void> {
  const deadline = Date.now() + WAIT_TIMEOUT_MS;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${description}`);
    }
    await sleep(5);
  }
}

function withTimeout<T>(promise: Promise<T>, description: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`timed out after ${WAIT_TIMEOUT_MS} ms waiting for ${description}`)),
      WAIT_TIMEOUT_MS,
    );
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
