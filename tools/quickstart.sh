#!/usr/bin/env bash
# Set up, build, and run the main job on the built-in default model: a prompt in, an image out.
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/install-deps.sh
cmake --preset default
cmake --build --preset default -j"$(nproc)" --target lorastack_cli
mkdir -p out
[ -f out/tiny/model_index.json ] || ./build/bin/lorastack model init --arch tiny --seed 1 -o out/tiny
./build/bin/lorastack generate -m out/tiny -p "a photo of a cat" -n "blurry" --steps 20 --seed 42 -W 128 -H 128 -o out/quickstart.png
echo "image written to $(pwd)/out/quickstart.png"
