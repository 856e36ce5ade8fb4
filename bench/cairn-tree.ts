// The Cairn sources a benchmark runs: this repository's work tree, or one commit extracted with
// `git archive`, so that edits made to the work tree while a benchmark runs do not reach it.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { runCommand } from "./processes.ts";
import { BIN, ROOT } from "./setup.ts";

export interface CairnTree {
  /** Folder with Cairn's src/, adapters/, config/, package.json and a copy of bench/. */
  root: string;
  /** Commit and state, for the report. */
  commit: string;
}

/**
 * Returns the work tree when `revision` is undefined. Otherwise extracts that commit into
 * `dir`, links this repository's node_modules into it, and copies this repository's bench/
 * beside it, so that the micro-benchmarks import the commit's src/.
 */
export function prepareCairnTree(revision: string | undefined, dir: string): CairnTree {
  if (revision === undefined) return { root: ROOT, commit: workTreeCommit() };
  const commit = runCommand("git", ["rev-parse", "--verify", `${revision}^{commit}`], { cwd: ROOT }).trim();
  const root = join(dir, `cairn-${commit.slice(0, 12)}`);
  mkdirSync(root, { recursive: true });
  const archive = spawnSync("sh", ["-c", `git archive ${commit} | tar -x -C '${root}'`], { cwd: ROOT });
  if (archive.status !== 0) throw new Error(`git archive ${commit} failed: ${archive.stderr}`);
  symlinkSync(join(ROOT, "node_modules"), join(root, "node_modules"));
  cpSync(join(ROOT, "bench"), join(root, "bench"), {
    recursive: true,
    filter: (source) => !source.startsWith(join(ROOT, "bench", "results")),
  });
  return { root, commit: `${commit.slice(0, 12)} (extracted with git archive)` };
}

/** Bundles Cairn's Node entry point in `tree`, as `npm run build:node` does. */
export function buildCairnForNode(tree: CairnTree): void {
  runCommand(join(BIN, "bun"), [
    "build",
    join(tree.root, "adapters/node/main.ts"),
    "--target=node",
    `--outfile=${join(tree.root, "dist/node/cairn.js")}`,
  ], { cwd: tree.root });
}

function workTreeCommit(): string {
  const head = spawnSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: ROOT, encoding: "utf8" });
  if (head.status !== 0) return "unknown";
  const status = spawnSync("git", ["status", "--porcelain", "--", "src", "adapters"], { cwd: ROOT, encoding: "utf8" });
  const dirty = status.stdout.trim() === "" ? "" : " + uncommitted changes in src/ or adapters/";
  return `${head.stdout.trim()} (work tree)${dirty}`;
}
