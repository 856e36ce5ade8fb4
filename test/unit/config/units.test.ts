import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  MAX_DURATION_MS,
  parseDurationMs,
  parseSizeBytes,
  type UnitResult,
} from "../../../src/config/units.ts";

function valueOf(result: UnitResult): number {
  assert.ok(result.ok, `expected success, got: ${result.ok ? "" : result.message}`);
  return result.value;
}

function messageOf(result: UnitResult): string {
  assert.ok(!result.ok, `expected failure, got value ${result.ok ? result.value : ""}`);
  return result.message;
}

describe("parseDurationMs", () => {
  test("converts each unit to milliseconds", () => {
    assert.equal(valueOf(parseDurationMs("250ms")), 250);
    assert.equal(valueOf(parseDurationMs("5s")), 5_000);
    assert.equal(valueOf(parseDurationMs("2m")), 120_000);
    assert.equal(valueOf(parseDurationMs("1h")), 3_600_000);
  });

  test("accepts zero with or without unit", () => {
    assert.equal(valueOf(parseDurationMs("0")), 0);
    assert.equal(valueOf(parseDurationMs(0)), 0);
    assert.equal(valueOf(parseDurationMs("0s")), 0);
    assert.equal(valueOf(parseDurationMs("0ms")), 0);
  });

  test("rejects bare nonzero number", () => {
    assert.match(messageOf(parseDurationMs("30")), /duration "30" has no unit: write 30ms, 30s/);
    assert.match(messageOf(parseDurationMs(30)), /has no unit/);
  });

  test("rejects negative duration", () => {
    assert.match(messageOf(parseDurationMs("-5s")), /negative duration "-5s"/);
    assert.match(messageOf(parseDurationMs(-5)), /negative duration "-5"/);
  });

  test("rejects decimals with exact alternative", () => {
    assert.match(messageOf(parseDurationMs("1.5s")), /decimal duration "1.5s" .* write 1500ms$/);
    assert.match(messageOf(parseDurationMs("1.5h")), /write 90m$/);
    assert.match(messageOf(parseDurationMs("0.5m")), /write 30s$/);
    assert.match(messageOf(parseDurationMs("0.5ms")), /durations are whole milliseconds/);
    assert.match(messageOf(parseDurationMs(1.5)), /duration "1.5" has no unit/);
  });

  test("rejects unknown unit and suggests case", () => {
    const message = messageOf(parseDurationMs("5x"));
    assert.match(message, /unknown unit "x" in duration "5x": use ms, s, m or h/);
    assert.match(messageOf(parseDurationMs("5S")), /did you mean "s"\?/);
    assert.match(messageOf(parseDurationMs("5sec")), /unknown unit "sec"/);
    assert.match(messageOf(parseDurationMs("1d")), /unknown unit "d"/);
  });

  test("rejects malformed text", () => {
    for (const text of ["", "s", "5 s", " 5s", "5s ", "1h30m", "+5s", "1e3ms", "0x10s", "five"]) {
      const result = parseDurationMs(text);
      assert.equal(result.ok, false, `"${text}" should be rejected`);
    }
    assert.match(messageOf(parseDurationMs("")), /empty duration/);
    assert.match(messageOf(parseDurationMs("5 s")), /invalid duration "5 s"/);
  });

  test("enforces timer maximum", () => {
    assert.equal(valueOf(parseDurationMs(`${MAX_DURATION_MS}ms`)), MAX_DURATION_MS);
    assert.match(messageOf(parseDurationMs(`${MAX_DURATION_MS + 1}ms`)), /too large/);
    assert.equal(valueOf(parseDurationMs("596h")), 596 * 3_600_000);
    assert.match(messageOf(parseDurationMs("597h")), /too large: the maximum is 2147483647ms/);
    assert.match(messageOf(parseDurationMs("99999999999999999999s")), /too large/);
  });
});

describe("parseSizeBytes", () => {
  test("counts bare integers as bytes", () => {
    assert.equal(valueOf(parseSizeBytes("512")), 512);
    assert.equal(valueOf(parseSizeBytes(512)), 512);
    assert.equal(valueOf(parseSizeBytes("0")), 0);
    assert.equal(valueOf(parseSizeBytes("512B")), 512);
  });

  test("uses powers of 1024 for IEC units", () => {
    assert.equal(valueOf(parseSizeBytes("64KiB")), 65_536);
    assert.equal(valueOf(parseSizeBytes("1MiB")), 1_048_576);
    assert.equal(valueOf(parseSizeBytes("1GiB")), 1_073_741_824);
    assert.equal(valueOf(parseSizeBytes("2TiB")), 2 * 1024 ** 4);
  });

  test("uses powers of 1000 for SI units", () => {
    assert.equal(valueOf(parseSizeBytes("64KB")), 64_000);
    assert.equal(valueOf(parseSizeBytes("1MB")), 1_000_000);
    assert.equal(valueOf(parseSizeBytes("1GB")), 1_000_000_000);
    assert.equal(valueOf(parseSizeBytes("1TB")), 1_000_000_000_000);
  });

  test("rejects wrong case and suggests unit", () => {
    assert.match(messageOf(parseSizeBytes("64kib")), /unknown unit "kib".*did you mean "KiB"\?/);
    assert.match(messageOf(parseSizeBytes("1mb")), /did you mean "MB"\?/);
    assert.match(messageOf(parseSizeBytes("1K")), /unknown unit "K" in size "1K"/);
  });

  test("rejects negative and decimal sizes", () => {
    assert.match(messageOf(parseSizeBytes("-1KiB")), /negative size "-1KiB"/);
    assert.match(messageOf(parseSizeBytes(-1)), /negative size/);
    assert.match(messageOf(parseSizeBytes("1.5MiB")), /decimal size "1.5MiB" .* write 1536KiB$/);
    assert.match(messageOf(parseSizeBytes("1.5GB")), /write 1500MB$/);
    assert.match(messageOf(parseSizeBytes("1.5")), /sizes are whole bytes/);
    assert.match(messageOf(parseSizeBytes(0.5)), /decimal size/);
  });

  test("rejects malformed text", () => {
    for (const text of ["", "KiB", "1 KiB", "1KiB ", "1e3", "0x10", "lots"]) {
      const result = parseSizeBytes(text);
      assert.equal(result.ok, false, `"${text}" should be rejected`);
    }
  });

  test("rejects sizes beyond safe integers", () => {
    assert.equal(valueOf(parseSizeBytes("8191TiB")), 8191 * 1024 ** 4);
    assert.match(messageOf(parseSizeBytes("8192TiB")), /too large/);
    assert.match(messageOf(parseSizeBytes("99999999999999999999")), /too large/);
  });
});
