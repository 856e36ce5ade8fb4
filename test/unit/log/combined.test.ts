import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { formatCombined, formatCombinedTime } from "../../../src/log/combined.ts";
import { Logger } from "../../../src/log/logger.ts";
import type { AccessRecord } from "../../../src/proxy/events.ts";

const RECORD: AccessRecord = {
  startTime: Date.parse("2026-03-07T09:05:02.123Z"),
  requestId: "id-1",
  client: "203.0.113.9",
  method: "GET",
  target: "/index.html?q=1",
  httpVersion: "HTTP/1.1",
  host: "p.test",
  referer: "http://ref.test/start",
  userAgent: "Mozilla/5.0 (X11)",
  status: 200,
  bytesIn: 0,
  bytesOut: 2326,
  route: "main",
  upstream: "http://10.0.0.1:8080",
  upstreamTimeMs: 1.5,
  totalTimeMs: 2,
  error: undefined,
};

describe("formatCombined", () => {
  test("writes a known record", () => {
    assert.equal(
      formatCombined(RECORD),
      '203.0.113.9 - - [07/Mar/2026:09:05:02 +0000] "GET /index.html?q=1 HTTP/1.1" 200 2326 ' +
        '"http://ref.test/start" "Mozilla/5.0 (X11)"\n',
    );
  });

  test("writes - for missing fields", () => {
    const record: AccessRecord = { ...RECORD, referer: undefined, userAgent: "", bytesOut: 0, status: 499 };
    assert.equal(
      formatCombined(record),
      '203.0.113.9 - - [07/Mar/2026:09:05:02 +0000] "GET /index.html?q=1 HTTP/1.1" 499 - "-" "-"\n',
    );
  });

  test("writes - for a rejected request head", () => {
    const record: AccessRecord = { ...RECORD, method: "", target: "", httpVersion: undefined, status: 400, bytesOut: 0 };
    assert.match(formatCombined(record), / "-" 400 - /);
  });

  test("leaves out a missing version", () => {
    const line = formatCombined({ ...RECORD, httpVersion: undefined });
    assert.match(line, / "GET \/index\.html\?q=1" 200 /);
  });

  test("escapes quotes, backslashes and control characters", () => {
    const record: AccessRecord = {
      ...RECORD,
      target: '/a"b',
      referer: "x\\y",
      userAgent: 'say "hi"\n\x7f',
    };
    const line = formatCombined(record);
    assert.ok(line.includes(' "GET /a\\"b HTTP/1.1" '), line);
    assert.ok(line.includes(' "x\\\\y" '), line);
    assert.ok(line.endsWith(' "say \\"hi\\"\\x0a\\x7f"\n'), line);
    assert.equal(line.indexOf("\n"), line.length - 1, "one record is one line");
  });
});

describe("formatCombinedTime", () => {
  test("pads day and time fields", () => {
    assert.equal(formatCombinedTime(Date.parse("2026-12-01T00:00:09.000Z")), "01/Dec/2026:00:00:09 +0000");
  });
});

describe("Logger access format", () => {
  test("writes combined lines through writeAccess", () => {
    const written: string[] = [];
    const logger = new Logger({
      level: "error",
      access: true,
      format: "combined",
      writeAccess: (text) => written.push(text),
      writeStderr: () => {},
    });
    logger.access(RECORD);
    logger.flush();
    assert.deepEqual(written, [formatCombined(RECORD)]);
  });

  test("writes JSON lines by default", () => {
    const written: string[] = [];
    const logger = new Logger({ level: "error", access: true, writeAccess: (text) => written.push(text), writeStderr: () => {} });
    logger.access(RECORD);
    logger.flush();
    assert.equal(written.length, 1);
    const { startTime: _startTime, ...fields } = RECORD;
    assert.deepEqual(JSON.parse(written[0]), { time: "2026-03-07T09:05:02.123Z", ...JSON.parse(JSON.stringify(fields)) });
    assert.ok(written[0].startsWith('{"time":"2026-03-07T09:05:02.123Z","requestId":'), "time comes first");
  });
});
