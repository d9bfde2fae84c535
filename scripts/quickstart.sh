#!/usr/bin/env bash
# Sets up a fresh Debian machine, builds, and asks the generated tiny model for a tool call.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)" --target needle needle_testdata
./build/needle run \
  --weights build/testdata/tiny.safetensors \
  --tokenizer build/testdata/tokenizer/needle_spm.model \
  --query "What's the weather in Paris?" \
  --tools '[{"name":"get_weather","description":"Get current weather for a city","parameters":{"location":{"type":"string"}}}]' \
  --max-tokens 32 --json
