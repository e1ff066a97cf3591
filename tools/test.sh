#!/usr/bin/env bash
# Install dependencies, then: build (Release preset) and run the whole test suite with ctest; build the
# `asan` preset (clang, ASan + UBSan, with the libFuzzer targets) and run the suite again under the
# sanitizers; run every fuzzer for a bounded time (LS_FUZZ_SECONDS per target, default 30; tools/fuzz.sh
# runs longer campaigns). Extra arguments go to both ctest runs.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset default
cmake --build --preset default -j"$(nproc)"
ctest --preset default -LE gpu "$@"  # GPU tests (label gpu, tests/gpu.cmake) run on the GPU machine only

# Sanitizers: the same suite under ASan + UBSan (any report fails the test).
cmake --preset asan
cmake --build --preset asan -j"$(nproc)"
ctest --preset asan -LE gpu "$@"

# Fuzzers: each target from its seed corpus for a bounded time, two at a time.
LS_FUZZ_NO_BUILD=1 LS_FUZZ_JOBS="${LS_FUZZ_JOBS:-2}" bash tools/fuzz.sh all "${LS_FUZZ_SECONDS:-30}"
