/**
 * Node 20 cannot run TypeScript, so bundle this file first:
 * `npx bun build test/runtime/node/network.test.ts --target=node --outdir=dist/test-node`,
 * then run `node --test dist/test-node/`.
 */

import { NodeNetwork } from "../../../adapters/node/network.ts";
import { runNetworkContract } from "../../contract/network-contract.ts";

// Node 20 ignores `reusePort`, so ports are not shared.
runNetworkContract("node", () => new NodeNetwork());
