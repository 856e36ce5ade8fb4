/**
 * Combines the Prometheus text of worker processes into one exposition. Every sample gets a
 * `worker` label with the given value: the worker's index, or `supervisor`. Each family keeps one `# HELP` and one `# TYPE` line,
 * followed by the samples of all workers. Families keep the order in which they first appear,
 * and a sample before any `# HELP` or `# TYPE` line is dropped.
 */
export function mergeMetrics(texts: readonly { worker: string; text: string }[]): string {
  const families = new Map<string, { header: string[]; samples: string[] }>();
  for (const { worker, text } of texts) {
    let family: { header: string[]; samples: string[] } | undefined;
    for (const line of text.split("\n")) {
      if (line === "") continue;
      if (line.startsWith("# HELP ") || line.startsWith("# TYPE ")) {
        const name = line.slice(7, line.indexOf(" ", 7));
        family = families.get(name);
        if (family === undefined) {
          family = { header: [], samples: [] };
          families.set(name, family);
        }
        if (family.header.length < 2 && !family.header.includes(line)) family.header.push(line);
        continue;
      }
      if (line.startsWith("#") || family === undefined) continue;
      family.samples.push(addLabel(line, "worker", String(worker)));
    }
  }
  let out = "";
  for (const family of families.values()) {
    out += family.header.join("\n") + "\n";
    for (const sample of family.samples) out += sample + "\n";
  }
  return out;
}

/** Adds `name="value"` as the first label of one sample line. */
function addLabel(line: string, name: string, value: string): string {
  const brace = line.indexOf("{");
  const space = line.indexOf(" ");
  if (brace !== -1 && brace < space) {
    const rest = line.slice(brace + 1);
    return `${line.slice(0, brace)}{${name}="${value}"${rest.startsWith("}") ? "" : ","}${rest}`;
  }
  return `${line.slice(0, space)}{${name}="${value}"}${line.slice(space)}`;
}
