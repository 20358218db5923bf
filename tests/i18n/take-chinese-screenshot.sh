#!/usr/bin/env bash
# Takes docs/screenshots/chinese-window.png, chinese-narrow-dark.png and
# chinese-server-gone.png: the GTK client in Chinese
# (LANG=zh_CN.UTF-8, the build's catalog through SOCKCHAT_LOCALEDIR) during
# a short conversation between 小明 and 小红, scripted through
# SOCKCHAT_DEMO_SCRIPT like data/screenshots/take.sh, then the server
# going away.  小明's window is wide and light; 小红's is narrowed to
# 360 px and dark (GTK_THEME=Adwaita:dark).
#
# Usage: tests/i18n/take-chinese-screenshot.sh [BUILD_DIR]   (default: _build)
# Needs: the zh_CN.UTF-8 locale (localedef -i zh_CN -f UTF-8 zh_CN.UTF-8),
# a CJK font (fonts-noto-cjk or fonts-wqy-zenhei), xvfb (Xvfb),
# imagemagick (import), dbus (dbus-run-session).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
BUILD="$(cd "${1:-$ROOT/_build}" && pwd)"
OUT="$ROOT/docs/screenshots"
PORT=5392
WORK="$(mktemp -d)"
PIDS=()

cleanup () {
  local pid
  for pid in "${PIDS[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT

mkdir -p "$WORK/locale/zh_CN/LC_MESSAGES"
cp "$BUILD/po/zh_CN/LC_MESSAGES/sockchat.mo" "$WORK/locale/zh_CN/LC_MESSAGES/"

start_display () {
  Xvfb ":$1" -screen 0 1100x760x24 -nolisten tcp >/dev/null 2>&1 &
  PIDS+=($!)
}

# start_client DISPLAY NICKNAME SCRIPT [THEME]
start_client () {
  DISPLAY=":$1" GSETTINGS_SCHEMA_DIR="$BUILD/data" GSETTINGS_BACKEND=memory \
    GTK_THEME="${4:-Adwaita}" \
    LANG=zh_CN.UTF-8 LC_ALL=zh_CN.UTF-8 LANGUAGE='' \
    SOCKCHAT_LOCALEDIR="$WORK/locale" \
    SOCKCHAT_DEMO_SCRIPT="$3" NO_AT_BRIDGE=1 \
    dbus-run-session -- "$BUILD/gui-client/sockchat" --host 127.0.0.1 \
    --port "$PORT" --nickname "$2" --connect >"$WORK/$2.log" 2>&1 &
  PIDS+=($!)
}

cat >"$WORK/a.txt" <<'SCRIPT'
1500 get-time
700 get-name
2500 send 2 小红你好！实验报告写完了吗？
2500 list-clients
1200 type 好的，下午实验室见
SCRIPT
cat >"$WORK/b.txt" <<'SCRIPT'
100 resize 360 700
2400 send 1 写完了，服务端和客户端都能正常通信。
2500 broadcast 大家中午一起吃饭吗？
SCRIPT

mkdir -p "$OUT"
"$BUILD/server/sockchat-server" --port "$PORT" --bind 127.0.0.1 \
  >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
PIDS+=("$SERVER_PID")
start_display 93
start_display 94
sleep 1
start_client 93 小明 "$WORK/a.txt"
sleep 1
start_client 94 小红 "$WORK/b.txt" Adwaita:dark
sleep 9
DISPLAY=:93 import -window root "$OUT/chinese-window.png"
DISPLAY=:94 import -window root -crop 380x740+0+0 +repage \
  "$OUT/chinese-narrow-dark.png"

# The server goes away: the info bar says so and counts down to a retry.
kill "$SERVER_PID"
sleep 2.5
DISPLAY=:93 import -window root "$OUT/chinese-server-gone.png"
echo "Saved $OUT/chinese-window.png, chinese-narrow-dark.png and chinese-server-gone.png"
