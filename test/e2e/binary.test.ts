import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { RawClient } from "./raw-client.ts";
import { answerEach, ScriptedOrigin } from "./raw-origin.ts";
import { buildBinaryIfStale, proxyCommand, ROOT, startProxy } from "./harness.ts";

/** Maximum wait for a `dist/cairn` run that is expected to exit on its own. */
const EXIT_TIMEOUT_MS = 20_000;

interface Completed {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `dist/cairn` with `args` in `cwd` until it exits, or kills it after EXIT_TIMEOUT_MS. */
async function runBinary(args: string[], cwd = ROOT): Promise<Completed> {
  const { command, argv } = proxyCommand("binary", args);
  const child = spawn(command, argv, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout!.setEncoding("utf8").on("data", (text: string) => (stdout += text));
  child.stderr!.setEncoding("utf8").on("data", (text: string) => (stderr += text));
  const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_TIMEOUT_MS);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearTimeout(timer);
  return { code, stdout, stderr };
}

describe("single-file executable dist/cairn", () => {
  before(() => {
    buildBinaryIfStale();
  });

  test("proxies a GET and exits 0 on SIGTERM", async () => {
    const origin = await ScriptedOrigin.start(
      answerEach("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"),
    );
    const proxy = await startProxy("binary", [
      "--listen",
      "127.0.0.1:0",
      "--upstream",
      `http://127.0.0.1:${origin.port}`,
    ]);
    try {
      const client = await RawClient.connect(proxy.port);
      client.send("GET /hello HTTP/1.1\r\nHost: example.test\r\n\r\n");
      const response = await client.readResponse();
      assert.equal(response.status, 200);
      assert.equal(response.body.toString("latin1"), "hello");
      assert.match(origin.allText, /^GET \/hello HTTP\/1\.1\r\n/);
      client.destroy();

      assert.equal(await proxy.stop("SIGTERM"), 0, proxy.stderrLines.join("\n"));
    } finally {
      await proxy.stop("SIGKILL");
      await origin.close();
    }
  });

  test("--version prints Cairn and Bun versions", async () => {
    const result = await runBinary(["--version"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^cairn \d+\.\d+\.\d+ \(bun \d+\.\d+\.\d+\)\n$/);
  });

  test("--test accepts config/cairn.yaml", async () => {
    const result = await runBinary(["--test", "--config", "config/cairn.yaml"]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout + result.stderr, /config\/cairn\.yaml: configuration is valid/);
  });

  test("default config path follows working directory", async () => {
    // An invalid config/cairn.yaml in another folder shows that the binary reads the file
    // relative to its working directory, not to the executable or the repository.
    const folder = mkdtempSync(join(tmpdir(), "cairn-binary-"));
    mkdirSync(join(folder, "config"));
    writeFileSync(join(folder, "config", "cairn.yaml"), "listeners: []\n");
    const invalid = await runBinary(["--test"], folder);
    assert.equal(invalid.code, 1, invalid.stdout + invalid.stderr);
    assert.match(invalid.stdout + invalid.stderr, /config\/cairn\.yaml/);

    copyFileSync(join(ROOT, "config", "cairn.yaml"), join(folder, "config", "cairn.yaml"));
    const valid = await runBinary(["--test"], folder);
    assert.equal(valid.code, 0, valid.stdout + valid.stderr);
  });

  test("missing default config suggests --config", async () => {
    const folder = mkdtempSync(join(tmpdir(), "cairn-binary-"));
    const missing = await runBinary([], folder);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^cairn: cannot read config file config\/cairn\.yaml: /);
    assert.match(missing.stderr, /Run cairn from the folder that contains config\/cairn\.yaml, or give --config PATH\./);
  });
});
