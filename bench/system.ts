// The machine and the versions of every runtime and tool, for the report.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import { join } from "node:path";
import { BIN, ROOT } from "./setup.ts";

export interface SystemInfo {
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  /** The Cairn sources measured: a commit, and whether the work tree had changes. */
  commit: string;
  /** Tool or runtime name to its version line. */
  versions: Record<string, string>;
}

/** Reads the machine and versions; `commit` names the Cairn sources that were measured. */
export function readSystemInfo(commit: string): SystemInfo {
  const cpuList = cpus();
  return {
    cpuModel: cpuList[0]?.model.trim() ?? "unknown",
    cores: cpuList.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30 * 10) / 10,
    kernel: `Linux ${release()}`,
    commit,
    versions: {
      cairn: `${packageVersion(ROOT)}`,
      node: firstLine("node", ["--version"]).replace(/^v/, ""),
      bun: firstLine(join(BIN, "bun"), ["--version"]),
      deno: firstLine(join(BIN, "deno"), ["--version"]).replace(/^deno /, "").replace(/ \(.*$/, ""),
      nginx: firstLine("nginx", ["-v"]).replace(/^nginx version: nginx\//, ""),
      haproxy: firstLine("haproxy", ["-v"]).replace(/^HAProxy version /, "").replace(/ \d{4}\/.*$/, ""),
      wrk: firstLine("wrk", ["-v"]).replace(/^wrk /, "").replace(/ \[.*$/, ""),
      "http-proxy": packageVersion(join(ROOT, "node_modules/http-proxy")),
      mitata: packageVersion(join(ROOT, "node_modules/mitata")),
    },
  };
}

/** Returns the first line a command prints on stdout or stderr (nginx prints on stderr). */
function firstLine(command: string, args: string[]): string {
  const result = spawnSync(command, args, { encoding: "utf8" });
  if (result.error !== undefined) return "not installed";
  return (result.stdout + result.stderr).split("\n")[0].trim();
}

function packageVersion(dir: string): string {
  try {
    return JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).version;
  } catch {
    return "not installed";
  }
}
