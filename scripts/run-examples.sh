#!/usr/bin/env bash
# Builds every example and runs each one as a test, through the "examples" workflow preset, which
# shows what each example printed. Installs only what the examples need.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/install-deps.sh --examples
cmake --workflow --preset examples --fresh
