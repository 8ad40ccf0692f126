#!/usr/bin/env bash
# Builds the firmware for every core (Cortex-M0, M3, M33, rv32imac, rv32imc), measures flash,
# RAM, code size and the instructions of a hot alloc+free pair under qemu, and prints the
# README's firmware table as markdown. tests/freestanding/firmware_table.cmake says how each
# column is measured. Takes about a minute.
#
# Usage: scripts/firmware-table.sh [output-dir]    (default: build/firmware-table)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

cmake -DOUTPUT_DIR="${1:-build/firmware-table}" -P tests/freestanding/firmware_table.cmake
