#!/bin/sh
# tests/soak/run.sh [SECONDS] [CLIENTS]: a soak run of sockchat-server
# (default 60 s, 200 clients).  Builds in _build unless BUILD_DIR says
# otherwise; extra sockchat-soak options can follow in SOAK_ARGS
# (e.g. SOAK_ARGS="--threads 1 --rate 8000 --seed 42").
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
