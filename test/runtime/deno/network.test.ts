import { DenoNetwork } from "../../../adapters/deno/network.ts";
import { runNetworkContract } from "../../contract/network-contract.ts";

// Deno 2.9.6 cannot turn off certificate checks per connection, and closing a TLS connection
// waits for its handshake, so an aborted handshake keeps its socket until the server closes.
// `reusePort` needs --unstable-net, which this test run does not pass.
runNetworkContract("deno", () => new DenoNetwork(), {
  supportsVerifyFalse: false,
  abortClosesTlsHandshake: false,
});
