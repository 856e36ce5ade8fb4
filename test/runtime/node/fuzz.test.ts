import assert from "node:assert/strict";
import { test } from "node:test";
import { runDifferentialFuzz } from "../../fuzz/differential.ts";

test("parser accepts no framing llhttp rejects", () => {
  const report = runDifferentialFuzz(50_000, 20261204);
  const shown = report.failures.map((failure) => `${failure.kind}: ${failure.detail}: ${JSON.stringify(failure.input)}`);
  assert.deepEqual(shown, []);
  assert.ok(report.bothAccepted > 1_000, `only ${report.bothAccepted} inputs were accepted by both parsers`);
});
