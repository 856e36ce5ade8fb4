import { MemoryNetwork } from "../../../src/net/memory.ts";
import { runNetworkContract } from "../../contract/network-contract.ts";

// The memory network models TLS as metadata only, so it never rejects a certificate.
runNetworkContract("memory", () => new MemoryNetwork(), {
  checksCertificates: false,
  sharesPortWithReusePort: true,
});
