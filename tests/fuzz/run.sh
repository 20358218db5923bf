#!/usr/bin/env bash
# Runs the libFuzzer targets for a given time, split between them.
#   tests/fuzz/run.sh [SECONDS]     (default 60)
# Seeds come from tests/fuzz/corpus; new inputs go to _build-fuzz/corpus-*;
# a crash is written to tests/fuzz/crashes/, where ./test.sh replays it
# from then on.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SECONDS_TOTAL="${1:-60}"
BUILD="$ROOT/_build-fuzz"

# shellcheck source=../../scripts/ensure-packages.sh
source "$ROOT/scripts/ensure-packages.sh"
ensure_packages clang-14 libclang-rt-14-dev

if [[ ! -f "$BUILD/build.ninja" ]]; then
  CC=clang-14 meson setup "$BUILD" "$ROOT" -Dfuzzing=true -Dgui=disabled \
    -Db_lundef=false
fi
ninja -C "$BUILD" tests/fuzz/fuzz-frames tests/fuzz/fuzz-server

per_target=$((SECONDS_TOTAL / 3))
[[ "$per_target" -ge 1 ]] || per_target=1

run_target () {
  local name="$1" corpus="$BUILD/corpus-$1"
  mkdir -p "$corpus"
  echo "=== $name for $per_target s ==="
  "$BUILD/tests/fuzz/$name" "$corpus" "$ROOT/tests/fuzz/corpus" \
    -max_total_time="$per_target" -max_len=70000 -timeout=10 \
    -artifact_prefix="$ROOT/tests/fuzz/crashes/$name-" -print_final_stats=1 \
    2>&1 | grep -E '(DONE|^stat::|^==[0-9]+==|^SUMMARY|^INFO: seed)' || true
}

run_target fuzz-frames
run_target fuzz-server
# The same frames inside TLS sessions to the TLS listener.
SC_FUZZ_TLS=1 run_target fuzz-server
