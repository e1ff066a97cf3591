#!/usr/bin/env bash
# Debian 12 packages lorastack builds and tests with. Safe to run again (skips when all are present).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config
      libopenblas-openmp-dev liblapacke-dev nlohmann-json3-dev libcli11-dev libpng-dev libpcre2-dev libicu-dev
      libyaml-cpp-dev libzip-dev libspdlog-dev libfmt-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
      # the asan / fuzz presets: clang with libFuzzer + sanitizer runtimes, its OpenMP, llvm-symbolizer
      clang libclang-rt-14-dev libomp-14-dev llvm)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
