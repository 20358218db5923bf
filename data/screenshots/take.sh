#!/usr/bin/env bash
# Takes the screenshots in docs/screenshots/: a server and two desktop
# clients, each on its own Xvfb display, holding a short conversation
# scripted through SOCKCHAT_DEMO_SCRIPT (a test-only hook, see
# gui-client/sc-window-actions.c), then the server going away.  The first
# client's window is wide, in the light theme; the second one's is
# narrowed to 360 px and dark (GTK_THEME=Adwaita:dark).
#
#   English (default): alice and bob; conversation-alice.png,
#     narrow-dark-bob.png and server-gone.png.
#   --language zh_CN: 小明 and 小红, under LANG=zh_CN.UTF-8 with the
#     build's catalog (through SOCKCHAT_LOCALEDIR); chinese-window.png,
#     chinese-narrow-dark.png and chinese-server-gone.png.
#
# Usage: data/screenshots/take.sh [--language en|zh_CN] [--output DIR]
#                                 [BUILD_DIR]
#   BUILD_DIR defaults to _build, DIR to docs/screenshots.
# Needs: xvfb (Xvfb), imagemagick (import), dbus (dbus-run-session); for
# zh_CN also the zh_CN.UTF-8 locale (localedef -i zh_CN -f UTF-8
# zh_CN.UTF-8) and a CJK font (fonts-noto-cjk or fonts-wqy-zenhei).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LANGUAGE_OPTION=en
OUT="$ROOT/docs/screenshots"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --language) LANGUAGE_OPTION="${2:?--language needs en or zh_CN}"; shift 2 ;;
    --language=*) LANGUAGE_OPTION="${1#--language=}"; shift ;;
    --output) OUT="${2:?--output needs a directory}"; shift 2 ;;
    --output=*) OUT="${1#--output=}"; shift ;;
    -h|--help) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 0 ;;
    -*) echo "take.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
BUILD="$(cd "${1:-$ROOT/_build}" && pwd)"
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

CLIENT_ENV=()
case "$LANGUAGE_OPTION" in
  en)
    PORT=5391
    DISPLAYS=(91 92)
    NICKNAMES=(alice bob)
    cat >"$WORK/a.txt" <<'SCRIPT'
1500 get-time
700 get-name
2500 send 2 Hi Bob! Did the build pass?
2500 list-clients
600 open 2
600 type Great, see you there
SCRIPT
    cat >"$WORK/b.txt" <<'SCRIPT'
100 resize 360 700
2400 send 1 Hello Alice, yes: all green.
2500 broadcast Anyone up for lunch at noon?
1500 open 1
SCRIPT
    ;;
  zh_CN)
    PORT=5392
    DISPLAYS=(93 94)
    NICKNAMES=(小明 小红)
    mkdir -p "$WORK/locale/zh_CN/LC_MESSAGES"
    cp "$BUILD/po/zh_CN/LC_MESSAGES/sockchat.mo" \
      "$WORK/locale/zh_CN/LC_MESSAGES/"
    CLIENT_ENV=(LANG=zh_CN.UTF-8 LC_ALL=zh_CN.UTF-8 LANGUAGE=
                SOCKCHAT_LOCALEDIR="$WORK/locale")
    cat >"$WORK/a.txt" <<'SCRIPT'
1500 get-time
700 get-name
2500 send 2 小红你好！实验报告写完了吗？
2500 list-clients
600 open 2
600 type 好的，下午实验室见
SCRIPT
    cat >"$WORK/b.txt" <<'SCRIPT'
100 resize 360 700
2400 send 1 写完了，服务端和客户端都能正常通信。
2500 broadcast 大家中午一起吃饭吗？
1500 open 1
SCRIPT
    ;;
  *)
    echo "take.sh: --language must be en or zh_CN, not $LANGUAGE_OPTION" >&2
    exit 2
    ;;
esac

