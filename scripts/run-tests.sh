#!/usr/bin/env bash
# Runs every CI leg (configure, build, test through its workflow preset in CMakePresets.json) one
# after another, keeps going when a leg fails so one run shows every failure, prints a summary, and
# exits non-zero if any leg failed.
#
# Usage: scripts/run-tests.sh [leg...]    (no arguments: every leg below)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# One leg per line; a new leg is a workflow preset plus one line here.
legs=(
  gcc-debug
  clang-release
  asan
  tsan
  freestanding
  valgrind
  fuzz
  aarch64
  s390x
)
if (($# > 0)); then
  legs=("$@")
fi

./scripts/install-deps.sh

summary=()
failed=0
for leg in "${legs[@]}"; do
  echo
  echo "=== leg ${leg} ==="
  started=${SECONDS}
  # --fresh: a cache left by an earlier run (other compiler, other options) must not decide this one.
  if cmake --workflow --preset "${leg}" --fresh; then
    summary+=("PASS  ${leg}  ($((SECONDS - started)) s)")
  else
    summary+=("FAIL  ${leg}  ($((SECONDS - started)) s)")
    failed=1
  fi
done

echo
echo "=== summary ==="
printf '%s\n' "${summary[@]}"
exit "${failed}"
