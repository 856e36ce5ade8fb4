import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { keepAliveTimeoutMs } from "../../../src/pool/keep-alive.ts";

describe("keepAliveTimeoutMs", () => {
  test("reads timeout in seconds", () => {
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeout=5"]), 5_000);
    assert.equal(keepAliveTimeoutMs(["keep-alive", "max=100, timeout=15"]), 15_000);
    assert.equal(keepAliveTimeoutMs(["KEEP-ALIVE", 'Timeout="2"']), 2_000);
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeout = 3"]), 3_000);
  });

  test("combines repeated fields", () => {
    const fields = ["Keep-Alive", "max=5", "Content-Length", "0", "Keep-Alive", "timeout=7"];
    assert.equal(keepAliveTimeoutMs(fields), 7_000);
  });

  test("ignores missing and invalid values", () => {
    assert.equal(keepAliveTimeoutMs([]), undefined);
    assert.equal(keepAliveTimeoutMs(["Connection", "keep-alive"]), undefined);
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "max=100"]), undefined);
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeout=soon"]), undefined);
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeout=-1"]), undefined);
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeout=1.5"]), undefined);
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeouts=5"]), undefined);
  });

  test("first valid timeout wins", () => {
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeout=x, timeout=4, timeout=9"]), 4_000);
  });

  test("caps very long timeouts at a day", () => {
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeout=9999999999"]), 86_400_000);
  });

  test("zero means do not reuse", () => {
    assert.equal(keepAliveTimeoutMs(["Keep-Alive", "timeout=0"]), 0);
  });
});
