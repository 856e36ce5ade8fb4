import { type AdminServer, createAdminApp, MetricsCollector, startAdminServer } from "./admin/mod.ts";
import { DEFAULT_CONFIG_PATH, helpText, parseArgs } from "./cli/args.ts";
import { parseListenAddress } from "./config/address.ts";
import { configFromFlags, formatProblems, type LoadResult, parseConfigText } from "./config/load.ts";
import type { Config } from "./config/schema.ts";
import { startDemoOrigin } from "./demo/origin.ts";
import { Logger } from "./log/logger.ts";
import { formatSocketAddress, isLoopbackHost } from "./net/ip-address.ts";
import { ConfigReloader } from "./lifecycle/reloader.ts";
import { logReload, logWatchError, warnRestartOnlyChanges } from "./lifecycle/report.ts";
import { describeError } from "./log/describe-error.ts";
import type { Listener } from "./net/types.ts";
import { fanOutEvents } from "./proxy/fan-out-events.ts";
import { ProxyServer } from "./proxy/server.ts";
import type { AppendFile, Runtime } from "./runtime.ts";
import { VERSION } from "./version.ts";
import { fixedPortProblem, runSupervisor } from "./workers/run-supervisor.ts";
import { WORKER_INDEX_ENV, WORKER_TOKEN_ENV } from "./workers/supervisor.ts";

const PROGRAM_NAME = "cairn";

/**
 * Runs Cairn's command line on a runtime: parses the arguments, loads and validates the config,
 * starts the proxy and handles signals until it stops. Exit codes: 0 after a clean stop or a
 * successful `--test`, 1 for an invalid config or a failed start, 2 for invalid arguments.
 */
export async function runCli(runtime: Runtime): Promise<void> {
  const args = parseArgs(runtime.args);
  switch (args.kind) {
    case "help":
      runtime.writeStdout(helpText(PROGRAM_NAME));
      return void (await runtime.exit(0));
    case "version":
      runtime.writeStdout(`${PROGRAM_NAME} ${VERSION} (${runtime.name} ${runtime.version})\n`);
      return void (await runtime.exit(0));
    case "error":
      runtime.writeStderr(`${PROGRAM_NAME}: ${args.message}\nRun '${PROGRAM_NAME} --help' for usage.\n`);
      return void (await runtime.exit(2));
  }

  let loaded: LoadResult;
  const source = args.listen !== undefined ? "command line" : args.configPath ?? DEFAULT_CONFIG_PATH;
  let text: string | undefined;
  if (args.listen !== undefined) {
    loaded = configFromFlags({ listen: args.listen, upstreams: args.upstreams });
  } else {
    try {
      text = await runtime.readTextFile(source);
    } catch (error) {
      const detail = describeError(error);
      // The default path is relative, so it exists only when Cairn runs from the project folder.
      const hint = args.configPath === undefined
        ? `Run ${PROGRAM_NAME} from the folder that contains ${DEFAULT_CONFIG_PATH}, or give --config PATH.\n`
        : "";
      runtime.writeStderr(`${PROGRAM_NAME}: cannot read config file ${source}: ${detail}\n${hint}`);
      return void (await runtime.exit(1));
    }
    loaded = parseConfigText(text, source);
  }
  if (!loaded.ok) {
    runtime.writeStderr(formatProblems(loaded.errors));
    if (args.test) runtime.writeStderr(`${source}: configuration is invalid\n`);
    return void (await runtime.exit(1));
  }
  if (args.test) {
    const portProblem = args.workers > 1 ? fixedPortProblem(loaded.config) : undefined;
    if (portProblem !== undefined) {
      runtime.writeStderr(`${source}: ${portProblem}\n${source}: configuration is invalid\n`);
      return void (await runtime.exit(1));
    }
    runtime.writeStdout(`${source}: configuration is valid\n`);
    return void (await runtime.exit(0));
  }
  const admin = resolveAdmin(runtime, loaded.config, args.admin);
  if (!admin.ok) {
    runtime.writeStderr(`${PROGRAM_NAME}: ${admin.message}\n`);
    return void (await runtime.exit(1));
  }
  const file = args.listen !== undefined ? undefined : { path: source, text: text! };
  const workerIndex = runtime.getEnv(WORKER_INDEX_ENV);
  const workerToken = runtime.getEnv(WORKER_TOKEN_ENV);
  if (workerIndex !== undefined && workerToken !== undefined) {
    // A worker serves the config's listeners, and its supervisor reaches it on a private admin API.
    const worker = { index: Number(workerIndex), token: workerToken };
    const settings = { hostname: "127.0.0.1", port: 0, token: workerToken };
    return void (await serve(runtime, loaded.config, source, file, settings, worker));
  }
  if (args.workers > 1) {
    return void (await runSupervisor(runtime, loaded.config, {
      source,
      file,
      admin: admin.settings,
      count: args.workers,
    }));
  }
  await serve(runtime, loaded.config, source, file, admin.settings);
}

