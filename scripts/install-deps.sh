#!/usr/bin/env bash
# Installs the Debian packages that the build, tests, examples and benchmarks need, and nothing
# that is already installed, so running it again costs only a few dpkg queries.
#
# Usage: scripts/install-deps.sh [--examples] [extra-package...]
#   --examples   only what building and running the examples needs (scripts/run-examples.sh)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The examples preset builds with g++ and Ninja, and runs nothing else.
examples=(
  cmake
  ninja-build
  g++
)

# libclang-rt-dev carries Clang's sanitizer runtimes; clang only recommends it, and recommends
# are not installed here.
everything=(
  "${examples[@]}"
  clang
  clang-tidy
  libclang-rt-dev
  catch2
  libbenchmark-dev
  valgrind
  # Freestanding and firmware tests: the Cortex-M cross compiler, its C++ headers (Clang's
  # RISC-V builds use them too), Clang's linker and binutils for RISC-V, and QEMU for both.
  gcc-arm-none-eabi
  libstdc++-arm-none-eabi-dev
  lld
  llvm
  qemu-system-arm
  qemu-system-misc
  # libFuzzer's runtime for the fuzz leg; the aarch64 cross compiler and user-mode QEMU for the
  # weak-memory-order leg, and the s390x cross compiler for the big-endian leg.
  libclang-rt-14-dev
  g++-aarch64-linux-gnu
  g++-s390x-linux-gnu
  qemu-user
  # The plain-Make consumer test: make, and pkg-config to read attachable-slab.pc.
  make
  pkgconf
  # Benchmarks compare against mimalloc and Boost's fast_pool_allocator; benchmarks/report.py
  # draws the README's charts with matplotlib.
  libmimalloc-dev
  libboost-dev
  python3-matplotlib
)

packages=("${everything[@]}")
if (($# > 0)) && [[ $1 == --examples ]]; then
  packages=("${examples[@]}")
  shift
fi
packages+=("$@")

missing=()
for package in "${packages[@]}"; do
  # A removed package whose configuration files remain still answers dpkg -s, so read its status.
  if ! dpkg -s "$package" 2>/dev/null | grep -q '^Status: install ok installed$'; then
    missing+=("$package")
  fi
done

if ((${#missing[@]} == 0)); then
  echo "install-deps: all ${#packages[@]} packages are installed"
  exit 0
fi

as_root=()
if ((EUID != 0)); then
  as_root=(sudo)
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update
"${as_root[@]}" apt-get install -y --no-install-recommends "${missing[@]}"
