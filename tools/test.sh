#!/usr/bin/env bash
# Install dependencies, build (Release preset) and run the whole test suite with ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset default
cmake --build --preset default -j"$(nproc)"
ctest --preset default "$@"
