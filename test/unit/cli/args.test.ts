import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  DEFAULT_CONFIG_PATH,
  helpText,
  parseArgs,
  type ParsedArgs,
} from "../../../src/cli/args.ts";

function errorOf(args: string[]): string {
  const result = parseArgs(args);
  assert.equal(result.kind, "error", `expected an error for ${JSON.stringify(args)}`);
  return result.kind === "error" ? result.message : "";
}

describe("parseArgs", () => {
  test("no arguments runs default config", () => {
    assert.deepEqual(parseArgs([]), { kind: "run", upstreams: [], test: false, workers: 1 });
    assert.equal(DEFAULT_CONFIG_PATH, "config/cairn.yaml");
  });

  test("separator before options is skipped", () => {
    const expected: ParsedArgs = { kind: "run", configPath: "x.yaml", upstreams: [], test: false, workers: 1 };
    assert.deepEqual(parseArgs(["--", "--config", "x.yaml"]), expected);
  });

  test("config path as separate value", () => {
    const expected: ParsedArgs = { kind: "run", configPath: "x.yaml", upstreams: [], test: false, workers: 1 };
    assert.deepEqual(parseArgs(["--config", "x.yaml"]), expected);
  });

  test("config path after equals", () => {
    const expected: ParsedArgs = {
      kind: "run",
      configPath: "a=b.yaml",
      upstreams: [],
      test: false,
      workers: 1,
    };
    assert.deepEqual(parseArgs(["--config=a=b.yaml"]), expected);
  });

  test("test flag in any position", () => {
    const expected: ParsedArgs = { kind: "run", configPath: "x.yaml", upstreams: [], test: true, workers: 1 };
    assert.deepEqual(parseArgs(["--test", "--config", "x.yaml"]), expected);
    assert.deepEqual(parseArgs(["--config", "x.yaml", "--test"]), expected);
  });

  test("listen with repeated upstreams", () => {
    const result = parseArgs([
      "--listen",
      "127.0.0.1:8081",
      "--upstream",
      "http://127.0.0.1:3000",
      "--upstream=http://127.0.0.1:3001",
    ]);
    assert.deepEqual(result, {
      kind: "run",
      listen: "127.0.0.1:8081",
      upstreams: ["http://127.0.0.1:3000", "http://127.0.0.1:3001"],
      test: false,
      workers: 1,
    });
  });

  test("listen with IPv6 address", () => {
    const result = parseArgs(["--listen=[::1]:8080", "--upstream", "http://[::1]:3000", "--test"]);
    assert.deepEqual(result, {
      kind: "run",
      listen: "[::1]:8080",
      upstreams: ["http://[::1]:3000"],
      test: true,
      workers: 1,
    });
  });

  test("help and version", () => {
    assert.deepEqual(parseArgs(["--help"]), { kind: "help" });
    assert.deepEqual(parseArgs(["-h"]), { kind: "help" });
    assert.deepEqual(parseArgs(["--version"]), { kind: "version" });
  });

  test("short version flag", () => {
    assert.deepEqual(parseArgs(["-v"]), { kind: "version" });
    assert.deepEqual(parseArgs(["-v", "-h"]), { kind: "help" });
  });

  test("help wins over mistakes", () => {
    assert.deepEqual(parseArgs(["--bogus", "--help"]), { kind: "help" });
    assert.deepEqual(parseArgs(["--version", "-h"]), { kind: "help" });
    assert.deepEqual(parseArgs(["--listen", "x:1", "--version"]), { kind: "version" });
  });

  test("listen without upstream", () => {
    assert.match(errorOf(["--listen", "127.0.0.1:8081"]), /--listen needs at least one --upstream/);
  });

  test("upstream without listen", () => {
    assert.match(errorOf(["--upstream", "http://a:1"]), /--upstream needs --listen HOST:PORT/);
  });

  test("config with listen", () => {
    const message = errorOf(["--config", "x.yaml", "--listen", "a:1", "--upstream", "http://a:1"]);
    assert.match(message, /--config cannot be combined with --listen/);
  });

  test("unknown option without close match", () => {
    // The caller prints the pointer to --help, so the message must not repeat it.
    assert.equal(errorOf(["--verbose"]), 'unknown option "--verbose"');
    assert.equal(errorOf(["-x"]), 'unknown option "-x"');
    assert.equal(errorOf(["--host", "a"]), 'unknown option "--host"');
  });

  test("unknown option suggests closest", () => {
    assert.equal(
      errorOf(["--confg", "x.yaml"]),
      'unknown option "--confg": did you mean "--config"?',
    );
    assert.equal(
      errorOf(["--conifg=x.yaml"]),
      'unknown option "--conifg": did you mean "--config"?',
    );
    assert.match(errorOf(["-config", "x.yaml"]), /did you mean "--config"\?$/);
    assert.match(errorOf(["--upstreams", "http://a:1"]), /did you mean "--upstream"\?$/);
    assert.match(errorOf(["--Listen", "a:1"]), /did you mean "--listen"\?$/);
  });

  test("positional argument suggests config", () => {
    assert.equal(
      errorOf(["cairn.yaml"]),
      'unexpected argument "cairn.yaml": to load a configuration file, use --config cairn.yaml',
    );
  });

  test("missing option values", () => {
    assert.equal(errorOf(["--config"]), "--config requires a value: --config PATH");
    assert.equal(errorOf(["--config="]), "--config requires a value: --config PATH");
    assert.equal(errorOf(["--config", "--test"]), "--config requires a value: --config PATH");
    assert.equal(errorOf(["--listen"]), "--listen requires a value: --listen HOST:PORT");
    assert.equal(
      errorOf(["--listen", "a:1", "--upstream"]),
      "--upstream requires a value: --upstream URL",
    );
  });

  test("value on boolean flag", () => {
    assert.match(errorOf(["--test=yes"]), /--test does not take a value: remove "=yes"/);
  });

  test("repeated single-value options", () => {
    assert.match(errorOf(["--config", "a.yaml", "--config", "b.yaml"]), /--config is given twice/);
    const listenTwice = ["--listen", "a:1", "--listen", "a:2", "--upstream", "http://a:1"];
    assert.match(errorOf(listenTwice), /--listen is given twice/);
  });

  test("first mistake reported", () => {
    assert.match(errorOf(["--one", "--two"]), /"--one"/);
  });
});

