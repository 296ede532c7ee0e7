#!/bin/sh
# Runs node:test files against `scout serve` (ctest: server_js, server_load_js).
# Usage: run-node-tests.sh FILE.test.mjs...   (paths relative to this folder or absolute)
#        run-node-tests.sh --functional        (every js/*.test.mjs but the load test)
# Exits 77 (ctest's SKIP_RETURN_CODE) when node (>= 20) or the npm packages
# are missing: `npm ci --prefix tests/server` installs them.
case "$0" in */*) here=${0%/*} ;; *) here=. ;; esac
here=$(cd "$here" && pwd) || exit 1
if ! command -v node >/dev/null 2>&1; then
  echo "SKIP: node is not installed (the server tests need Node.js >= 20)"
  exit 77
fi
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "SKIP: node $(node --version) is too old (the server tests need Node.js >= 20)"
  exit 77
fi
if [ ! -f "$here/node_modules/openai/package.json" ]; then
  echo "SKIP: $here/node_modules is missing: run 'npm ci --prefix tests/server'"
  exit 77
fi
cd "$here" || exit 1
if [ "$1" = "--functional" ]; then
  shift
  set -- "$@" $(ls js/*.test.mjs | grep -v '/load\.test\.mjs$')
fi
exec node --test --test-concurrency=1 --test-reporter=spec "$@"
