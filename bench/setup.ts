// Installs what the benchmarks need when it is missing, and builds the bundles that run on Node.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { hasCommand } from "./processes.ts";

export const ROOT = join(import.meta.dirname ?? new URL(".", import.meta.url).pathname, "..");
export const BIN = join(ROOT, "node_modules", ".bin");
/** Bundles built for Node by `bun build --target=node`. */
export const DIST = join(ROOT, "dist", "bench");

/** Debian packages by the command each provides. */
const DEBIAN_PACKAGES: Record<string, string> = {
  nginx: "nginx",
  haproxy: "haproxy",
  wrk: "wrk",
  taskset: "util-linux",
};

/** npm packages the benchmarks import; both are devDependencies in package.json. */
const NPM_PACKAGES = ["http-proxy", "mitata"];

/**
 * Installs the missing commands among `commands` with apt-get, running `apt-get update` first
 * and only when something is missing.
 */
export function ensureDebianCommands(commands: readonly string[]): void {
  const missing = commands.filter((command) => !hasCommand(command));
  if (missing.length === 0) return;
  const packages = missing.map((command) => DEBIAN_PACKAGES[command] ?? command);
  console.error(`bench: installing ${packages.join(", ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  run("apt-get", ["update", "-qq"], env);
  run("apt-get", ["install", "-y", "-qq", ...packages], env);
}

/** Runs `npm install` when a package the benchmarks import is not in node_modules. */
export function ensureNpmPackages(): void {
  const missing = NPM_PACKAGES.filter((name) => !existsSync(join(ROOT, "node_modules", name)));
  if (missing.length === 0) return;
  console.error(`bench: ${missing.join(", ")} missing from node_modules; running npm install`);
  run("npm", ["install", "--no-audit", "--no-fund"], process.env, ROOT);
}

/** Bundles a TypeScript file for Node into dist/bench/ and returns the bundle's path. */
export function bundleForNode(source: string, name: string): string {
  const outfile = join(DIST, `${name}.js`);
  run(join(BIN, "bun"), ["build", join(ROOT, source), "--target=node", `--outfile=${outfile}`], process.env, ROOT, true);
  return outfile;
}

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  cwd = ROOT,
  quiet = false,
): void {
  const result = spawnSync(command, args, { stdio: ["ignore", quiet ? "ignore" : "inherit", "inherit"], env, cwd });
  if (result.error !== undefined) throw new Error(`${command} failed to start: ${result.error.message}`);
  if (result.status !== 0) throw new Error(`${command} ${args.join(" ")} exited ${result.status}`);
}
