#!/usr/bin/env bash
# Build the libFuzzer targets (preset "fuzz": clang, ASan + UBSan, build tree build-asan/) and run them.
#
#   tools/fuzz.sh TARGET[,TARGET...]|all [BUDGET] [-- extra libFuzzer flags]
#     TARGET   safetensors, pickle, ckpt, yaml_config, tokenizer, lora_keys, png, image, prompt_tags (or fuzz_<name>)
#     BUDGET   seconds per target (default 30), or a run count written as "<N>runs" (e.g. 20000runs)
#
# Each target starts from its committed seeds (tests/fuzz/corpus/<name>/, read only) plus what earlier runs
# found (build-asan/fuzz/work/<name>/); a crash leaves the input in build-asan/fuzz/artifacts/ and makes the
# script exit non-zero. LS_FUZZ_NO_BUILD=1 skips the build; LS_FUZZ_JOBS=N runs N targets at once;
# LS_FUZZ_BIN=DIR takes the fuzzers from another build tree's fuzz/ folder.
set -euo pipefail
cd "$(dirname "$0")/.."
ALL=(safetensors pickle ckpt yaml_config tokenizer lora_keys png image prompt_tags)
target="${1:-}"
budget="${2:-30}"
shift $(( $# >= 2 ? 2 : $# ))
[ "${1:-}" = "--" ] && shift
extra=("$@")
if [ -z "$target" ]; then
  sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'
  exit 2
fi
if [ "${LS_FUZZ_NO_BUILD:-0}" != 1 ]; then
  cmake --preset fuzz >/dev/null
  cmake --build --preset fuzz -j"$(nproc)"
fi
bin="${LS_FUZZ_BIN:-build-asan/fuzz}"
if [ "$target" = all ]; then
  targets=("${ALL[@]}")
else
  IFS=, read -r -a targets <<<"$target"
  targets=("${targets[@]#fuzz_}")
fi
case "$budget" in
  *runs) limit=(-runs="${budget%runs}") ;;
  *) limit=(-max_total_time="$budget") ;;
esac
mkdir -p "$bin/artifacts"
run_one() {
  local t="$1"
  [ -x "$bin/fuzz_$t" ] || { echo "fuzz: no target fuzz_$t (known: ${ALL[*]})" >&2; return 2; }
  mkdir -p "$bin/work/$t"
  local log="$bin/work/$t.log"
  # rss_limit: the largest legitimate allocations are images up to 16384² (png) and the tiny model.
  rm -f "$bin/work/$t.status"
  if "$bin/fuzz_$t" "${limit[@]}" -rss_limit_mb=3072 -timeout=30 -print_final_stats=1 \
       -artifact_prefix="$bin/artifacts/$t-" "${extra[@]}" "$bin/work/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1; then
    local runs
    runs=$(grep -m1 '^stat::number_of_executed_units' "$log" | awk '{print $2}')
    echo "fuzz_$t: ok, ${runs:-?} executions ($(grep -m1 '^stat::peak_rss_mb' "$log" | awk '{print $2}') MB peak)"
    echo ok >"$bin/work/$t.status"
  else
    echo "fuzz_$t: FAILED — log $log, input in $bin/artifacts/:" >&2
    grep -E 'ERROR|runtime error|terminate|SUMMARY|Test unit written' "$log" | head -8 >&2
    return 1
  fi
}
jobs_n="${LS_FUZZ_JOBS:-1}"
for t in "${targets[@]}"; do
  if [ "$jobs_n" -le 1 ]; then
    run_one "$t" || true
  else
    run_one "$t" &
    while [ "$(jobs -rp | wc -l)" -ge "$jobs_n" ]; do sleep 1; done
  fi
done
wait
passed=0
for t in "${targets[@]}"; do [ -f "$bin/work/$t.status" ] && passed=$((passed + 1)); done
failed=$(( ${#targets[@]} - passed ))
echo "fuzz: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
