#!/usr/bin/env bash
# Builds SockChat (incrementally, in _build) and runs it on port 5330.
#
# Usage: ./run.sh [--headless]
#   (default)   start the server in the background and open the GTK client,
#               connected to it; the server stops when the client exits.
#               Without a display ($DISPLAY or $WAYLAND_DISPLAY), runs the
#               server alone, as with --headless.
#   --headless  run only the server, in the foreground (Ctrl+C stops it).
#
# Installs missing Debian packages first (see scripts/ensure-packages.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

# shellcheck source=scripts/ensure-packages.sh
source "$ROOT/scripts/ensure-packages.sh"

BUILD_DIR="_build"
PORT=5330
HOST="127.0.0.1"
SERVER="$BUILD_DIR/server/sockchat-server"
GUI_CLIENT="$BUILD_DIR/gui-client/sockchat"
CLI_CLIENT="$BUILD_DIR/cli-client/sockchat-cli"
HEADLESS=0
SERVER_PID=""

usage () {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

parse_args () {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --headless) HEADLESS=1 ;;
      -h | --help)
        usage
        exit 0
        ;;
      *)
        echo "unknown option: $1" >&2
        usage >&2
        exit 2
        ;;
    esac
    shift
  done
}

build () {
  if [[ ! -f "$BUILD_DIR/build.ninja" ]]; then
    if ! meson setup "$BUILD_DIR" -Dbuildtype=debugoptimized; then
      echo "meson setup failed; see the errors above." >&2
      exit 1
    fi
  fi
  if ! meson compile -C "$BUILD_DIR"; then
    echo "The build failed; see the errors above." >&2
    exit 1
  fi
}

# not_built NAME PATH FOLDER [HINT]: says plainly that a program is missing,
# then exits 1.
not_built () {
  echo "$1 is not built yet: $2 does not exist" \
    "(the code in $3/ is in progress)." >&2
  if [[ -n "${4:-}" ]]; then
    echo "$4" >&2
  fi
  exit 1
}

port_in_use () {
  ss -Hltn "sport = :$PORT" 2>/dev/null | grep -q .
}

# Succeeds once the server listens on PORT; fails if it exits or takes
# longer than about 10 seconds.
wait_for_server () {
  local i
  for i in $(seq 1 100); do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      return 1
    fi
    if port_in_use; then
      return 0
    fi
    sleep 0.1
  done
  return 1
}

stop_server () {
  if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
    echo "Stopping sockchat-server (pid $SERVER_PID)"
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  SERVER_PID=""
}

have_display () {
  [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]]
}

check_port_free () {
  if port_in_use; then
    echo "Port $PORT is already in use; stop whatever listens there first." >&2
    exit 1
  fi
}

run_headless () {
  check_port_free
  echo "Starting sockchat-server on port $PORT (Ctrl+C to stop)"
  if [[ -x "$CLI_CLIENT" ]]; then
    echo "Connect from another terminal with:"
    echo "  $CLI_CLIENT --host $HOST --port $PORT"
  else
    echo "The terminal client is not built yet ($CLI_CLIENT does not exist)."
  fi
  exec "$SERVER" --port "$PORT"
}

run_with_gui () {
  local status=0
  check_port_free
  echo "Starting sockchat-server on port $PORT"
  "$SERVER" --port "$PORT" &
  SERVER_PID=$!
  trap stop_server EXIT
  trap 'exit 130' INT TERM
  if ! wait_for_server; then
    echo "sockchat-server did not start listening on port $PORT." >&2
    exit 1
  fi
  echo "Opening the GTK client"
  # Run from the build tree: the settings schema and the translations are
  # there, not installed.
  GSETTINGS_SCHEMA_DIR="$ROOT/$BUILD_DIR/data" \
    SOCKCHAT_LOCALEDIR="$ROOT/$BUILD_DIR/po" \
    "$GUI_CLIENT" --host "$HOST" --port "$PORT" --connect || status=$?
  stop_server
  exit "$status"
}

main () {
  parse_args "$@"
  ensure_packages
  build

  if [[ ! -x "$SERVER" ]]; then
    not_built "The server (sockchat-server)" "$SERVER" server
  fi
  if [[ "$HEADLESS" -eq 1 ]]; then
    run_headless
  fi
  if ! have_display; then
    echo "No display found (\$DISPLAY and \$WAYLAND_DISPLAY are unset);" \
      "running the server only."
    run_headless
  fi
  if [[ ! -x "$GUI_CLIENT" ]]; then
    not_built "The GTK client (sockchat)" "$GUI_CLIENT" gui-client \
      "Run './run.sh --headless' to start the server alone."
  fi
  run_with_gui
}

main "$@"
