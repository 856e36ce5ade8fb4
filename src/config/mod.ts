export * from "./units.ts";
export * from "./address.ts";
export * from "./schema.ts";
export * from "./load.ts";
export type { SchemaProblem } from "./messages.ts";
