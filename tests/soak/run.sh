#!/bin/sh
# tests/soak/run.sh [SECONDS] [CLIENTS]: a soak run of sockchat-server
# (default 60 s, 200 clients).  Builds in _build unless BUILD_DIR says
# otherwise; extra sockchat-soak options can follow in SOAK_ARGS
# (e.g. SOAK_ARGS="--threads 1 --rate 8000 --seed 42").
#
# The long soak of `./test.sh --full` (suite soak-long) adds client kinds
# and intruders; its options are in tests/soak/meson.build, e.g.
#   SOAK_ARGS="--slow 30 --very-slow 40 --no-ack 20 --rate 2000
#     --text-bytes 30000 --max-memory-mib 64 --with-password --silent 96
#     --max-per-address 32 --guessers 8 --probe" tests/soak/run.sh 60 200
# (sockchat-soak --help lists them all).
set -eu

seconds=${1:-60}
clients=${2:-200}
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$top/_build}

if [ ! -d "$build" ]; then
  meson setup "$build" "$top"
fi
ninja -C "$build" tests/soak/sockchat-soak server/sockchat-server >/dev/null

# Warnings in the server are fatal, as in the test suite.
export G_DEBUG=fatal-warnings
# shellcheck disable=SC2086
exec "$build/tests/soak/sockchat-soak" \
  --server "$build/server/sockchat-server" \
  --seconds "$seconds" --clients "$clients" ${SOAK_ARGS:-}
