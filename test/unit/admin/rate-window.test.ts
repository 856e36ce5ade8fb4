import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RateWindow } from "../../../src/admin/rate-window.ts";

describe("RateWindow", () => {
  test("divides by uptime in first window", () => {
    let now = 10_000_500;
    const window = new RateWindow(2, 60, () => now);
    for (let i = 0; i < 6; i++) window.record(0);
    window.record(1);
    assert.deepEqual(window.rates(), { seconds: 1, perSecond: [6, 1] });
    now += 2_000;
    assert.deepEqual(window.rates(), { seconds: 3, perSecond: [2, 1 / 3] });
  });

  test("forgets events older than the window", () => {
    let now = 0;
    const window = new RateWindow(1, 10, () => now);
    window.record(0);
    now = 5_000;
    window.record(0);
    window.record(0);
    now = 9_999;
    assert.deepEqual(window.rates(), { seconds: 10, perSecond: [0.3] });
    now = 10_000;
    assert.deepEqual(window.rates(), { seconds: 10, perSecond: [0.2] }, "the event of second 0 left");
    now = 15_000;
    assert.deepEqual(window.rates(), { seconds: 10, perSecond: [0] });
    now = 100_000;
    window.record(0);
    assert.deepEqual(window.rates(), { seconds: 10, perSecond: [0.1] }, "a long pause clears every slot");
  });
});
