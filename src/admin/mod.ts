export { type AdminAppOptions, createAdminApp } from "./app.ts";
export { MetricsCollector, PROMETHEUS_CONTENT_TYPE } from "./metrics.ts";
export {
  type AdminServer,
  type AdminServerOptions,
  type FetchHandler,
  startAdminServer,
} from "./server.ts";
