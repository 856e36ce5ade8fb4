import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { AppendFile } from "../../src/runtime.ts";

type OpenAppendFile = (path: string, onError: (error: Error) => void) => Promise<AppendFile>;

/** Checks a runtime's `openAppendFile` against files in a temporary directory. */
export function runAppendFileContract(runtimeName: string, openAppendFile: OpenAppendFile): void {
  describe(`${runtimeName} openAppendFile`, () => {
    let directory = "";
    const errors: Error[] = [];
    const recordError = (error: Error) => void errors.push(error);

    before(async () => {
      directory = await mkdtemp(join(tmpdir(), "cairn-append-"));
    });
    after(async () => {
      await rm(directory, { recursive: true, force: true });
    });

    test("creates a missing file", async () => {
      const path = join(directory, "new.log");
      const file = await openAppendFile(path, recordError);
      file.write("first\n");
      await file.close();
      assert.equal(await readFile(path, "utf8"), "first\n");
      assert.deepEqual(errors, []);
    });

    test("appends in order after existing text", async () => {
      const path = join(directory, "existing.log");
      await writeFile(path, "old\n");
      const file = await openAppendFile(path, recordError);
      const lines: string[] = [];
      for (let i = 0; i < 1000; i++) lines.push(`line ${i} ${"x".repeat(i % 97)}\n`);
      for (const line of lines) file.write(line);
      await file.close();
      assert.equal(await readFile(path, "utf8"), "old\n" + lines.join(""));
      assert.deepEqual(errors, []);
    });

    test("rejects a path in a missing directory", async () => {
      await assert.rejects(openAppendFile(join(directory, "missing", "access.log"), recordError));
    });
  });
}
