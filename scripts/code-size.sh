#!/usr/bin/env bash
# Prints issue 9's code-size numbers: the library code of a Cortex-M3 firmware image with 1, 2
# and 9 cache types (tests/freestanding/size_probe.cpp, arm-none-eabi-g++ -Os), defined as the
# image's .text minus that of the same image with no cache. The freestanding leg's
# firmware.code_size tests compare the same numbers with the baseline recorded in
# tests/freestanding/CMakeLists.txt.
#
# Usage: scripts/code-size.sh [output-dir]    (default: build/code-size)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cmake -DOUTPUT_DIR="${1:-build/code-size}" -DBUILD=ON -P tests/freestanding/code_size.cmake
