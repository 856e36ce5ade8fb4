export * from "./types.ts";
export * from "./memory.ts";
export * from "./listen.ts";
export * from "./ip-address.ts";