# start_display NUMBER: returns once Xvfb accepts clients (it writes the
# display number to -displayfd then).
start_display () {
  local ready
  mkfifo "$WORK/display-$1"
  Xvfb ":$1" -screen 0 1100x760x24 -nolisten tcp -displayfd 3 \
    3>"$WORK/display-$1" >/dev/null 2>&1 &
  PIDS+=($!)
  if ! read -r -t 10 ready <"$WORK/display-$1" || [[ "$ready" != "$1" ]]; then
    echo "take.sh: Xvfb :$1 did not start" >&2
    exit 1
  fi
}

# start_client DISPLAY NICKNAME SCRIPT [THEME]
start_client () {
  mkdir -p "$WORK/$2/data" "$WORK/$2/config"
  # Each client's history and known servers in the script's own folder:
  # the pictures do not depend on earlier runs.
  env DISPLAY=":$1" GSETTINGS_SCHEMA_DIR="$BUILD/data" \
    XDG_DATA_HOME="$WORK/$2/data" XDG_CONFIG_HOME="$WORK/$2/config" \
    GSETTINGS_BACKEND=memory "${CLIENT_ENV[@]}" \
    SOCKCHAT_DEMO_SCRIPT="$3" NO_AT_BRIDGE=1 GTK_THEME="${4:-Adwaita}" \
    dbus-run-session -- "$BUILD/gui-client/sockchat" --host 127.0.0.1 \
    --port "$PORT" --nickname "$2" --connect >"$WORK/$2.log" 2>&1 &
  PIDS+=($!)
}

mkdir -p "$OUT"
# The server on a fixed port (the pictures show it), its standard output
# and log read here through descriptor SERVER_OUT.
exec {SERVER_OUT}< <(exec "$BUILD/server/sockchat-server" --port "$PORT" \
  --bind 127.0.0.1 2>&1)
SERVER_PID=$!
PIDS+=("$SERVER_PID")

# read_until GLOB: reads the server's output until a line matches, for up
# to 10 s; leaves the line in LINE.
read_until () {
  local deadline=$((SECONDS + 10))
  while ((SECONDS < deadline)) &&
    read -r -t "$((deadline - SECONDS))" -u "$SERVER_OUT" LINE; do
    # shellcheck disable=SC2053 # $1 is a pattern
    [[ "$LINE" == $1 ]] && return 0
  done
  echo "take.sh: the server never printed a line like \"$1\"" >&2
  exit 1
}

read_until "sockchat-server: listening on port $PORT"
start_display "${DISPLAYS[0]}"
start_display "${DISPLAYS[1]}"
# The scripts address each other as clients 1 and 2: the second client
# connects once the server has numbered the first.
start_client "${DISPLAYS[0]}" "${NICKNAMES[0]}" "$WORK/a.txt"
read_until "*client 1 connected *"
start_client "${DISPLAYS[1]}" "${NICKNAMES[1]}" "$WORK/b.txt" Adwaita:dark
read_until "*client 2 connected *"
# Deliberate: the first client's script takes 8.4 s from its connection
# (the delays in a.txt); the pictures show the conversation once it is
# over.
sleep 9
case "$LANGUAGE_OPTION" in
  en)
    DISPLAY=":${DISPLAYS[0]}" import -window root "$OUT/conversation-alice.png"
    NARROW="$OUT/narrow-dark-bob.png"
    GONE="$OUT/server-gone.png"
    ;;
  zh_CN)
    DISPLAY=":${DISPLAYS[0]}" import -window root "$OUT/chinese-window.png"
    NARROW="$OUT/chinese-narrow-dark.png"
    GONE="$OUT/chinese-server-gone.png"
    ;;
esac
# Only the narrow window, with its client-side shadow.
DISPLAY=":${DISPLAYS[1]}" import -window root -crop 380x740+0+0 +repage \
  "$NARROW"

# The server goes away: the window says so and counts down to a retry.
kill "$SERVER_PID"
# Deliberate: the picture shows the countdown part of the way through.
sleep 2.5
DISPLAY=":${DISPLAYS[0]}" import -window root "$GONE"
echo "Saved to $OUT:"
ls -1 "$OUT"
