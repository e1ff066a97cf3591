#!/usr/bin/env bash
# GPU suite for the lent GPU machine (which has CUDA 13 but none of our Debian libraries):
#   tools/gpu_suite.sh pack [BUILD_DIR]   here: build dir binaries + their non-system shared libraries + the
#                                         refsuite files the GPU tests read → .ref/payload.tar.xz (git-ignored)
#   tools/gpu_suite.sh run  [reps]        there (carry .ref): unpack, run the GPU tests, `lorastack generate
#                                         --device cuda` on the tiny model, and bench_cuda_sd15; logs in $OUT.
# cuDNN (too large to carry) is taken from the GPU machine: the first libcudnn.so.9 found there (CUDA toolkit
# folders first, then PyTorch's wheel); the packed libcudnn.so.9 shim is only a last resort so that binaries
# linked against it start (the backend then falls back to im2col convolutions and says so).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
setup_env() {
  out=${OUT:-/tmp/out}
  mkdir -p /tmp/ls && tar -C /tmp/ls -xJf .ref/payload.tar.xz
  cuda_lib=$(dirname "$(find / -name 'libcublas.so.13*' -not -path '*/proc/*' 2>/dev/null | head -1)")
  cudnn_so=$(find /usr/local/cuda* /usr/lib /opt -name 'libcudnn.so.9' -not -path '*/proc/*' 2>/dev/null |
    awk '{print (index($0, "/usr/local/cuda") == 1 ? 0 : 1), $0}' | sort | head -1 | cut -d' ' -f2- || true)
  cudnn_lib=${cudnn_so:+$(dirname "$cudnn_so")}
  echo "cuDNN library: ${cudnn_so:-none found (packed shim only)}"
  export LD_LIBRARY_PATH=/tmp/ls/lib:/usr/local/cuda/lib64:${cuda_lib}:${cudnn_lib:+$cudnn_lib:}${LD_LIBRARY_PATH:-}:/tmp/ls/lib-fallback
  export LORASTACK_SHARED_DIR=/tmp/ls/shared
}

case "$mode" in
pack)
  build=${2:-build-cuda}
  shared=${LORASTACK_SHARED_DIR:-../shared}
  stage=.ref/stage
  rm -rf "$stage" && mkdir -p "$stage/bin" "$stage/lib" "$stage/shared/refsuite"
  bins=()
  for b in ${PACK_BINS:-tests/test_cuda_ops tests/test_cuda_backward tests/test_cuda_models tests/test_cuda_train \
    tests/test_cuda_linalg bin/lorastack lorastack bench/bench_cuda_sd15 bench/bench_cuda_train bench/bench_cuda_pipeline}; do
    [ -f "$build/$b" ] && bins+=("$build/$b")
  done
  for b in "${bins[@]}"; do strip -o "$stage/bin/$(basename "$b")" "$b"; done
  # every library outside glibc / libstdc++ / the CUDA toolkit travels
  for b in "${bins[@]}"; do ldd "$b"; done | awk '/=>/ {print $3}' | sort -u |
    grep -v -E '/(libc|libm|libdl|libpthread|librt|libstdc\+\+|libgcc_s)\.so|/usr/local/cuda' |
    while read -r l; do cp -L "$l" "$stage/lib/"; done
  cudnn=$(for b in "${bins[@]}"; do ldd "$b"; done | awk '/libcudnn\.so/ {print $3}' | sort -u | head -1)
  if [ -n "$cudnn" ]; then mkdir -p "$stage/lib-fallback" && cp -L "$cudnn" "$stage/lib-fallback/"; fi
  r="$shared/refsuite"
  mkdir -p "$stage/shared/refsuite/reference" "$stage/shared/refsuite/adapters/lora_a" \
    "$stage/shared/refsuite/adapters/locon_b" "$stage/shared/refsuite/adapters/txt2img_g" "$stage/shared/refsuite/model"
  cp -r "$r/model/tiny-sd1" "$stage/shared/refsuite/model/"
  cp "$r"/reference/{text_encoder,unet,vae,txt2img_euler}.safetensors "$stage/shared/refsuite/reference/"
  cp "$r/adapters/lora_a/lora_a_kohya.safetensors" "$stage/shared/refsuite/adapters/lora_a/"
  cp "$r/adapters/locon_b/locon_b_kohya.safetensors" "$stage/shared/refsuite/adapters/locon_b/"
  cp "$r/adapters/txt2img_g/expected.safetensors" "$stage/shared/refsuite/adapters/txt2img_g/"
  chmod -R u+w "$stage"
  tar -C "$stage" -cJf .ref/payload.tar.xz .
  rm -rf "$stage"
  ls -la .ref/payload.tar.xz
  ;;
