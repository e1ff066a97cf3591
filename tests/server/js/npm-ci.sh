#!/bin/sh
# ctest fixture of the node client tests: install tests/server/js from package-lock.json (npm ci) unless its
# node_modules is already current. Exit 77 (ctest: skipped) when node is not installed.
dir="$1"
if ! command -v node >/dev/null 2>&1; then
  echo "node is not installed: the node client tests are skipped"
  exit 77
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "node is installed but npm is not: install npm (tools/install-deps.sh)"
  exit 1
fi
stamp="$dir/node_modules/.package-lock.json"
if [ -f "$stamp" ] && [ "$stamp" -nt "$dir/package-lock.json" ]; then
  echo "tests/server/js/node_modules is current"
  exit 0
fi
exec npm ci --prefix "$dir" --no-audit --no-fund