/** Address of the admin API and the bearer token it requires. */
export interface AdminSettings {
  hostname: string;
  port: number;
  token: string | undefined;
}

/**
 * Combines `--admin` with the `admin` section: the flag's address wins, and the token comes from
 * the environment variable that `admin.tokenEnv` names. Rejects an address other than loopback
 * without a token, and a `tokenEnv` whose variable is unset or empty.
 */
function resolveAdmin(
  runtime: Runtime,
  config: Config,
  flagAddress: string | undefined,
): { ok: true; settings: AdminSettings | undefined } | { ok: false; message: string } {
  let address: { hostname: string; port: number } | undefined = config.admin;
  let addressText = config.admin?.address;
  if (flagAddress !== undefined) {
    const parsed = parseListenAddress(flagAddress);
    if (!parsed.ok) return { ok: false, message: `--admin: ${parsed.message}` };
    address = parsed.value;
    addressText = flagAddress;
  }
  if (address === undefined) return { ok: true, settings: undefined };

  const tokenEnv = config.admin?.tokenEnv;
  let token: string | undefined;
  if (tokenEnv !== undefined) {
    token = runtime.getEnv(tokenEnv);
    if (token === undefined || token === "") {
      return {
        ok: false,
        message: `admin.tokenEnv names the environment variable ${tokenEnv}, which is not set or ` +
          "empty: set it to the bearer token for the admin API",
      };
    }
  }
  if (token === undefined && !isLoopbackHost(address.hostname)) {
    return {
      ok: false,
      message: `admin address ${addressText} is not a loopback address: set admin.tokenEnv in the ` +
        "configuration file to require a bearer token, or listen on 127.0.0.1",
    };
  }
  return { ok: true, settings: { hostname: address.hostname, port: address.port, token } };
}

/**
 * Runs the proxy until a shutdown signal. `file` is the config file and the text it was loaded
 * from, which reloads read again; undefined when the config came from command-line flags.
 * `worker` is set in a worker process of `--workers`: its listeners share their ports, its
 * supervisor runs the demo origin, watches the file and stops it with SIGTERM or by exiting,
 * and `adminSettings` is its private admin API.
 */