run)
  reps=${2:-5}
  setup_env
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader || true
  ldd /tmp/ls/bin/test_cuda_models | grep -E 'not found|cublas|cudart' || true
  rc=0
  for t in test_cuda_ops test_cuda_backward test_cuda_models test_cuda_train test_cuda_linalg; do
    [ -x "/tmp/ls/bin/$t" ] || continue
    "/tmp/ls/bin/$t" 2>&1 | tee "$out/$t.log" | grep -E '^\[ *(OK|FAILED|PASSED) |max\|diff|vs fp32| s$|conv backend' || rc=1
    grep -B3 -A8 'Failure' "$out/$t.log" | head -80 || true
  done
  if [ -x /tmp/ls/bin/lorastack ]; then
    t0=$(date +%s%N)
    /tmp/ls/bin/lorastack generate -m /tmp/ls/shared/refsuite/model/tiny-sd1 -p "a photo of a cat" --steps 8 -W 128 -H 128 \
      --device cuda --precision fp16 -o "$out/cli_cuda.png" 2>&1 | tail -3 || rc=1
    echo "cli: $(( ($(date +%s%N) - t0) / 1000000 )) ms (load + 8 steps + decode + PNG)"
  fi
  [ -x /tmp/ls/bin/bench_cuda_sd15 ] && /tmp/ls/bin/bench_cuda_sd15 "$reps" 2>&1 | tee "$out/bench.log"
  # end to end at the real size: random SD1.5 single file (F16), 512×512, 20 Euler steps, CFG 7.5
  if [ "${E2E:-1}" = 1 ] && [ -x /tmp/ls/bin/lorastack ]; then
    t0=$(date +%s%N)
    /tmp/ls/bin/lorastack model init --arch sd1 -o /tmp/sd15.safetensors >/dev/null
    echo "model init: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
    for p in fp16 bf16 fp32; do
      for b in 1 4; do
        /tmp/ls/bin/lorastack generate -m /tmp/sd15.safetensors --tokenizer /tmp/ls/shared/refsuite/model/tiny-sd1/tokenizer \
          -p "a photo of a cat" --steps 20 --cfg-scale 7.5 -W 512 -H 512 -b "$b" --device cuda --precision "$p" \
          -o "/tmp/e2e-$p-$b.png" 2>&1 | grep -E 'done in|images? in [0-9.]+ s|error' | sed "s/^/e2e $p batch $b: /"
      done
    done
  fi
  exit $rc
  ;;
train)
  # issue 8 references and the training bench (carry .ref/payload.tar.xz and .ref/train.tar.xz, the latter holding
  # diffusers_src/ (a diffusers source tree, never committed) and tiny-sd1/):
  #   tests/train/make_grad_reference.py, make_diffusers_lora_reference.py → $OUT, bench/peft_train_compare.py
  setup_env
  mkdir -p /tmp/lt && tar -C /tmp/lt -xJf .ref/train.tar.xz
  export PYTHONPATH=/tmp/lt/diffusers_src/src:${PYTHONPATH:-}
  [ "${GRAD_REF:-1}" = 1 ] &&
    { python3 tests/train/make_grad_reference.py /tmp/lt/tiny-sd1 "$out/grad_reference.safetensors" 2>&1 | tail -3 || true; }
  if [ "${DIFFUSERS_REF:-1}" = 1 ]; then
    python3 tests/train/make_diffusers_lora_reference.py /tmp/lt/tiny-sd1 tests/train/data/lscat_lora200.safetensors \
      "$out/diffusers_lora_reference.safetensors" > "$out/diffusers_lora.log" 2>&1 || true
    grep -v Warning "$out/diffusers_lora.log" | tail -25
  fi
  /tmp/ls/bin/test_cuda_train 2>&1 | tee "$out/test_cuda_train.log" | grep -E '^\[ *(OK|FAILED|PASSED) |loss|exception' || true
  python3 bench/peft_train_compare.py --lorastack-bench /tmp/ls/bin/bench_cuda_train --reps "${2:-5}" 2>&1 |
    tee "$out/peft_train_compare.log" | grep -E 'RESULT|RATIO|LoRA|rror' || true
  ;;
