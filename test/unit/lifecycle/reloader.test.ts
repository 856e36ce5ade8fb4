import assert from "node:assert/strict";
import { describe, test } from "node:test";
import type { Config } from "../../../src/config/schema.ts";
import { ConfigReloader, type ReloadOutcome, type ReloadTrigger } from "../../../src/lifecycle/reloader.ts";
import type { ReloadSummary } from "../../../src/proxy/server.ts";

const VALID = `
listeners:
  - address: 127.0.0.1:8080
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:9000
routes:
  - upstream: app
`;

const SUMMARY: ReloadSummary = {
  upstreams: { added: [], changed: [], removed: [], kept: ["app"] },
  listeners: { added: [], removed: [], kept: ["listener-0"] },
  routes: 1,
};

/** A reloader over an in-memory file whose `apply` records the configs it gets. */
function fixture(options: { path?: string; apply?: (config: Config) => Promise<ReloadSummary> } = {}) {
  const file = { text: VALID, readable: true, reads: 0 };
  const applied: Config[] = [];
  const outcomes: { outcome: ReloadOutcome; trigger: ReloadTrigger }[] = [];
  const reloader = new ConfigReloader({
    path: "path" in options ? options.path : "cairn.yaml",
    initialText: VALID,
    readTextFile: (path) => {
      file.reads++;
      assert.equal(path, "cairn.yaml");
      return file.readable ? Promise.resolve(file.text) : Promise.reject(new Error("ENOENT: no such file"));
    },
    apply: options.apply ?? ((config) => {
      applied.push(config);
      return Promise.resolve(SUMMARY);
    }),
    onOutcome: (outcome, trigger) => outcomes.push({ outcome, trigger }),
  });
  return { file, applied, outcomes, reloader };
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("ConfigReloader", () => {
  test("applies a valid file and reports what changed", async () => {
    const { reloader, applied, outcomes } = fixture();
    const outcome = await reloader.reload("SIGHUP");
    assert.deepEqual(outcome, { status: "reloaded", summary: SUMMARY });
    assert.equal(applied.length, 1);
    assert.equal(applied[0].routes[0].upstream, "app");
    assert.deepEqual(outcomes.map((entry) => entry.trigger), ["SIGHUP"]);
  });

  test("rejects an invalid file with its problems and applies nothing", async () => {
    const { reloader, applied, file } = fixture();
    file.text = VALID.replace("upstream: app", "upstream: api");
    const outcome = await reloader.reload("admin API");
    assert.equal(outcome.status, "invalid");
    assert.ok(outcome.status === "invalid" && outcome.problems.some((problem) => problem.path === "routes[0].upstream"));
    assert.equal(applied.length, 0);
  });

  test("reports a file that cannot be read, and a config that cannot be applied", async () => {
    const unreadable = fixture();
    unreadable.file.readable = false;
    const outcome = await unreadable.reloader.reload("SIGHUP");
    assert.equal(outcome.status, "failed");
    assert.match(outcome.status === "failed" ? outcome.message : "", /cannot read config file cairn\.yaml: ENOENT/);

    const refused = fixture({ apply: () => Promise.reject(new Error("listener listener-0: address in use")) });
    assert.deepEqual(await refused.reloader.reload("SIGHUP"), {
      status: "failed",
      message: "listener listener-0: address in use",
    });
  });

  test("has nothing to reload for a config from command-line flags", async () => {
    const { reloader, file } = fixture({ path: undefined });
    const outcome = await reloader.reload("SIGHUP");
    assert.equal(outcome.status, "unavailable");
    assert.equal(file.reads, 0);
  });

  test("runs one reload at a time, in the order asked", async () => {
    const order: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let calls = 0;
    const { reloader } = fixture({
      apply: async () => {
        const call = ++calls;
        order.push(`start ${call}`);
        if (call === 1) await gate;
        order.push(`end ${call}`);
        return SUMMARY;
      },
    });
    const first = reloader.reload("SIGHUP");
    const second = reloader.reload("admin API");
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(order, ["start 1"]);
    release();
    await Promise.all([first, second]);
    assert.deepEqual(order, ["start 1", "end 1", "start 2", "end 2"]);
  });

  test("watching reloads once per change of the text, also after an invalid change", async () => {
    const { reloader, file, outcomes } = fixture();
    reloader.watch(10);
    try {
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.equal(outcomes.length, 0, "an unchanged file is not reloaded");
      file.text = VALID + "\n# changed\n";
      await until(() => outcomes.length === 1);
      assert.equal(outcomes[0].trigger, "file change");
      assert.equal(outcomes[0].outcome.status, "reloaded");

      file.text = "listeners: [";
      await until(() => outcomes.length === 2);
      assert.equal(outcomes[1].outcome.status, "invalid");
      // Missing for a moment, as during a replace: no reload, and no error.
      file.readable = false;
      await new Promise((resolve) => setTimeout(resolve, 60));
      file.readable = true;
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.equal(outcomes.length, 2, "the same invalid text is not reported again");
    } finally {
      reloader.stopWatching();
    }
    const reads = file.reads;
    await new Promise((resolve) => setTimeout(resolve, 60));
    assert.equal(file.reads, reads, "stopWatching ends the reads");
  });

  test("a reload by signal updates the text the watcher compares against", async () => {
    const { reloader, file, outcomes } = fixture();
    file.text = VALID + "\n# edited\n";
    await reloader.reload("SIGHUP");
    reloader.watch(10);
    try {
      await new Promise((resolve) => setTimeout(resolve, 60));
      assert.deepEqual(outcomes.map((entry) => entry.trigger), ["SIGHUP"]);
    } finally {
      reloader.stopWatching();
    }
  });
});
