export * from "./keep-alive.ts";
export * from "./pool.ts";