async function serve(
  runtime: Runtime,
  config: Config,
  source: string,
  file: { path: string; text: string } | undefined,
  adminSettings: AdminSettings | undefined,
  worker?: { index: number; token: string },
): Promise<void> {
  let accessFile: AppendFile | undefined;
  let accessFilePath: string | undefined;
  const logger = new Logger({
    level: config.logging.level,
    access: config.logging.access,
    format: config.logging.format,
    writeAccess: (text) => {
      if (accessFile === undefined) runtime.writeStdout(text);
      else accessFile.write(text);
    },
    writeStderr: (text) => runtime.writeStderr(text),
  });
  if (config.logging.access && config.logging.accessFile !== undefined) {
    accessFile = await openAccessFile(runtime, config.logging.accessFile, logger);
    if (accessFile === undefined) return void (await runtime.exit(1));
    accessFilePath = config.logging.accessFile;
  }
  let accessFileClosed: Promise<void> | undefined;
  /** Writes the access lines still held back and closes the access log file, once. */
  const closeAccessLog = async () => {
    logger.flush();
    accessFileClosed ??= accessFile?.close();
    await accessFileClosed;
  };
  const metrics = new MetricsCollector();

  let demo: Listener | undefined;
  let server: ProxyServer;
  try {
    if (config.demo && worker === undefined) {
      demo = await startDemoOrigin(runtime.network, config.demo);
      logger.log("info", "demo origin started", { address: formatSocketAddress(demo.address) });
    }
    server = await ProxyServer.start(config, {
      network: runtime.network,
      events: fanOutEvents(logger, metrics),
      readTextFile: (path) => runtime.readTextFile(path),
      reusePort: worker !== undefined,
    });
  } catch (error) {
    const detail = describeError(error);
    logger.log("error", `start failed: ${detail}`, { config: source });
    await demo?.close();
    await closeAccessLog();
    return void (await runtime.exit(1));
  }

  /**
   * Switches the proxy, then the logging settings, to a reloaded config. The access log file is
   * opened again even when its path is unchanged, so a reload after a rotation writes to the new
   * file. When the file cannot be opened, the old one stays in use.
   */
  const applyConfig = async (next: Config) => {
    const running = server.config;
    const summary = await server.reload(next);
    warnRestartOnlyChanges(logger, running, next);
    logger.configure(next.logging);
    // A worker's supervisor watches the file.
    if (worker === undefined) reloader.configureWatch(next.reload);
    const nextPath = next.logging.access ? next.logging.accessFile : undefined;
    let previous: AppendFile | undefined = accessFile;
    if (nextPath !== undefined) {
      const opened = await openAccessFileForReload(runtime, nextPath, logger);
      if (opened !== undefined) {
        logger.flush();
        accessFile = opened;
        accessFilePath = nextPath;
      } else {
        previous = undefined;
      }
    } else {
      logger.flush();
      accessFile = undefined;
      accessFilePath = undefined;
    }
    await previous?.close();
    return summary;
  };
  const reloader = new ConfigReloader({
    path: file?.path,
    initialText: file?.text,
    readTextFile: (path) => runtime.readTextFile(path),
    apply: applyConfig,
    onOutcome: (outcome, trigger) => {
      metrics.reloaded(outcome.status === "reloaded");
      logReload(logger, outcome, trigger, accessFilePath);
    },
    onWatchError: (error, path) => logWatchError(logger, error, path),
  });

  let admin: AdminServer | undefined;
  if (adminSettings !== undefined) {
    try {
      const app = createAdminApp({
        view: server,
        metrics,
        // A worker's private admin API is called only by its supervisor.
        reload: () => reloader.reload(worker === undefined ? "admin API" : "supervisor"),
        internalRoutes: worker !== undefined,
        token: adminSettings.token,
        onError: (error, path) => logger.log("error", `admin request failed: ${error.message}`, { path }),
      });
      admin = await startAdminServer(runtime.network, adminSettings, (request) => app.fetch(request), {
        onError: (error) => logger.log("error", `admin response failed: ${describeError(error)}`),
      });
    } catch (error) {
      const detail = describeError(error);
      logger.log("error", `start failed: ${detail}`, { config: source });
      await server.shutdown(0);
      await demo?.close();
      await closeAccessLog();
      return void (await runtime.exit(1));
    }
  }

  logger.log("info", "cairn started", {
    version: VERSION,
    runtime: `${runtime.name} ${runtime.version}`,
    config: source,
    listeners: server.listeners.map((entry) => ({
      name: entry.name,
      address: formatSocketAddress(entry.listener.address),
    })),
    ...(admin === undefined ? {} : { admin: formatSocketAddress(admin.address) }),
  }, worker !== undefined);

  if (worker === undefined) reloader.configureWatch(config.reload);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      logger.log("warn", `second ${signal} received: exiting without waiting for requests`);
      await closeAccessLog();
      return void (await runtime.exit(1));
    }
    stopping = true;
    reloader.stopWatching();
    const deadlineMs = server.config.shutdown.drainTimeoutMs;
    logger.log("info", `${signal} received: draining`, {
      openConnections: server.openConnections,
      deadlineMs,
    });
    // The admin API stays up through the drain, so /readyz returns 503 while requests finish.
    const aborted = await server.shutdown(deadlineMs);
    await admin?.close();
    await demo?.close();
    if (aborted === 0) logger.log("info", "cairn stopped");
    else logger.log("warn", `cairn stopped: closed ${aborted} connections still busy at the deadline`, { aborted });
    await closeAccessLog();
    await runtime.exit(0);
  };
  runtime.onSignal("SIGTERM", () => void stop("SIGTERM"));
  if (worker === undefined) {
    runtime.onSignal("SIGINT", () => void stop("SIGINT"));
  } else {
    // Ctrl-C reaches the whole process group, and the supervisor then sends SIGTERM to each
    // worker, which a worker would otherwise count as a second signal and exit at once.
    runtime.onSignal("SIGINT", () => {});
    // The pipe closes when the supervisor exits, even when it is killed.
    runtime.onStdinEnd(() => void stop("end of standard input"));
  }
  runtime.onSignal("SIGHUP", () => {
    if (!stopping) void reloader.reload("SIGHUP");
  });
}

/**
 * Opens `logging.accessFile` for appending. Returns undefined when the file cannot be opened,
 * after writing the reason to standard error. A later failed write is logged through `logger`.
 */
async function openAccessFile(
  runtime: Runtime,
  path: string,
  logger: Logger,
): Promise<AppendFile | undefined> {
  try {
    return await runtime.openAppendFile(path, reportAccessWriteFailure(logger, path));
  } catch (error) {
    const detail = describeError(error);
    runtime.writeStderr(
      `${PROGRAM_NAME}: cannot open access log file ${path}: ${detail}\n` +
        "Check that its folder exists and that Cairn may write there, or remove logging.accessFile.\n",
    );
    return undefined;
  }
}

/** Returns the handler that logs the first failed write to the access log file at `path`. */
function reportAccessWriteFailure(logger: Logger, path: string): (error: Error) => void {
  return (error) => {
    const message = "writing the access log file failed, so access lines are dropped until the " +
      `next reload or restart: ${error.message}`;
    logger.log("error", message, { path });
  };
}

/**
 * Opens the access log file of a reloaded config. Returns undefined, after logging the reason,
 * when the file cannot be opened.
 */
async function openAccessFileForReload(
  runtime: Runtime,
  path: string,
  logger: Logger,
): Promise<AppendFile | undefined> {
  try {
    return await runtime.openAppendFile(path, reportAccessWriteFailure(logger, path));
  } catch (error) {
    logger.log("error", `cannot open access log file ${path}, so the previous access log stays in use: ${describeError(error)}`);
    return undefined;
  }
}
