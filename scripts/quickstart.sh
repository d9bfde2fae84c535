#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds the CLI, and asks the bundled trained model
# (models/needle-tiny, made by train/train.py) for a tool call.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" --target needle
./build/needle run \
  --weights models/needle-tiny/needle.safetensors \
  --tokenizer models/needle-tiny/vocab.txt \
  --query "What's the weather in Paris?" \
  --tools '[{"name":"get_weather","description":"Get current weather for a city","parameters":{"location":{"type":"string"}}}]' \
  --json
