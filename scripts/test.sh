#!/usr/bin/env bash
# Runs every test: installs what is missing, builds natively, runs the GoogleTest suite, then
# builds the WebAssembly module and runs the npm package's tests (node --test), which compare
# it with the native CLI built above; last, the fuzz targets under AddressSanitizer and UBSan
# (tests/fuzz/run.sh: every committed input once, then a fixed-seed run of each).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j"$(nproc)"
ctest --test-dir build --output-on-failure -j"$(nproc)"
bash scripts/build_wasm.sh build-wasm
npm ci --no-audit --no-fund  # exactly the JS test tools package-lock.json pins (playwright-core, miniflare)
NEEDLE_BUILD_DIR=build NEEDLE_WASM_BUILD_DIR=build-wasm node --test tests/js/
bash tests/fuzz/run.sh