describe("parseArgs --admin", () => {
  test("with config file", () => {
    const expected: ParsedArgs = {
      kind: "run",
      configPath: "x.yaml",
      admin: "127.0.0.1:9901",
      upstreams: [],
      test: false,
      workers: 1,
    };
    assert.deepEqual(parseArgs(["--config", "x.yaml", "--admin", "127.0.0.1:9901"]), expected);
  });

  test("with listen flags", () => {
    const result = parseArgs(["--listen", ":8080", "--upstream", "http://a", "--admin=[::1]:0"]);
    assert.equal(result.kind, "run");
    assert.equal(result.kind === "run" ? result.admin : undefined, "[::1]:0");
  });

  test("invalid address", () => {
    assert.match(errorOf(["--admin", "9901"]), /^--admin: address "9901" has no host/);
  });

  test("missing value", () => {
    assert.equal(errorOf(["--admin"]), "--admin requires a value: --admin HOST:PORT");
  });

  test("given twice", () => {
    assert.match(errorOf(["--admin", "127.0.0.1:1", "--admin", "127.0.0.1:2"]), /--admin is given twice/);
  });

  test("misspelling suggests --admin", () => {
    assert.match(errorOf(["--admn", "127.0.0.1:1"]), /did you mean "--admin"\?/);
  });
});

describe("helpText", () => {
  const text = helpText("cairn");

  test("lists every option", () => {
    for (const option of ["--config PATH", "--test", "--listen HOST:PORT", "--upstream URL"]) {
      assert.ok(text.includes(option), `help text lacks ${option}`);
    }
    assert.ok(text.includes("--version"));
    assert.ok(text.includes("-h, --help"));
  });

  test("shows examples", () => {
    const examples = [
      "  cairn\n",
      "  cairn --config config/cairn.yaml\n",
      "  cairn --listen 127.0.0.1:8081 --upstream http://127.0.0.1:3000\n",
      "  cairn --test --config x.yaml\n",
    ];
    for (const example of examples) {
      assert.ok(text.includes(example), `help text lacks example ${JSON.stringify(example)}`);
    }
  });

  test("names default config", () => {
    assert.match(text, /With no arguments, cairn loads config\/cairn\.yaml/);
  });

  test("explains relative config paths", () => {
    const prose = text.replace(/\s+/g, " ");
    assert.match(
      prose,
      /config\/cairn\.yaml and serves it\. That path, and a relative --config PATH, are resolved from the working directory/,
    );
  });

  test("lists short version flag", () => {
    assert.ok(text.includes("  -v, --version "), "help text lacks -v, --version");
  });

  test("uses given program name", () => {
    const other = helpText("cairn-dev");
    assert.ok(other.includes("  cairn-dev --config config/cairn.yaml\n"));
  });

  test("fits 80 columns", () => {
    for (const line of text.split("\n")) {
      assert.ok(line.length <= 80, `line too long: ${line}`);
    }
    assert.ok(text.endsWith("\n"));
  });
});

describe("parseArgs --workers", () => {
  test("takes a count", () => {
    const result = parseArgs(["--config", "x.yaml", "--workers", "4"]);
    assert.equal(result.kind === "run" && result.workers, 4);
    const inline = parseArgs(["--workers=2"]);
    assert.equal(inline.kind === "run" && inline.workers, 2);
  });

  test("rejects an invalid count", () => {
    for (const value of ["0", "-1", "1.5", "two", "257", "0x2"]) {
      const result = parseArgs([`--workers=${value}`]);
      assert.equal(result.kind, "error", value);
      assert.match(result.kind === "error" ? result.message : "", /--workers takes a whole number from 1 to 256/);
    }
    const separate = parseArgs(["--workers", "-1"]);
    assert.equal(separate.kind === "error" && separate.message, '--workers takes a whole number from 1 to 256, not "-1"');
    const missing = parseArgs(["--workers"]);
    assert.equal(missing.kind === "error" && missing.message, "--workers requires a value: --workers N");
  });

  test("suggests --workers for a misspelling", () => {
    const result = parseArgs(["--worker", "2"]);
    assert.match(result.kind === "error" ? result.message : "", /did you mean "--workers"/);
  });
});
