import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { LineSplitter } from "../../../src/workers/line-splitter.ts";

function split(chunks: string[]): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter((line) => lines.push(line));
  for (const chunk of chunks) splitter.push(chunk);
  splitter.end();
  return lines;
}

describe("LineSplitter", () => {
  const text = '{"a":1}\n\nsecond line\nlast without newline';
  const expected = ['{"a":1}', "", "second line", "last without newline"];

  test("splits whole text", () => {
    assert.deepEqual(split([text]), expected);
  });

  test("splits text cut at every offset", () => {
    for (let offset = 0; offset <= text.length; offset++) {
      assert.deepEqual(split([text.slice(0, offset), text.slice(offset)]), expected, `offset ${offset}`);
    }
  });

  test("splits single-character chunks", () => {
    assert.deepEqual(split([...text]), expected);
  });

  test("ignores final trailing line feed", () => {
    assert.deepEqual(split(["a\n", "b\n"]), ["a", "b"]);
  });
});
