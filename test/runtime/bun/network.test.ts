import { BunNetwork } from "../../../adapters/bun/network.ts";
import { runNetworkContract } from "../../contract/network-contract.ts";

runNetworkContract("bun", () => new BunNetwork(), { sharesPortWithReusePort: true });
