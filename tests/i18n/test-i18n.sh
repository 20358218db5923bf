#!/usr/bin/env bash
# test-i18n.sh: the Chinese translation, as TAP.
#
#  1  msgfmt --check passes on po/zh_CN.po and reports only translated
#     messages: none untranslated, none fuzzy.
#  2  every string marked in the files of po/POTFILES.in is in zh_CN.po.
#  3  the compiled catalog is there: the build's
#     po/zh_CN/LC_MESSAGES/sockchat.mo, copied into a temporary
#     <dir>/zh_CN/LC_MESSAGES/ for SOCKCHAT_LOCALEDIR.
#  4  sockchat-cli, disconnected, shows 1 连接 and 7 退出 and says 再见。
#  5  sockchat-cli, connected to a sockchat-server child, shows all seven
#     actions in Chinese and prints the time, the name and the list.
#  6  sockchat-server --help is in Chinese.
#
# 4 to 6 run the programs under LANG=LC_ALL=zh_CN.UTF-8 and skip when that
# locale is not generated (localedef -i zh_CN -f UTF-8 zh_CN.UTF-8).
#
# Environment (set by tests/i18n/meson.build): SC_SOURCE_ROOT,
# SC_BUILD_ROOT, SC_CLI_BINARY, SC_SERVER_BINARY.
set -u

SRC="${SC_SOURCE_ROOT:?}"
BUILD="${SC_BUILD_ROOT:?}"
PO="$SRC/po/zh_CN.po"
WORK="$(mktemp -d)"
SERVER_PID=""

