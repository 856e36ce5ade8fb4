import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Deadline } from "../../../src/net/deadline.ts";

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe("Deadline", () => {
  test("fires once after the delay", async () => {
    let fired = 0;
    const deadline = new Deadline(() => fired++);
    deadline.set(20);
    assert.equal(deadline.active, true);
    await sleep(60);
    assert.equal(fired, 1);
    assert.equal(deadline.active, false);
  });

  test("moving it later delays the callback", async () => {
    let firedAt = 0;
    const started = performance.now();
    const deadline = new Deadline(() => (firedAt = performance.now() - started));
    deadline.set(20);
    await sleep(10);
    deadline.set(50);
    await sleep(100);
    assert.ok(firedAt >= 55, `fired after ${firedAt.toFixed(1)} ms`);
  });

  test("moving it earlier fires sooner", async () => {
    let firedAt = 0;
    const started = performance.now();
    const deadline = new Deadline(() => (firedAt = performance.now() - started));
    deadline.set(500);
    deadline.set(20);
    await sleep(80);
    assert.ok(firedAt > 0, "the callback ran");
    assert.ok(firedAt < 80, `fired after ${firedAt.toFixed(1)} ms`);
    deadline.dispose();
  });

  test("clear stops the callback", async () => {
    let fired = 0;
    const deadline = new Deadline(() => fired++);
    deadline.set(20);
    deadline.clear();
    await sleep(50);
    assert.equal(fired, 0);
  });

  test("set after clear arms it again", async () => {
    let fired = 0;
    const deadline = new Deadline(() => fired++);
    deadline.set(20);
    deadline.clear();
    deadline.set(30);
    await sleep(80);
    assert.equal(fired, 1);
  });

  test("dispose removes the timer", async () => {
    let fired = 0;
    const deadline = new Deadline(() => fired++);
    deadline.set(20);
    deadline.dispose();
    await sleep(50);
    assert.equal(fired, 0);
  });
});
