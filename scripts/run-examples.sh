#!/usr/bin/env bash
# Builds every example and runs each one as a test, through the "examples" workflow preset.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

./scripts/install-deps.sh
cmake --workflow --preset examples --fresh