compare)
  # issue 5: bench/diffusers_compare.py (lorastack vs diffusers eager / torch.compile, images/s) on a random SD1.5
  # written there by `lorastack model init`; carry .ref/payload.tar.xz and .ref/train.tar.xz (diffusers_src/)
  out=${OUT:-/tmp/out}
  mkdir -p /tmp/ls /tmp/lt && tar -C /tmp/ls -xJf .ref/payload.tar.xz && tar -C /tmp/lt -xJf .ref/train.tar.xz
  setup_env
  export LS_LD_LIBRARY_PATH=$LD_LIBRARY_PATH  # our bundled libraries reach only the lorastack subprocess
  /tmp/ls/bin/lorastack model init --arch sd1 --seed 1 -o /tmp/sd15 >/dev/null
  env -u LD_LIBRARY_PATH PYTHONUNBUFFERED=1 PYTHONPATH=/tmp/lt/diffusers_src/src timeout "${BUDGET:-345}" \
    python3 bench/diffusers_compare.py --model /tmp/sd15 --lorastack-bench /tmp/ls/bin/bench_cuda_pipeline \
    --reps 3 --budget-s 210 --json "$out/compare.json" 2>&1 | tee "$out/compare.log" | grep -vE 'Warning|warn\(' | tail -30
  ;;
emoji)
  # issue 9: train the embedded default's base model (tools/emoji/train_default.sh base) inside a time box.
  # Carry .ref/payload.tar.xz (PACK_BINS=bin/lorastack is enough) and .ref/emoji/{data/base,tokenizer}.
  # A 20-step run measures s/step; the real run gets BASE_SECONDS (default 150) worth of steps, saved every
  # 500; $OUT/base.tar holds the final (or, if the time box cut it, the last saved) model folder.
  setup_env
  export LORASTACK=/tmp/ls/bin/lorastack DATA=.ref/emoji/data WORK=/tmp/ework
  mkdir -p "$WORK" && cp -r .ref/emoji/tokenizer "$WORK/tokenizer"
  "$LORASTACK" model init --arch emoji --seed 1 --tokenizer "$WORK/tokenizer" -o "$WORK/init" >/dev/null
  # where a step's time goes (runtime/profile.h: ops synchronised one by one, so only the shares count)
  LORASTACK_PROFILE=1 BASE_STEPS=10 BASE_SAVE_EVERY=0 tools/emoji/train_default.sh base > "$out/profile.log" 2>&1 || true
  grep -A14 "lorastack profile" "$out/profile.log" | head -45
  BASE_STEPS=40 BASE_SAVE_EVERY=0 tools/emoji/train_default.sh base > "$out/probe.log" 2>&1 || true
  tail -3 "$out/probe.log"
  # the printed it/s counts from the start (load, latent caching): the loop's own rate from two progress lines
  its=$(python3 -c "
import re, sys
pts = [(int(a), int(a) / float(r)) for a, r in re.findall(r'^step (\d+)/\d+ .* ([0-9.]+) it/s', open(sys.argv[1]).read(), re.M)
       if float(r) > 0 and int(a) >= 5]
print(round((pts[-1][0] - pts[0][0]) / (pts[-1][1] - pts[0][1]), 3) if len(pts) > 1 and pts[-1][1] > pts[0][1] else 0.5)
" "$out/probe.log")
  steps=$(python3 -c "print(max(100, int(${BASE_SECONDS:-150} * ${its} / 100) * 100))")
  echo "probe: ${its} it/s -> BASE_STEPS=$steps"
  BASE_STEPS=$steps BASE_SAVE_EVERY=500 timeout $(( ${BASE_SECONDS:-150} + 60 )) tools/emoji/train_default.sh base \
    > "$out/base.log" 2>&1 || echo "base run ended with $? (time box)"
  grep -E "^step [0-9]*0 |^trained|saved" "$out/base.log" | awk 'NR % 5 == 1 || /trained/' | tail -25
  last=$WORK/base
  [ -f "$last/unet/diffusion_pytorch_model.safetensors" ] || last=$(ls -d "$WORK"/base-step* 2>/dev/null | sort | tail -1)
  echo "model: $last"
  tar -C "$(dirname "$last")" -cf "$out/base.tar" "$(basename "$last")"
  ls -la "$out"
  ;;
*)
  echo "usage: tools/gpu_suite.sh pack [BUILD_DIR] | run [reps] | train [reps] | compare | emoji" >&2
  exit 2
  ;;
esac
