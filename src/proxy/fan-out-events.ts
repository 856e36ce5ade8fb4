import type { ProxyEvents } from "./events.ts";

/** Combines subscribers, such as the logger and the metrics collector, into one `ProxyEvents`. */
export function fanOutEvents(...subscribers: ProxyEvents[]): ProxyEvents {
  return {
    access: (record) => {
      for (const subscriber of subscribers) subscriber.access(record);
    },
    exchangeError: (error, context) => {
      for (const subscriber of subscribers) subscriber.exchangeError(error, context);
    },
    connectionError: (error, context) => {
      for (const subscriber of subscribers) subscriber.connectionError(error, context);
    },
    retry: (record) => {
      for (const subscriber of subscribers) subscriber.retry(record);
    },
    healthChanged: (change) => {
      for (const subscriber of subscribers) subscriber.healthChanged(change);
    },
    discoveryChanged: (change) => {
      for (const subscriber of subscribers) subscriber.discoveryChanged(change);
    },
    discoveryError: (error, context) => {
      for (const subscriber of subscribers) subscriber.discoveryError(error, context);
    },
  };
}
