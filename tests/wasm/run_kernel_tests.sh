#!/usr/bin/env bash
# Builds the kernel tests (tests/cpp/kernels_test.cpp with GoogleTest compiled from
# /usr/src/googletest) and the kernel benchmark for WebAssembly SIMD128, runs the tests in
# Node, and with --bench also runs the benchmark.
#
#   tests/wasm/run_kernel_tests.sh [--bench] [--out DIR]     (default DIR: build-wasm-kern)
#
# Exit status: non-zero when a build step or a test fails.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build-wasm-kern
bench=0
while [ $# -gt 0 ]; do
  case $1 in
    --bench) bench=1 ;;
    --out) out=$2; shift ;;
    *) echo "usage: $0 [--bench] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done

export NODE_PATH=${NODE_PATH:-/usr/share/nodejs}  # emcc's own JS tools need it
gtest=/usr/src/googletest/googletest
flags=(-std=c++20 -O2 -msimd128 -fno-exceptions)
# SINGLE_FILE: Node 20's global fetch cannot load a .wasm next to the .js by path.
link=(-sALLOW_MEMORY_GROWTH=1 -sENVIRONMENT=node -sSINGLE_FILE=1)
mkdir -p "$out"

# GoogleTest itself does not change: build its two objects once per build directory.
for unit in gtest-all gtest_main; do
  if [ ! -f "$out/$unit.o" ]; then
    em++ "${flags[@]}" -I"$gtest/include" -I"$gtest" -c "$gtest/src/$unit.cc" -o "$out/$unit.o"
  fi
done

em++ "${flags[@]}" -Wall -Wextra -I"$root/kernels" -I"$gtest/include" "$root/tests/cpp/kernels_test.cpp" \
  "$out/gtest-all.o" "$out/gtest_main.o" "${link[@]}" -o "$out/kernels_test.js"
node "$out/kernels_test.js"

if [ $bench = 1 ]; then
  em++ "${flags[@]}" -I"$root/kernels" "$root/bench/bench_kernels.cpp" "${link[@]}" -o "$out/bench_kernels.js"
  # --no-liftoff: time the optimised code from the first call, as a page sees it once V8 has
  # tiered up (wasm has no on-stack replacement, so a long first call would stay in Liftoff).
  node --no-liftoff "$out/bench_kernels.js"
fi
