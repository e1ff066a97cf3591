#!/bin/sh
# Run one node client test file with node's test runner. Exit 77 (ctest: skipped) when node is not installed.
if ! command -v node >/dev/null 2>&1; then
  echo "node is not installed: skipped"
  exit 77
fi
exec node --test --test-reporter=spec "$1"
