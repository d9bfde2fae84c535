#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer, UBSan) in build-fuzz
# and runs them. Each target's inputs: its committed corpus (tests/fuzz/corpus/<name>), seeds
# made here (small random models, the test tokenizer) and the inputs of fixed bugs
# (tests/fuzz/regressions/<name>).
#
#   tests/fuzz/run.sh               replay every input once, then a fixed-seed run of each
#                                   target (deterministic: what the test command runs)
#   tests/fuzz/run.sh --seconds N   fuzz each target for N seconds; new inputs are kept in
#                                   build-fuzz/corpus/<name>, crashes in build-fuzz/crashes
#
# Exit status: non-zero when a target crashes, leaks, trips a sanitizer or breaks one of the
# invariants its harness checks.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/build-fuzz
seconds=0
while [ $# -gt 0 ]; do
  case $1 in
    --seconds) seconds=$2; shift ;;
    *) echo "usage: $0 [--seconds N]" >&2; exit 2 ;;
  esac
  shift
done

cxx=$(command -v clang++-14 || command -v clang++ || true)
[ -n "$cxx" ] || { echo "fuzz: clang++ not found (Debian: clang-14, installed with emscripten)" >&2; exit 1; }
mkdir -p "$out"
CXX=$cxx cmake -S "$root" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DNEEDLE_BUILD_TESTS=OFF \
  -DNEEDLE_BUILD_FUZZERS=ON > "$out/configure.log" 2>&1 || { cat "$out/configure.log"; exit 1; }
targets=(fuzz_tools fuzz_tokenizer fuzz_weights fuzz_run)
cmake --build "$out" --target "${targets[@]}" -j"$(nproc)"

# Seeds that are generated, not committed: small random models in every dtype and layout.
seeds=$out/seeds
mkdir -p "$seeds/weights" "$seeds/tokenizer"
python=$(command -v /usr/bin/python3 || command -v python3)
i=0
for variant in "" "--ffn --retrieval-head" "--float-proj --float-dtype f16" "--float-dtype f32 --embedding-dtype bf16"; do
  i=$((i + 1))
  [ -s "$seeds/weights/tiny$i.safetensors" ] ||
    "$python" "$root/scripts/make_model.py" --preset tiny --vocab-size 16 --seed "$i" $variant \
      --out "$seeds/weights/tiny$i.safetensors" > /dev/null
done
cp "$out/testdata/tokenizer/needle_spm.model" "$out/testdata/tokenizer/vocab.txt" "$seeds/tokenizer/"

inputs() {  # the input directories of target $1 (short name)
  local dirs=()
  for d in "$root/tests/fuzz/corpus/$1" "$root/tests/fuzz/regressions/$1" "$seeds/$1"; do
    [ -d "$d" ] && dirs+=("$d")
  done
  echo "${dirs[@]}"
}
# Executions of the fixed-seed run, per target: about ten seconds each on this project's
# machines (the targets differ by three orders of magnitude in speed).
declare -A runs=([tools]=100000 [tokenizer]=2000 [weights]=5000 [run]=1500)

status=0
for target in "${targets[@]}"; do
  name=${target#fuzz_}
  read -r -a dirs <<< "$(inputs "$name")"
  common=(-rss_limit_mb=4096 -timeout=60 -print_final_stats=0)
  [ -f "$root/tests/fuzz/$name.dict" ] && common+=(-dict="$root/tests/fuzz/$name.dict")
  if [ "$seconds" -gt 0 ]; then
    mkdir -p "$out/corpus/$name" "$out/crashes"
    echo "fuzz: $target for ${seconds}s"
    log=$out/$name.campaign.log
    if ! "$out/$target" "${common[@]}" -max_total_time="$seconds" -artifact_prefix="$out/crashes/$name-" \
         "$out/corpus/$name" "${dirs[@]}" > "$log" 2>&1; then
      status=1
    fi
    grep -E "^#[0-9]+.*DONE|ERROR|SUMMARY|Test unit" "$log" || true
  else
    echo "fuzz: $target: replay $(find "${dirs[@]}" -type f | wc -l) inputs, then ${runs[$name]} fixed-seed executions"
    log=$out/$name.log
    if ! "$out/$target" "${common[@]}" -runs=0 "${dirs[@]}" > "$log" 2>&1 ||
       ! { rm -rf "$out/scratch/$name" && mkdir -p "$out/scratch/$name" &&  # new inputs go to the first dir
           "$out/$target" "${common[@]}" -seed=1 -runs="${runs[$name]}" -artifact_prefix="$out/$name-" \
             "$out/scratch/$name" "${dirs[@]}" >> "$log" 2>&1; }; then
      grep -E "ERROR|SUMMARY|runtime error|Test unit" "$log" | head -20
      echo "fuzz: $target FAILED (log: $log)"
      status=1
    fi
  fi
done
exit $status
