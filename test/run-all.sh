#!/usr/bin/env bash
# Runs every test: type checks, unit tests on Bun and Deno, each adapter's contract suite on its
# own runtime, and the end-to-end tests against Cairn on Bun, Deno, Node and as the single-file
# executable dist/cairn. test/e2e/binary.test.ts builds dist/cairn when it is missing or stale.
# The last step opens the admin dashboard in /usr/bin/chromium and fails when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=node_modules/.bin

step() { printf '\n== %s\n' "$1"; }

step "type check (deno check)"
"$bin/deno" check src/ adapters/deno/ test/unit/ test/contract/ test/runtime/deno/ test/e2e/ \
  test/conformance/ test/fuzz/ test/browser/

step "unit tests and Bun adapter on Bun"
"$bin/bun" test --timeout 60000 test/unit test/runtime/bun

step "unit tests and Deno adapter on Deno"
"$bin/deno" test --allow-net --allow-read --allow-env --allow-sys --allow-run --allow-write \
  test/unit test/runtime/deno

step "Node adapter on Node"
rm -rf dist/test-node
"$bin/bun" build test/runtime/node/*.test.ts --target=node --outdir=dist/test-node >/dev/null
node --test dist/test-node/

step "end-to-end and conformance tests against Cairn on Bun, Deno, Node and dist/cairn"
npm run --silent build:node
"$bin/bun" test --timeout 120000 test/e2e test/conformance

step "admin dashboard in headless Chromium against Cairn on Bun"
"$bin/bun" test --timeout 120000 test/browser
