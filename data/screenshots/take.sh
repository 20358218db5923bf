#!/usr/bin/env bash
# Takes the screenshots in docs/screenshots/: a server and two desktop
# clients (alice and bob), each client on its own Xvfb display, holding a
# short conversation scripted through SOCKCHAT_DEMO_SCRIPT (a test-only
# hook, see gui-client/sc-window-actions.c), then the server going away.
# Alice's window is wide, in the light theme; bob's is narrowed to 360 px
# and dark (GTK_THEME=Adwaita:dark).
#
# Usage: data/screenshots/take.sh [BUILD_DIR]   (default: _build)
# Needs: xvfb (Xvfb), imagemagick (import), dbus (dbus-run-session).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$(cd "${1:-$ROOT/_build}" && pwd)"
OUT="$ROOT/docs/screenshots"
PORT=5391
WORK="$(mktemp -d)"
PIDS=()

cleanup () {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  [[ -n "${KEEP_WORK:-}" ]] || rm -rf "$WORK"
}
trap cleanup EXIT

start_display () {
  Xvfb ":$1" -screen 0 1100x760x24 -nolisten tcp >/dev/null 2>&1 &
  PIDS+=($!)
}

# start_client DISPLAY NICKNAME SCRIPT [THEME]
start_client () {
  DISPLAY=":$1" GSETTINGS_SCHEMA_DIR="$BUILD/data" GSETTINGS_BACKEND=memory \
    SOCKCHAT_DEMO_SCRIPT="$3" NO_AT_BRIDGE=1 GTK_THEME="${4:-Adwaita}" \
    dbus-run-session -- "$BUILD/gui-client/sockchat" --host 127.0.0.1 \
    --port "$PORT" --nickname "$2" --connect >"$WORK/$2.log" 2>&1 &
  PIDS+=($!)
}

cat >"$WORK/alice.txt" <<'SCRIPT'
1500 get-time
700 get-name
2500 send 2 Hi Bob! Did the build pass?
2500 list-clients
1200 type Great, see you there
SCRIPT
cat >"$WORK/bob.txt" <<'SCRIPT'
100 resize 360 700
2400 send 1 Hello Alice, yes: all green.
2500 broadcast Anyone up for lunch at noon?
SCRIPT

mkdir -p "$OUT"
"$BUILD/server/sockchat-server" --port "$PORT" --bind 127.0.0.1 \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=($SERVER_PID)
start_display 91
start_display 92
sleep 1
start_client 91 alice "$WORK/alice.txt"
sleep 1
start_client 92 bob "$WORK/bob.txt" Adwaita:dark
sleep 9
DISPLAY=:91 import -window root "$OUT/conversation-alice.png"
# Only the narrow window, with its client-side shadow.
DISPLAY=:92 import -window root -crop 380x740+0+0 +repage \
  "$OUT/narrow-dark-bob.png"

# The server goes away: the window says so and counts down to a retry.
kill "$SERVER_PID"
sleep 2.5
DISPLAY=:91 import -window root "$OUT/server-gone.png"
echo "Saved to $OUT:"
ls -1 "$OUT"
