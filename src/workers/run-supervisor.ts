import { createAdminApp, startAdminServer, type AdminServer } from "../admin/mod.ts";
import type { Config } from "../config/schema.ts";
import { startDemoOrigin } from "../demo/origin.ts";
import { ConfigReloader } from "../lifecycle/reloader.ts";
import { logReload, logWatchError, warnRestartOnlyChanges } from "../lifecycle/report.ts";
import { describeError } from "../log/describe-error.ts";
import { Logger } from "../log/logger.ts";
import { formatSocketAddress } from "../net/ip-address.ts";
import type { Listener } from "../net/types.ts";
import type { Runtime } from "../runtime.ts";
import { VERSION } from "../version.ts";
import { Supervisor } from "./supervisor.ts";

export interface SupervisorRun {
  /** Config source for the log: the config file's path, or `command line`. */
  source: string;
  /** The config file and its text, or undefined for a config from flags. */
  file: { path: string; text: string } | undefined;
  /** Address and token of the admin API that covers all workers, or undefined without one. */
  admin: { hostname: string; port: number; token: string | undefined } | undefined;
  /** Number of worker processes. */
  count: number;
}

/**
 * Runs `--workers N`. Starts the workers and serves the admin API and the demo origin for all of
 * them. Watches the config file, sends each reload to every worker, and drains the workers on
 * SIGTERM or SIGINT. The workers bind the listeners, so each listener needs a fixed port.
 */
export async function runSupervisor(runtime: Runtime, config: Config, run: SupervisorRun): Promise<void> {
  const logger = new Logger({
    level: config.logging.level,
    access: false,
    format: config.logging.format,
    writeAccess: () => {},
    writeStderr: (text) => runtime.writeStderr(text),
  });
  const portProblem = fixedPortProblem(config);
  if (portProblem !== undefined) {
    logger.log("error", `start failed: ${portProblem}`, { config: run.source });
    return void (await runtime.exit(1));
  }

  let demo: Listener | undefined;
  const supervisor = new Supervisor({
    runtime,
    count: run.count,
    args: [...runtime.args],
    accessFile: config.logging.accessFile,
    log: (level, message, fields) => logger.log(level, message, fields),
  });
  try {
    if (config.demo) {
      demo = await startDemoOrigin(runtime.network, config.demo);
      logger.log("info", "demo origin started", { address: formatSocketAddress(demo.address) });
    }
    await supervisor.start();
  } catch (error) {
    logger.log("error", `start failed: ${describeError(error)}`, { config: run.source });
    await demo?.close();
    return void (await runtime.exit(1));
  }

  let running = config;
  const reloader = new ConfigReloader({
    path: run.file?.path,
    initialText: run.file?.text,
    readTextFile: (path) => runtime.readTextFile(path),
    apply: async (next) => {
      const problem = fixedPortProblem(next);
      if (problem !== undefined) throw new Error(problem);
      const summary = await supervisor.reload();
      warnRestartOnlyChanges(logger, running, next);
      running = next;
      logger.configure({ ...next.logging, access: false });
      reloader.configureWatch(next.reload);
      return summary;
    },
    onOutcome: (outcome, trigger) => {
      supervisor.reloads.record(outcome.status === "reloaded");
      logReload(logger, outcome, trigger, undefined);
    },
    onWatchError: (error, path) => logWatchError(logger, error, path),
  });

  let admin: AdminServer | undefined;
  if (run.admin !== undefined) {
    try {
      const app = createAdminApp({
        view: {
          get draining() {
            return supervisor.draining;
          },
          snapshot: () => supervisor.snapshot(),
        },
        metrics: { render: () => supervisor.metrics(), traffic: () => supervisor.traffic() },
        workers: () => supervisor.workers(),
        reload: () => reloader.reload("admin API"),
        token: run.admin.token,
        onError: (error, path) => logger.log("error", `admin request failed: ${error.message}`, { path }),
      });
      admin = await startAdminServer(runtime.network, run.admin, (request) => app.fetch(request), {
        onError: (error) => logger.log("error", `admin response failed: ${describeError(error)}`),
      });
    } catch (error) {
      logger.log("error", `start failed: ${describeError(error)}`, { config: run.source });
      await supervisor.shutdown(0);
      await demo?.close();
      return void (await runtime.exit(1));
    }
  }

  logger.log("info", "cairn started", {
    version: VERSION,
    runtime: `${runtime.name} ${runtime.version}`,
    config: run.source,
    workers: supervisor.workers().map((worker) => worker.pid),
    // The workers bind the listeners, on the fixed ports the config gives.
    listeners: config.listeners.map((listener) => ({ name: listener.name, address: listener.address })),
    ...(admin === undefined ? {} : { admin: formatSocketAddress(admin.address) }),
  });
  reloader.configureWatch(config.reload);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    reloader.stopWatching();
    const deadlineMs = running.shutdown.drainTimeoutMs;
    logger.log("info", `${signal} received: draining ${run.count} workers`, { deadlineMs });
    // The admin API stays up through the drain, so /readyz returns 503 while workers finish.
    const killed = await supervisor.shutdown(deadlineMs);
    await admin?.close();
    await demo?.close();
    if (killed === 0) logger.log("info", "cairn stopped");
    else logger.log("warn", `cairn stopped: killed ${killed} workers still running after the deadline`, { killed });
    await runtime.exit(0);
  };
  runtime.onSignal("SIGTERM", () => void stop("SIGTERM"));
  runtime.onSignal("SIGINT", () => void stop("SIGINT"));
  runtime.onSignal("SIGHUP", () => {
    if (!stopping) void reloader.reload("SIGHUP");
  });
}

/** Returns why `config` cannot run with `--workers`, or undefined when it can. */
export function fixedPortProblem(config: Config): string | undefined {
  const free = config.listeners.find((listener) => listener.port === 0);
  if (free === undefined) return undefined;
  return `listener ${free.name} has port 0, but --workers needs a fixed port because every worker ` +
    "binds the same one. Set a port number in the listener's address";
}
