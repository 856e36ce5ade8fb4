import type { AppendFile } from "../../src/runtime.ts";

const encoder = new TextEncoder();

/**
 * Opens `path` for appending. Writes run one after another on a promise chain, because
 * `Deno.FsFile.write` may write only part of its bytes and concurrent writes could interleave.
 */
export async function openAppendFile(path: string, onError: (error: Error) => void): Promise<AppendFile> {
  const file = await Deno.open(path, { append: true, create: true });
  let failed = false;
  let queue = Promise.resolve();
  const writeText = async (text: string) => {
    let bytes = encoder.encode(text);
    while (bytes.length > 0) bytes = bytes.subarray(await file.write(bytes));
  };
  return {
    write: (text) => {
      queue = queue.then(async () => {
        if (failed) return;
        try {
          await writeText(text);
        } catch (error) {
          failed = true;
          onError(error instanceof Error ? error : new Error(String(error)));
        }
      });
    },
    close: async () => {
      await queue;
      file.close();
    },
  };
}
