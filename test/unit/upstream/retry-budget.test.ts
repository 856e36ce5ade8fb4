import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { RetryBudget } from "../../../src/upstream/retry-budget.ts";

describe("RetryBudget", () => {
  test("allows the minimum when quiet", () => {
    const budget = new RetryBudget({ budgetPercent: 20 });
    budget.requestStarted();
    assert.equal(budget.tryStartRetry(), true);
    assert.equal(budget.tryStartRetry(), true);
    assert.equal(budget.tryStartRetry(), true);
    assert.equal(budget.tryStartRetry(), false);
    assert.deepEqual(budget.stats(), {
      activeRequests: 1,
      activeRetries: 3,
      allowedRetries: 3,
      rejectedRetries: 1,
    });
  });

  test("grows with requests in flight", () => {
    const budget = new RetryBudget({ budgetPercent: 20, minConcurrentRetries: 0 });
    for (let i = 0; i < 100; i++) budget.requestStarted();
    let allowed = 0;
    while (budget.tryStartRetry()) allowed++;
    assert.equal(allowed, 20);
  });

  test("finished retries free room", () => {
    const budget = new RetryBudget({ budgetPercent: 0, minConcurrentRetries: 1 });
    assert.equal(budget.tryStartRetry(), true);
    assert.equal(budget.tryStartRetry(), false);
    budget.retryFinished();
    assert.equal(budget.tryStartRetry(), true);
  });

  test("finished requests shrink the budget", () => {
    const budget = new RetryBudget({ budgetPercent: 50, minConcurrentRetries: 0 });
    for (let i = 0; i < 4; i++) budget.requestStarted();
    assert.equal(budget.stats().allowedRetries, 2);
    for (let i = 0; i < 4; i++) budget.requestFinished();
    budget.requestFinished();
    assert.equal(budget.stats().activeRequests, 0, "extra finishes do not go negative");
    assert.equal(budget.tryStartRetry(), false);
  });

  test("rejects invalid options", () => {
    assert.throws(() => new RetryBudget({ budgetPercent: 101 }), /from 0 to 100/);
    assert.throws(() => new RetryBudget({ budgetPercent: -1 }), /from 0 to 100/);
    assert.throws(
      () => new RetryBudget({ budgetPercent: 20, minConcurrentRetries: -1 }),
      /minConcurrentRetries/,
    );
  });
});
