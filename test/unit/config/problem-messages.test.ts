import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  configFromFlags,
  type ConfigProblem,
  formatProblems,
  parseConfigText,
} from "../../../src/config/mod.ts";

/** The smallest valid file; tests replace parts of it. */
const MINIMAL = `
listeners:
  - address: 127.0.0.1:8080
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:3000
routes:
  - upstream: app
`;

function parseErrors(text: string): ConfigProblem[] {
  const result = parseConfigText(text, "my.yaml");
  assert.equal(result.ok, false, "expected problems, got a valid config");
  return result.ok ? [] : result.errors;
}

function flagErrors(listen: string, upstreams: string[]): ConfigProblem[] {
  const result = configFromFlags({ listen, upstreams });
  assert.equal(result.ok, false, "expected problems, got a valid config");
  return result.ok ? [] : result.errors;
}

describe("problem messages", () => {
  test("unquoted IPv6 address gets quote hint", () => {
    const text = MINIMAL.replace(
      "  - address: 127.0.0.1:8080",
      "  - name: a\n    address: [::1]:8090",
    );
    const errors = parseErrors(text);
    assert.equal(errors.length, 1, formatProblems(errors));
    assert.equal(errors[0].line, 4);
    assert.match(errors[0].message, /^Unexpected scalar at node end: /);
    assert.match(errors[0].message, /quote the address, as in "\[::1\]:8090"/);

    const listItem = parseErrors("listeners:\n  - [fe80::1]:80\n");
    assert.match(listItem[0].message, /quote the address, as in "\[fe80::1\]:80"/);
  });

  test("other YAML errors get no quote hint", () => {
    const errors = parseErrors("limits: {}\nlimits: {}\n");
    assert.doesNotMatch(errors[0].message, /quote the address/);
    const flowList = parseErrors("x: [a, b]:c\n");
    assert.doesNotMatch(flowList[0].message, /quote the address/);
  });

  test("hostRewrite URL names the expected form", () => {
    const text = MINIMAL.replace(
      "  - upstream: app",
      '  - upstream: app\n    hostRewrite: "http://app.internal/"',
    );
    const errors = parseErrors(text);
    assert.equal(errors.length, 1, formatProblems(errors));
    assert.equal(errors[0].path, "routes[0].hostRewrite");
    assert.equal(
      errors[0].message,
      'invalid host "http://app.internal/": write HOST or HOST:PORT, not a URL, such as ' +
        '"app.internal"',
    );

    const withPort = MINIMAL.replace(
      "  - upstream: app",
      '  - upstream: app\n    hostRewrite: "https://app.internal:8443"',
    );
    assert.match(parseErrors(withPort)[0].message, /such as "app\.internal:8443"$/);
  });

  test("peer port out of range", () => {
    const text = MINIMAL.replace("http://127.0.0.1:3000", "http://127.0.0.1:99999");
    const errors = parseErrors(text);
    assert.equal(errors.length, 1, formatProblems(errors));
    assert.equal(errors[0].path, "upstreams.app.peers[0].url");
    assert.equal(
      errors[0].message,
      'port 99999 in "http://127.0.0.1:99999" is out of range: a peer port is a whole number ' +
        "from 1 to 65535",
    );

    const ipv6 = MINIMAL.replace("http://127.0.0.1:3000", '"http://[::1]:70000"');
    assert.match(parseErrors(ipv6)[0].message, /^port 70000 in .* is out of range/);
    const letters = MINIMAL.replace("http://127.0.0.1:3000", "http://127.0.0.1:http");
    assert.match(parseErrors(letters)[0].message, /^invalid port "http" in "http:\/\/127/);
  });

  test("listen port without host", () => {
    const errors = flagErrors("8095", ["http://127.0.0.1:3000"]);
    assert.equal(errors.length, 1, formatProblems(errors));
    assert.equal(errors[0].path, "--listen");
    assert.match(
      errors[0].message,
      /^address "8095" has no host: write HOST:PORT, such as 127\.0\.0\.1:8095/,
    );
  });

  test("repeated upstream flag", () => {
    const errors = flagErrors("127.0.0.1:8080", ["http://a:1", "http://a:1"]);
    assert.equal(errors.length, 1, formatProblems(errors));
    assert.equal(errors[0].path, "--upstream");
    assert.match(
      errors[0].message,
      /^the same --upstream URL is given twice \("http:\/\/a:1"\): give each URL once/,
    );
    assert.doesNotMatch(errors[0].message, /peers\[/);

    const respelled = flagErrors("127.0.0.1:8080", ["http://a:1", "HTTP://A:1/"]);
    assert.match(respelled[0].message, /given twice \("http:\/\/a:1" and "HTTP:\/\/A:1\/"\)/);
  });

  test("repeated peer in file keeps weight advice", () => {
    const text = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      "      - url: http://127.0.0.1:3000\n      - url: http://127.0.0.1:3000",
    );
    assert.match(parseErrors(text)[0].message, /same as peers\[0\].*raise its weight/);
  });

  test("missing upstreams section", () => {
    const text = MINIMAL.replace("upstreams:", "upstream:");
    const errors = parseErrors(text);
    const missing = errors.find((error) => error.path === "upstreams");
    assert.ok(missing !== undefined, formatProblems(errors));
    assert.equal(
      missing.message,
      "required section is missing: add a map of upstream names to upstreams",
    );
    const typo = errors.find((error) => error.path === "upstream");
    assert.ok(typo !== undefined, formatProblems(errors));
    assert.match(typo.message, /did you mean "upstreams"/);
  });

  test("empty upstreams section", () => {
    const text = MINIMAL.replace(/upstreams:\n(?: {2,}.*\n)+/, "upstreams:\n");
    const errors = parseErrors(text);
    const empty = errors.find((error) => error.path === "upstreams");
    assert.ok(empty !== undefined, formatProblems(errors));
    assert.match(empty.message, /got an empty value$/);
  });

  test("peer written as bare URL", () => {
    const text = MINIMAL.replace(
      "      - url: http://127.0.0.1:3000",
      "      - http://127.0.0.1:3000",
    );
    const errors = parseErrors(text);
    assert.equal(errors.length, 1, formatProblems(errors));
    assert.equal(errors[0].path, "upstreams.app.peers[0]");
    assert.equal(
      errors[0].message,
      'expected a map, got "http://127.0.0.1:3000": write the peer as ' +
        "- url: http://127.0.0.1:3000",
    );

    const number = MINIMAL.replace("      - url: http://127.0.0.1:3000", "      - 5");
    assert.equal(parseErrors(number)[0].message, "expected a map, got the number 5");
  });
});

describe("problem order and lines", () => {
  const text = `listeners:
  - address: 127.0.0.1:8080
routes:
  - upstream: nope
  - upstream: app
    match: { path: a }
upstreams:
  app:
    peers:
      - url: http://127.0.0.1:3000
        weight: 0
`;

  test("problems sorted by line", () => {
    const errors = parseErrors(text);
    assert.deepEqual(
      errors.map((error) => [error.line, error.path]),
      [
        [4, "routes[0].upstream"],
        [6, "routes[1].match.path"],
        [11, "upstreams.app.peers[0].weight"],
      ],
    );
  });

  test("output shows line numbers", () => {
    assert.equal(
      formatProblems(parseErrors(text)),
      'my.yaml:4: routes[0].upstream: unknown upstream "nope": define it under upstreams or ' +
        'use one of "app"\n' +
        'my.yaml:6: routes[1].match.path: path "a" must start with "/"\n' +
        "my.yaml:11: upstreams.app.peers[0].weight: must be at least 1, got the number 0\n",
    );
  });

  test("missing value located at parent", () => {
    const errors = parseErrors(`${MINIMAL}  - name: second\n`);
    assert.equal(errors.length, 1, formatProblems(errors));
    assert.equal(errors[0].path, "routes[1].upstream");
    assert.equal(errors[0].line, 10);
  });

  test("unlocated problems first by path", () => {
    const errors = parseErrors("logging:\n  level: loud\n");
    assert.deepEqual(
      errors.map((error) => [error.line, error.path]),
      [
        [undefined, "listeners"],
        [undefined, "routes"],
        [undefined, "upstreams"],
        [2, "logging.level"],
      ],
    );
    assert.match(formatProblems(errors), /^my\.yaml: listeners: required field is missing\n/);
  });

  test("quoted keys and list indexes located", () => {
    const errors = parseErrors(MINIMAL.replace("  app:", '  "my app":'));
    const named = errors.find((error) => error.path === 'upstreams["my app"]');
    assert.ok(named !== undefined, formatProblems(errors));
    assert.equal(named.line, 5);
    const route = errors.find((error) => error.path === "routes[0].upstream");
    assert.ok(route !== undefined, formatProblems(errors));
    assert.equal(route.line, 9);
  });

  test("values behind aliases located", () => {
    const errors = parseErrors(
      MINIMAL.replace("routes:", "base: &base\n  maxHeaderCount: 0\nroutes:") +
        "limits: *base\n",
    );
    const limit = errors.find((error) => error.path === "limits.maxHeaderCount");
    assert.ok(limit !== undefined, formatProblems(errors));
    assert.equal(limit.line, 9, "the line of the anchored value");
  });
});
