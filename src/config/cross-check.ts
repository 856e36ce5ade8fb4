/**
 * Checks that relate one part of the configuration to another: route upstreams exist, names are
 * unique and no two listeners share an address. They read the raw input rather than the schema's
 * output, so they still report when some other part of the file is invalid. Values of the wrong
 * type are skipped here because the schema reports them.
 */

import { parseListenAddress } from "./address.ts";
import type { SchemaProblem } from "./messages.ts";

/** Returns the problems found across sections, each at the path of the later value. */
export function findCrossReferenceProblems(input: unknown): SchemaProblem[] {
  if (!isRecord(input)) {
    return [];
  }

  const problems: SchemaProblem[] = [];
  problems.push(...findUnknownUpstreams(input.routes, input.upstreams));
  problems.push(...findDuplicateNames(input.listeners, "listeners", "listener"));
  problems.push(...findDuplicateNames(input.routes, "routes", "route"));
  problems.push(...findSharedAddresses(input.listeners, input.demo, input.admin));
  return problems;
}

function findUnknownUpstreams(routes: unknown, upstreams: unknown): SchemaProblem[] {
  if (!Array.isArray(routes) || !isRecord(upstreams)) {
    return [];
  }

  // A Set, because `in` on the record would also find inherited keys such as "constructor".
  const names = new Set(Object.keys(upstreams));
  const known = [...names].map((name) => `"${name}"`).join(", ");
  const problems: SchemaProblem[] = [];
  routes.forEach((route, index) => {
    if (!isRecord(route) || typeof route.upstream !== "string" || route.upstream === "") {
      return;
    }
    if (!names.has(route.upstream)) {
      const hint = names.size > 0 ? `: define it under upstreams or use one of ${known}` : "";
      problems.push({
        path: `routes[${index}].upstream`,
        message: `unknown upstream "${route.upstream}"${hint}`,
      });
    }
  });
  return problems;
}

/**
 * Finds repeated names in a list whose items default to `<kind>-<index>` when unnamed, so an
 * explicit name can collide with another item's default name.
 */
function findDuplicateNames(
  items: unknown,
  listPath: "listeners" | "routes",
  kind: "listener" | "route",
): SchemaProblem[] {
  if (!Array.isArray(items)) {
    return [];
  }

  const firstIndexByName = new Map<string, number>();
  const problems: SchemaProblem[] = [];
  items.forEach((item, index) => {
    if (!isRecord(item)) {
      return;
    }

    const explicit = typeof item.name === "string";
    if (!explicit && item.name !== undefined) {
      return;
    }
    const name = explicit ? String(item.name) : `${kind}-${index}`;
    const first = firstIndexByName.get(name);
    if (first === undefined) {
      firstIndexByName.set(name, index);
      return;
    }

    if (explicit) {
      problems.push({
        path: `${listPath}[${index}].name`,
        message: `duplicate ${kind} name "${name}": ${listPath}[${first}] already uses it`,
      });
    } else {
      problems.push({
        path: `${listPath}[${index}]`,
        message: `default name "${name}" is already used by ${listPath}[${first}]: give ` +
          `this ${kind} a name`,
      });
    }
  });
  return problems;
}

/**
 * Finds listeners, the demo origin and the admin API that bind the same host and port, which would fail at
 * startup. Port 0 is skipped because each bind gets its own free port.
 */
function findSharedAddresses(listeners: unknown, demo: unknown, admin: unknown): SchemaProblem[] {
  const bindings: { path: string; address: unknown }[] = [];
  if (Array.isArray(listeners)) {
    listeners.forEach((listener, index) => {
      if (isRecord(listener)) {
        bindings.push({ path: `listeners[${index}].address`, address: listener.address });
      }
    });
  }
  if (isRecord(demo)) {
    bindings.push({ path: "demo.address", address: demo.address });
  }
  if (isRecord(admin)) {
    bindings.push({ path: "admin.address", address: admin.address });
  }

  const firstPathByAddress = new Map<string, string>();
  const problems: SchemaProblem[] = [];
  for (const binding of bindings) {
    if (typeof binding.address !== "string") {
      continue;
    }
    const parsed = parseListenAddress(binding.address);
    if (!parsed.ok || parsed.value.port === 0) {
      continue;
    }

    const key = `${parsed.value.hostname.toLowerCase()} ${parsed.value.port}`;
    const first = firstPathByAddress.get(key);
    if (first === undefined) {
      firstPathByAddress.set(key, binding.path);
    } else {
      problems.push({
        path: binding.path,
        message: `address "${binding.address}" is already used by ${first}: each listener ` +
          `needs its own host and port`,
      });
    }
  }
  return problems;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
