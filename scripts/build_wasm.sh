#!/usr/bin/env bash
# Builds the WebAssembly module with Emscripten (the if(EMSCRIPTEN) block of CMakeLists.txt)
# and copies needle_wasm.{mjs,wasm} into js/, next to the npm wrapper. `npm run build` runs it.
#   scripts/build_wasm.sh [BUILD_DIR]     (default: build-wasm)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-build-wasm}
export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}  # Debian's emcc needs it for its JS tools
# emcmake's default emulator adds a flag Node 20 rejects: name node ourselves.
emcmake cmake -S . -B "$out" -DCMAKE_BUILD_TYPE=Release -DCMAKE_CROSSCOMPILING_EMULATOR="$(command -v node)"
cmake --build "$out" --target needle_wasm -j"$(nproc)"
cp "$out/needle_wasm.mjs" "$out/needle_wasm.wasm" js/
echo "build_wasm: js/needle_wasm.wasm $(wc -c < js/needle_wasm.wasm) bytes"
