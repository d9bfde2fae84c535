#!/usr/bin/env bash
# Installs what building and testing needs on a fresh Debian 12 machine (idempotent: only
# missing packages are installed). Node 20 + npm are expected to be present already; Debian's
# nodejs/npm packages are deliberately not installed (they conflict with it).
set -euo pipefail

# clang-14 and libclang-rt-14-dev: the fuzz targets (libFuzzer, sanitizers; tests/fuzz). The
# runtime is only recommended by clang, and recommends are not installed here.
packages=(cmake g++ make pkg-config libgtest-dev libsimdjson-dev libsentencepiece-dev
          sentencepiece python3-numpy python3-sentencepiece emscripten binaryen chromium
          clang-14 libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -q
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
