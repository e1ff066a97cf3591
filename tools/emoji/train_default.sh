#!/usr/bin/env bash
# How assets/emoji (the embedded default: a pixel-space base model and three LoRAs) was made, stage by stage.
#   tools/emoji/train_default.sh data     emoji caption folders (tools/emoji/build.mjs) → $DATA
#   tools/emoji/train_default.sh init     BPE tokenizer from the captions + random emoji-layout model → $WORK/init
#   tools/emoji/train_default.sh base     full training of every weight on $DATA/base → $WORK/base (GPU: ~3 min on
#                                         an H200; BASE_STEPS, BASE_DEVICE, BASE_PRECISION override)
#   tools/emoji/train_default.sh loras    style, character and lighting LoRAs on $WORK/base (CPU: minutes each)
#   tools/emoji/train_default.sh assets   copies (fp16) into assets/emoji (base/, loras/) — what the repo ships
# LORASTACK (default build/bin/lorastack), DATA (out/emoji), WORK (out/emoji-train) pick the paths.
# docs/emoji-model.md is the model card: data, licences, these commands with the step counts used, measures.
set -euo pipefail
cd "$(dirname "$0")/../.."
LS=${LORASTACK:-build/bin/lorastack}
DATA=${DATA:-out/emoji}
WORK=${WORK:-out/emoji-train}
stage=${1:?usage: tools/emoji/train_default.sh data|init|base|loras|assets}
mkdir -p "$WORK"

case "$stage" in
data)
  node tools/emoji/build.mjs --out "$DATA"
  ;;
init)
  node tools/emoji/tokenizer.mjs --data "$DATA" --out "$WORK/tokenizer"
  rm -rf "$WORK/init"
  "$LS" model init --arch emoji --seed 1 --tokenizer "$WORK/tokenizer" -o "$WORK/init"
  ;;
base)
  # Every weight trains (UNet + text encoder, fp32 masters, bf16 compute on the GPU). Captions are the emoji
  # names; 10 % are dropped so that the model also learns the unconditional prediction CFG needs. No Min-SNR
  # weighting: from scratch the low-noise steps must be learnt too (γ 5 would weight t = 10 by 0.011).
  rm -rf "$WORK/base" "$WORK/base.state"
  "$LS" train --base "$WORK/init" --data "$DATA/base" --network full --resolution 64 \
    --batch-size "${BASE_BATCH:-256}" --steps "${BASE_STEPS:-4000}" --lr "${BASE_LR:-4e-4}" --lr-scheduler cosine \
    --lr-warmup-steps 100 --weight-decay 0.01 --caption-dropout 0.1 --seed 1 \
    --device "${BASE_DEVICE:-cuda}" --precision "${BASE_PRECISION:-bf16}" --save-precision fp16 \
    --save-every "${BASE_SAVE_EVERY:-1000}" -o "$WORK/base"
  ;;
loras)
  # Rank-16 LoRAs on every UNet and text-encoder module (kohya's default targets), one per effect.
  common=(--base "$WORK/base" --network lora --rank 16 --alpha 16 --resolution 64 --lr-scheduler cosine
    --lr-warmup-steps 20 --caption-dropout 0.05 --seed 1 --device "${LORA_DEVICE:-cpu}")
  "$LS" train "${common[@]}" --data "$DATA/style" --steps "${STYLE_STEPS:-300}" --batch-size 16 --lr 1e-3 \
    -o "$WORK/loras/emoji_style_omlineart.safetensors" --comment "style: OpenMoji black line art, trigger omlineart"
  "$LS" train "${common[@]}" --data "$DATA/character" --steps "${CHARACTER_STEPS:-200}" --batch-size 9 --lr 1e-3 \
    -o "$WORK/loras/emoji_character_lscat.safetensors" --comment "character: the Twemoji cat, trigger lscat"
  "$LS" train "${common[@]}" --data "$DATA/lighting" --steps "${LIGHTING_STEPS:-300}" --batch-size 16 --lr 1e-3 \
    -o "$WORK/loras/emoji_lighting_night.safetensors" --comment "lighting: night (linear luminance x0.25), trigger 'at night'"
  ;;
assets)
  # the base was saved in fp16 (what the LoRAs were trained on is what ships); the fp32 masters stay in base.state
  rm -rf assets/emoji/base && mkdir -p assets/emoji/loras
  cp -r "$WORK/base" assets/emoji/base
  cp "$WORK"/loras/*.safetensors assets/emoji/loras/
  du -sh assets/emoji
  ;;
*)
  echo "unknown stage '$stage' (data, init, base, loras, assets)" >&2
  exit 2
  ;;
esac
