#!/usr/bin/env bash
# Debian 12 packages lorastack builds and tests with. Safe to run again (skips when all are present).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config
      libopenblas-openmp-dev liblapacke-dev nlohmann-json3-dev libcli11-dev libpng-dev libjpeg62-turbo-dev libwebp-dev libpcre2-dev libicu-dev
      libyaml-cpp-dev libzip-dev libfreetype-dev fonts-dejavu-core libspdlog-dev libfmt-dev libssl-dev libgtest-dev libgmock-dev libbenchmark-dev
      # tools/emoji: OpenMoji SVG rasterisation (rsvg-convert)
      librsvg2-bin
      # `lorastack serve` (cpp-httplib) and its browser test (headless chromium driven by playwright-core)
      libcpp-httplib-dev chromium
      # the asan / fuzz presets: clang with libFuzzer + sanitizer runtimes, its OpenMP, llvm-symbolizer
      clang libclang-rt-14-dev libomp-14-dev llvm)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
# tools/emoji (emoji training data builder + its ctest): npm packages pinned by its package-lock.json;
# skipped when npm is absent or node_modules is newer than the lock file.
emoji="$(dirname "$0")/emoji"
if command -v npm >/dev/null 2>&1 && ! [ "$emoji/node_modules/.package-lock.json" -nt "$emoji/package-lock.json" ]; then
  npm ci --prefix "$emoji" --no-audit --no-fund --loglevel=error
fi
