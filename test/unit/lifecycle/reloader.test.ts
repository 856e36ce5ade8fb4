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

/**
 * Creates a reloader over an in-memory file. It records the configs that `apply` receives, the
 * outcomes and the watcher errors.
 */
function fixture(
  options: {
    path?: string;
    apply?: (config: Config) => Promise<ReloadSummary>;
    onOutcome?: (outcome: ReloadOutcome) => void;
  } = {},
) {
  const file = { text: VALID, readable: true, reads: 0 };
  const applied: Config[] = [];
  const outcomes: { outcome: ReloadOutcome; trigger: ReloadTrigger }[] = [];
  const watchErrors: { error: unknown; path: string }[] = [];
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
    onOutcome: (outcome, trigger) => {
      outcomes.push({ outcome, trigger });
      options.onOutcome?.(outcome);
    },
    onWatchError: (error, path) => watchErrors.push({ error, path }),
  });
  return { file, applied, outcomes, watchErrors, reloader };
}

async function until(check: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe("ConfigReloader", () => {
  test("applies valid file with summary", async () => {
    const { reloader, applied, outcomes } = fixture();
    const outcome = await reloader.reload("SIGHUP");
    assert.deepEqual(outcome, { status: "reloaded", summary: SUMMARY });
    assert.equal(applied.length, 1);
    assert.equal(applied[0].routes[0].upstream, "app");
    assert.deepEqual(outcomes.map((entry) => entry.trigger), ["SIGHUP"]);
  });

  test("rejects invalid file with problems", async () => {
    const { reloader, applied, file } = fixture();
    file.text = VALID.replace("upstream: app", "upstream: api");
    const outcome = await reloader.reload("admin API");
    assert.equal(outcome.status, "invalid");
    assert.ok(outcome.status === "invalid" && outcome.problems.some((problem) => problem.path === "routes[0].upstream"));
    assert.equal(applied.length, 0);
  });

  test("reports unreadable file and failed apply", async () => {
    const unreadable = fixture();
    unreadable.file.readable = false;
    const outcome = await unreadable.reloader.reload("SIGHUP");
    assert.equal(outcome.status, "failed");
    assert.match(outcome.status === "failed" ? outcome.message : "", /cannot read config file cairn\.yaml: ENOENT/);

    const rejected = fixture({ apply: () => Promise.reject(new Error("listener listener-0: address in use")) });
    assert.deepEqual(await rejected.reloader.reload("SIGHUP"), {
      status: "failed",
      message: "listener listener-0: address in use",
    });
  });

  test("is unavailable without config file", async () => {
    const { reloader, file } = fixture({ path: undefined });
    const outcome = await reloader.reload("SIGHUP");
    assert.equal(outcome.status, "unavailable");
    assert.equal(file.reads, 0);
  });

  test("queues concurrent reloads in order", async () => {
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

  test("watch reloads once per change", async () => {
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
      // Missing for a moment, as during a replace: no reload, and no outcome.
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

  test("reload updates watcher's last text", async () => {
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

  test("watch reports failed read once", async () => {
    const { reloader, file, outcomes, watchErrors } = fixture();
    file.readable = false;
    reloader.watch(10);
    try {
      await until(() => file.reads >= 5);
      assert.equal(watchErrors.length, 1, "a run of failed reads is reported once");
      assert.equal(watchErrors[0].path, "cairn.yaml");
      assert.match(String(watchErrors[0].error), /ENOENT/);
      assert.equal(outcomes.length, 0);

      file.readable = true;
      const reads = file.reads;
      await until(() => file.reads >= reads + 2);
      file.readable = false;
      await until(() => watchErrors.length === 2);
      assert.equal(outcomes.length, 0, "an unchanged file is not reloaded after a failed read");
    } finally {
      reloader.stopWatching();
    }
  });

  test("throwing onOutcome keeps queue running", async () => {
    let throws = true;
    const { reloader, applied } = fixture({
      onOutcome: () => {
        if (throws) throw new Error("onOutcome failed");
      },
    });
    await assert.rejects(reloader.reload("SIGHUP"), /onOutcome failed/);
    throws = false;
    const outcome = await reloader.reload("admin API");
    assert.equal(outcome.status, "reloaded");
    assert.equal(applied.length, 2);
  });
});
