// Summarises a V8 CPU profile (.cpuprofile, as written by `node --cpu-prof` and
// `bun --cpu-prof`) into the functions with the most self time and the most total time.
import { readFileSync } from "node:fs";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds since the previous sample. */
  timeDeltas: number[];
}

export interface FunctionTime {
  /** `name (file:line)`, with the file relative to `root`. */
  function: string;
  /** Share of all sampled time, in percent. */
  selfPercent: number;
  /** Share of sampled time spent in the function or in what it called, in percent. */
  totalPercent: number;
}

export interface ProfileSummary {
  sampledMs: number;
  /** Share of sampled time the VM spent idle, waiting for I/O, in percent. */
  idlePercent: number;
  bySelf: FunctionTime[];
  byTotal: FunctionTime[];
}

/** Reads a .cpuprofile and returns the top `count` functions by self and by total time. */
export function summarizeProfile(file: string, root: string, count: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, "utf8")) as CpuProfile;
  const parent = new Map<number, number>();
  const byId = new Map<number, ProfileNode>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const keyOf = (node: ProfileNode) => {
    const { functionName, url, lineNumber } = node.callFrame;
    const file = url.replace(`file://${root}/`, "").replace(`${root}/`, "");
    const name = functionName === "" ? "(anonymous)" : functionName;
    return file === "" ? name : `${name} (${file}:${lineNumber + 1})`;
  };

  const self = new Map<string, number>();
  const total = new Map<string, number>();
  let sampled = 0;
  let idle = 0;
  profile.samples.forEach((id, index) => {
    const delta = profile.timeDeltas[index] ?? 0;
    sampled += delta;
    const leaf = byId.get(id);
    if (leaf === undefined) return;
    const leafKey = keyOf(leaf);
    if (leafKey === "(idle)") idle += delta;
    self.set(leafKey, (self.get(leafKey) ?? 0) + delta);
    // Count each function once per sample, however often it recurs on the stack.
    const seen = new Set<string>();
    for (let node: ProfileNode | undefined = leaf; node !== undefined; node = byId.get(parent.get(node.id) ?? -1)) {
      const key = keyOf(node);
      if (seen.has(key)) continue;
      seen.add(key);
      total.set(key, (total.get(key) ?? 0) + delta);
    }
  });

  const row = (key: string): FunctionTime => ({
    function: key,
    selfPercent: (self.get(key) ?? 0) / sampled * 100,
    totalPercent: (total.get(key) ?? 0) / sampled * 100,
  });
  const top = (map: Map<string, number>, skip: Set<string>) =>
    [...map.entries()]
      .filter(([key]) => !skip.has(key))
      .sort((a, b) => b[1] - a[1])
      .slice(0, count)
      .map(([key]) => row(key));
  return {
    sampledMs: sampled / 1000,
    idlePercent: idle / sampled * 100,
    bySelf: top(self, new Set(["(idle)"])),
    // The root and the entry frames contain every sample, so they tell nothing.
    byTotal: top(total, new Set(["(root)", "(idle)", "(program)"])),
  };
}