cleanup () {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null
    wait "$SERVER_PID" 2>/dev/null
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/../support/tap.sh"

# expect_all FILE TEXT...: the TEXTs missing from FILE, one a line.
missing_in () {
  local file="$1" text
  shift
  for text in "$@"; do
    grep -qF -- "$text" "$file" || printf '%s\n' "$text"
  done
}

echo "1..6"

# 1: complete, no fuzzy entries, valid format strings.
if ! command -v msgfmt >/dev/null; then
  skip "zh_CN.po: msgfmt --check" "msgfmt not installed (package gettext)"
else
  stats="$(LC_ALL=C msgfmt --check --statistics -o "$WORK/check.mo" "$PO" 2>&1)"
  status=$?
  if [[ $status -ne 0 ]]; then
    not_ok "zh_CN.po: msgfmt --check" "$stats"
  elif [[ ! "$stats" =~ ^[0-9]+\ translated\ messages?\.$ ]]; then
    not_ok "zh_CN.po: only translated messages" "$stats"
  else
    ok "zh_CN.po: $stats"
  fi
fi

# 2: nothing in the sources is missing from the translation.
if ! command -v xgettext >/dev/null || ! command -v msgcmp >/dev/null; then
  skip "zh_CN.po covers the sources" "xgettext not installed (package gettext)"
else
  absent=()
  : >"$WORK/files"
  while read -r file; do
    [[ -z "$file" || "$file" == \#* ]] && continue
    if [[ -e "$SRC/$file" ]]; then
      echo "$file" >>"$WORK/files"
    else
      absent+=("$file")
    fi
  done <"$SRC/po/POTFILES.in"
  # The keywords of meson's i18n.gettext(preset: 'glib').
  if ! out="$(cd "$SRC" && xgettext --from-code=UTF-8 --files-from="$WORK/files" \
      --keyword=_ --keyword=N_ --keyword=C_:1c,2 --keyword=NC_:1c,2 \
      --keyword=g_dcgettext:2 --keyword=g_dngettext:2,3 \
      --keyword=g_dpgettext2:2c,3 -o "$WORK/sources.pot" 2>&1)"; then
    not_ok "zh_CN.po covers the sources" "xgettext failed:" "$out"
  elif ! out="$(LC_ALL=C msgcmp "$PO" "$WORK/sources.pot" 2>&1)"; then
    not_ok "zh_CN.po covers the sources" \
      "strings in the sources that zh_CN.po lacks; run" \
      "ninja -C _build sockchat-pot sockchat-update-po and translate them:" \
      "$out"
  elif [[ ${#absent[@]} -gt 0 ]]; then
    ok "zh_CN.po covers the sources (not yet there: ${absent[*]})"
  else
    ok "zh_CN.po covers the sources"
  fi
fi

# 3: the catalog the build compiled, where SOCKCHAT_LOCALEDIR finds it.
LOCALEDIR="$WORK/locale"
mkdir -p "$LOCALEDIR/zh_CN/LC_MESSAGES"
mo="$BUILD/po/zh_CN/LC_MESSAGES/sockchat.mo"
have_mo=0
if [[ -s "$mo" ]]; then
  cp "$mo" "$LOCALEDIR/zh_CN/LC_MESSAGES/sockchat.mo"
  if [[ "$mo" -ot "$PO" ]]; then
    not_ok "compiled catalog is up to date" \
      "$mo is older than po/zh_CN.po: rebuild (meson test does)"
  else
    ok "compiled catalog: $mo"
  fi
  have_mo=1
else
  not_ok "compiled catalog" "$mo is missing: is po/ built?"
fi

# The programs in Chinese need the locale itself: gettext ignores
# LANGUAGE under the C locale.
locale_ok=1
if ! locale -a 2>/dev/null | grep -qix 'zh_CN\.utf-\?8'; then
  locale_ok=0
  why="zh_CN.UTF-8 locale missing: localedef -i zh_CN -f UTF-8 zh_CN.UTF-8"
elif [[ $have_mo -eq 0 ]]; then
  locale_ok=0
  why="no compiled catalog"
fi

in_chinese () {
  env LANG=zh_CN.UTF-8 LC_ALL=zh_CN.UTF-8 LANGUAGE= \
    SOCKCHAT_LOCALEDIR="$LOCALEDIR" "$@"
}

# 4: the short menu while disconnected.
if [[ $locale_ok -eq 0 ]]; then
  skip "sockchat-cli menu in Chinese (disconnected)" "$why"
else
  printf '7\n' | in_chinese timeout 20 "$SC_CLI_BINARY" >"$WORK/cli1.out" 2>&1
  status=$?
  miss="$(missing_in "$WORK/cli1.out" "菜单：" "1 连接" "7 退出" "请选择 [1 或 7]：" "再见。")"
  if [[ $status -ne 0 || -n "$miss" ]]; then
    not_ok "sockchat-cli menu in Chinese (disconnected)" "exit status $status" \
      "missing:" "$miss" "output:" "$(cat "$WORK/cli1.out")"
  else
    ok "sockchat-cli menu in Chinese (disconnected)"
  fi
fi

# 5: all seven actions while connected, and the answers to 3, 4 and 5.
if [[ $locale_ok -eq 0 ]]; then
  skip "sockchat-cli menu and answers in Chinese (connected)" "$why"
else
  # Its standard output through a FIFO: the port line is read as soon as
  # it comes, or the end of the output if the server fails.
  mkfifo "$WORK/server.fifo"
  "$SC_SERVER_BINARY" --port 0 --bind 127.0.0.1 >"$WORK/server.fifo" \
    2>"$WORK/server.err" &
  SERVER_PID=$!
  exec {server_out}<"$WORK/server.fifo"
  line=""
  read -r -t 10 -u "$server_out" line
  port="$(sed -n 's/^sockchat-server: listening on port \([0-9]*\)$/\1/p' \
    <<<"$line")"
  if [[ -z "$port" ]]; then
    not_ok "sockchat-cli menu and answers in Chinese (connected)" \
      "the server did not start:" "$line" "$(cat "$WORK/server.err")"
  else
    printf '3\n4\n5\n7\n' |
      in_chinese timeout 20 "$SC_CLI_BINARY" --host 127.0.0.1 --port "$port" \
        --nickname 测试 >"$WORK/cli2.out" 2>&1
    status=$?
    miss="$(missing_in "$WORK/cli2.out" \
      "正在连接 127.0.0.1 端口 $port……" "已连接到 127.0.0.1 端口 $port" \
      "1 连接" "2 断开连接" "3 获取时间" "4 获取名字" "5 活动连接列表" \
      "6 发消息" "7 退出" "请选择 [1-7]：" \
      "服务器时间：" "服务器主机名：" "编号" "昵称" "测试" \
      "共 1 个客户端在线" "再见。")"
    if [[ $status -ne 0 || -n "$miss" ]]; then
      not_ok "sockchat-cli menu and answers in Chinese (connected)" \
        "exit status $status" "missing:" "$miss" "output:" \
        "$(cat "$WORK/cli2.out")"
    else
      ok "sockchat-cli menu and answers in Chinese (connected)"
    fi
  fi
fi

# 6: the server's command-line help.
if [[ $locale_ok -eq 0 ]]; then
  skip "sockchat-server --help in Chinese" "$why"
else
  in_chinese "$SC_SERVER_BINARY" --help >"$WORK/help.out" 2>&1
  status=$?
  miss="$(missing_in "$WORK/help.out" \
    "SockChat 服务端：通过 TCP 在客户端之间转发消息。" "监听的 TCP 端口")"
  if [[ $status -ne 0 || -n "$miss" ]]; then
    not_ok "sockchat-server --help in Chinese" "exit status $status" \
      "missing:" "$miss" "output:" "$(cat "$WORK/help.out")"
  else
    ok "sockchat-server --help in Chinese"
  fi
fi

[[ $TAP_FAILED -eq 0 ]]
