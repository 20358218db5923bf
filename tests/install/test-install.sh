#!/usr/bin/env bash
# test-install.sh: validates SockChat's installed data files and checks a
# DESTDIR install of the build tree.  Speaks TAP.
#
# Usage: test-install.sh MESON BUILD_ROOT
#
# tests/install/meson.build passes the install locations and the merged
# data files in SC_* variables.  Everything the test writes goes under one
# temporary directory, removed at exit; "meson install" itself rewrites
# BUILD_ROOT/meson-logs/install-log.txt as it always does.  A validator
# that is not installed is a TAP skip, naming its Debian package.
set -euo pipefail

MESON="${1:?usage: $0 MESON BUILD_ROOT}"
BUILD_ROOT="${2:?usage: $0 MESON BUILD_ROOT}"
: "${SC_SOURCE_ROOT:?}" "${SC_VERSION:?}" "${SC_GUI:?}" "${SC_BINDIR:?}"
: "${SC_DATADIR:?}" "${SC_MANDIR:?}" "${SC_SYSCONFDIR:?}" "${SC_UNITDIR:?}"
: "${SC_DESKTOP_FILE?}" "${SC_METAINFO_FILE?}"

# Program output is parsed below (--help, "listening on port").
export LC_ALL=C

APP_ID=io.github.sockchat.SockChat
TMP="$(mktemp -d)"
DEST="$TMP/dest"
SERVER_PID=""

cleanup () {
  if [[ -n "$SERVER_PID" ]]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/../support/tap.sh"

# check NAME COMMAND...: ok when COMMAND succeeds; its output is shown
# when it fails.
check () {
  local name="$1"
  shift
  if "$@" >"$TMP/check.out" 2>&1; then
    ok "$name"
  else
    not_ok_file "$name" "$TMP/check.out"
  fi
}

# check_quiet NAME COMMAND...: like check, but any output is a failure
# too (validators that print warnings and still succeed).
check_quiet () {
  local name="$1"
  shift
  if "$@" >"$TMP/check.out" 2>&1 && [[ ! -s "$TMP/check.out" ]]; then
    ok "$name"
  else
    not_ok_file "$name" "$TMP/check.out"
  fi
}

has () {
  command -v "$1" >/dev/null 2>&1
}

# The long options a program's --help lists under "Application Options".
long_options () {
  "$1" --help | sed -n '/^Application Options:/,$p' |
    sed -nE 's/^ +(-[A-Za-z], )?--([a-z][a-z-]*).*/\2/p'
}

# The keys of server.conf, set or commented out, one a line.
conf_keys () {
  sed -nE 's/^#?([a-z][a-z-]*)=.*/\1/p' "$1" | sort -u
}

programs=(sockchat-server sockchat-cli)
if [[ "$SC_GUI" == yes ]]; then
  programs+=(sockchat)
fi

# --- The data files as built ----------------------------------------------

if [[ "$SC_GUI" != yes ]]; then
  skip "desktop-file-validate on the desktop entry" "built without the GUI"
  skip "appstreamcli validate on the metainfo" "built without the GUI"
else
  if has desktop-file-validate; then
    check_quiet "desktop-file-validate on the desktop entry" \
      desktop-file-validate "$SC_DESKTOP_FILE"
  else
    skip "desktop-file-validate on the desktop entry" \
      "desktop-file-validate not installed (apt-get install desktop-file-utils)"
  fi
  if has appstreamcli; then
    check "appstreamcli validate on the metainfo" \
      appstreamcli validate --no-net "$SC_METAINFO_FILE"
  else
    skip "appstreamcli validate on the metainfo" \
      "appstreamcli not installed (apt-get install appstream)"
  fi
fi

if has glib-compile-schemas; then
  check "glib-compile-schemas --strict accepts data/" \
    glib-compile-schemas --strict --dry-run "$SC_SOURCE_ROOT/data"
else
  skip "glib-compile-schemas --strict accepts data/" \
    "glib-compile-schemas not installed (apt-get install libglib2.0-bin)"
fi

# --- The installed tree -----------------------------------------------------

if ! "$MESON" install -C "$BUILD_ROOT" --destdir "$DEST" --no-rebuild \
  --quiet >"$TMP/install.out" 2>&1; then
  not_ok_file "meson install --destdir" "$TMP/install.out"
  echo "1..$TAP_N"
  exit 1
fi
ok "meson install --destdir"

bindir="$DEST$SC_BINDIR"
datadir="$DEST$SC_DATADIR"
man1dir="$DEST$SC_MANDIR/man1"
conf="$DEST$SC_SYSCONFDIR/sockchat/server.conf"
unit="$DEST$SC_UNITDIR/sockchat-server.service"
desktop="$datadir/applications/$APP_ID.desktop"
metainfo="$datadir/metainfo/$APP_ID.metainfo.xml"
icon="$datadir/icons/hicolor/scalable/apps/$APP_ID.svg"
symbolic="$datadir/icons/hicolor/symbolic/apps/$APP_ID-symbolic.svg"
schema="$datadir/glib-2.0/schemas/$APP_ID.gschema.xml"

installed=("$conf" "$unit")
for program in "${programs[@]}"; do
  installed+=("$man1dir/$program.1")
done
if [[ "$SC_GUI" == yes ]]; then
  installed+=("$desktop" "$metainfo" "$icon" "$symbolic" "$schema")
fi
for program in "${programs[@]}"; do
  check "installed: ${SC_BINDIR#/}/$program" test -x "$bindir/$program"
done
for file in "${installed[@]}"; do
  check "installed: ${file#"$DEST"/}" test -f "$file"
done

# Clustering is a module the server loads for --cluster only: a server
# run alone needs nothing of NATS (docs/CLUSTER.md).
if readelf -d "$bindir/sockchat-server" | grep -q 'NEEDED.*libnats'; then
  readelf -d "$bindir/sockchat-server" >"$TMP/readelf.out"
  not_ok_file "sockchat-server does not link libnats" "$TMP/readelf.out"
else
  ok "sockchat-server does not link libnats"
fi
if [[ -n "${SC_BACKPLANE_MODULE:-}" ]]; then
  check "installed: ${SC_BACKPLANE_MODULE#/}" \
    test -f "$DEST$SC_BACKPLANE_MODULE"
fi

# The installed programs start: no library or data from the build tree.
version_programs=(sockchat-server sockchat-cli)
if [[ "$SC_GUI" == yes ]]; then
  # sockchat answers --version without a display or a session bus.
  version_programs+=(sockchat)
fi
for program in "${version_programs[@]}"; do
  if out="$("$bindir/$program" --version 2>&1)" &&
    [[ "$out" == "$program $SC_VERSION" ]]; then
    ok "$program --version says $SC_VERSION"
  else
    printf '%s\n' "$out" >"$TMP/version.out"
    not_ok_file "$program --version says $SC_VERSION" "$TMP/version.out"
  fi
done

# Each manual page documents every option of its program, names this
# version and renders without warnings.
for program in "${programs[@]}"; do
  page="$man1dir/$program.1"
  missing=()
  while read -r option; do
    grep -qF -- "\\-\\-${option//-/\\-}" "$page" || missing+=("--$option")
  done < <(long_options "$bindir/$program")
  if [[ ${#missing[@]} -eq 0 ]]; then
    ok "$program.1 documents every option of $program --help"
  else
    printf 'missing: %s\n' "${missing[@]}" >"$TMP/man.out"
    not_ok_file "$program.1 documents every option of $program --help" \
      "$TMP/man.out"
  fi
  check "$program.1 names SockChat $SC_VERSION" \
    grep -qE "^\\.TH .*\"SockChat $SC_VERSION\"" "$page"
  if has groff; then
    check_quiet "$program.1 renders without warnings" \
      groff -man -ww -z -Tutf8 "$page"
  else
    skip "$program.1 renders without warnings" \
      "groff not installed (apt-get install groff-base)"
  fi
done

# --- The installed desktop data --------------------------------------------

if [[ "$SC_GUI" == yes ]]; then
  exec_line="$(sed -n 's/^Exec=//p' "$desktop")"
  check "the desktop entry runs the installed sockchat" \
    test -x "$bindir/${exec_line%% *}"
  icon_name="$(sed -n 's/^Icon=//p' "$desktop")"
  check "the desktop entry's icon is installed" \
    test -f "$datadir/icons/hicolor/scalable/apps/$icon_name.svg"
  check "the metainfo launches the installed desktop entry" \
    grep -qF "<launchable type=\"desktop-id\">$APP_ID.desktop</launchable>" \
    "$metainfo"
  missing=()
  while read -r binary; do
    [[ -x "$bindir/$binary" ]] || missing+=("$binary")
  done < <(sed -nE 's|.*<binary>([^<]+)</binary>.*|\1|p' "$metainfo")
  if [[ ${#missing[@]} -eq 0 ]]; then
    ok "every binary the metainfo provides is installed"
  else
    printf 'missing: %s\n' "${missing[@]}" >"$TMP/binaries.out"
    not_ok_file "every binary the metainfo provides is installed" \
      "$TMP/binaries.out"
  fi
  if has xmllint; then
    check "the icons are well-formed SVG" \
      xmllint --noout "$icon" "$symbolic"
  else
    skip "the icons are well-formed SVG" \
      "xmllint not installed (apt-get install libxml2-utils)"
  fi
  if has glib-compile-schemas; then
    check "glib-compile-schemas --strict accepts the installed schemas" \
      glib-compile-schemas --strict --dry-run "$(dirname "$schema")"
  else
    skip "glib-compile-schemas --strict accepts the installed schemas" \
      "glib-compile-schemas not installed (apt-get install libglib2.0-bin)"
  fi
fi

# --- The server's unit and configuration -----------------------------------

check "the unit starts the installed server with the installed config" \
  grep -qxF \
  "ExecStart=$SC_BINDIR/sockchat-server --config $SC_SYSCONFDIR/sockchat/server.conf" \
  "$unit"
if has systemd-analyze; then
  # verify wants ExecStart's program and Documentation's man page to
  # exist, so it reads a copy that points into the DESTDIR tree.
  mkdir -p "$TMP/unit"
  sed "s|^ExecStart=$SC_BINDIR/|ExecStart=$bindir/|" "$unit" \
    >"$TMP/unit/sockchat-server.service"
  # Warnings about the system's own units are not ours to fail on.
  if env MANPATH="$DEST$SC_MANDIR" systemd-analyze verify \
    "$TMP/unit/sockchat-server.service" >"$TMP/verify.out" 2>&1 &&
    ! grep -q 'sockchat' "$TMP/verify.out"; then
    ok "systemd-analyze verify accepts the unit"
  else
    not_ok_file "systemd-analyze verify accepts the unit" "$TMP/verify.out"
  fi
else
  skip "systemd-analyze verify accepts the unit" \
    "systemd-analyze not installed (apt-get install systemd)"
fi

# The cluster examples (data/cluster/, docs/CLUSTER.md): the node
# configurations are valid (the build tree's server reads each, then fails
# only on reaching NATS, which the command line points at a closed port),
# and the per-node unit passes systemd-analyze verify.
if [[ -n "${SC_BACKPLANE_MODULE:-}" ]]; then
  for n in 1 2 3; do
    node_conf="$SC_SOURCE_ROOT/data/cluster/node-$n.conf"
    status=0
    timeout 20 "$BUILD_ROOT/server/sockchat-server" --config "$node_conf" \
      --port 0 --bind 127.0.0.1 --cluster nats://127.0.0.1:1 \
      >"$TMP/node.out" 2>&1 || status=$?
    if [[ "$status" -eq 1 ]] && grep -q "cannot connect to NATS" "$TMP/node.out"; then
      ok "data/cluster/node-$n.conf is a valid configuration"
    else
      echo "exit status $status" >>"$TMP/node.out"
      not_ok_file "data/cluster/node-$n.conf is a valid configuration" \
        "$TMP/node.out"
    fi
  done
  if has systemd-analyze; then
    sed "s|^ExecStart=/usr/bin/|ExecStart=$bindir/|" \
      "$SC_SOURCE_ROOT/data/cluster/sockchat-server@.service" \
      >"$TMP/unit/sockchat-server@.service"
    if env MANPATH="$DEST$SC_MANDIR" systemd-analyze verify \
      "$TMP/unit/sockchat-server@1.service" >"$TMP/verify.out" 2>&1 &&
      ! grep -q 'sockchat' "$TMP/verify.out"; then
      ok "systemd-analyze verify accepts data/cluster/sockchat-server@.service"
    else
      not_ok_file "systemd-analyze verify accepts data/cluster/sockchat-server@.service" \
        "$TMP/verify.out"
    fi
  fi
fi

# server.conf lists every setting: the long options but --config,
# --version and --add-account (commands, not settings), and "name", which
# has no option.
long_options "$bindir/sockchat-server" | grep -vxE 'config|version|add-account' |
  { cat; echo name; } | sort -u >"$TMP/options"
conf_keys "$conf" >"$TMP/keys"
if diff -u "$TMP/options" "$TMP/keys" >"$TMP/keys.diff"; then
  ok "server.conf lists every server setting"
else
  not_ok_file "server.conf lists every server setting" "$TMP/keys.diff"
fi

# run_server NAME CONF: the installed server starts with --config CONF on
# a free loopback port and stops cleanly on SIGTERM.
run_server () {
  local name="$1" status=0 line="" out
  # Its standard output through a FIFO: the test reads the port line as
  # soon as it comes, or the end of the output if the server fails.
  rm -f "$TMP/server.fifo"
  mkfifo "$TMP/server.fifo"
  "$bindir/sockchat-server" --config "$2" --port 0 --bind 127.0.0.1 \
    >"$TMP/server.fifo" 2>"$TMP/server.err" &
  SERVER_PID=$!
  exec {out}<"$TMP/server.fifo"
  read -r -t 10 -u "$out" line || true
  printf '%s\n' "$line" | cat - "$TMP/server.err" >"$TMP/server.out"
  if [[ "$line" != *'listening on port'* ]]; then
    exec {out}<&-
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=""
    not_ok_file "$name" "$TMP/server.out"
    return
  fi
  kill -TERM "$SERVER_PID"
  wait "$SERVER_PID" || status=$?
  SERVER_PID=""
  exec {out}<&-
  printf '%s\n' "$line" | cat - "$TMP/server.err" >"$TMP/server.out"
  if [[ $status -eq 0 ]]; then
    ok "$name"
  else
    echo "exit status $status after SIGTERM" >>"$TMP/server.out"
    not_ok_file "$name" "$TMP/server.out"
  fi
}

run_server "the installed server starts with the installed server.conf" "$conf"

# Every commented-out value must be one the server accepts.
printf 'secret\n' >"$TMP/password"
check "sockchat-server --add-account registers a nickname" \
  bash -c "printf 'wonderland\\n' | '$bindir/sockchat-server' \
    --accounts-file '$TMP/accounts' --add-account alice &&
    grep -q '^alice:\\\$y\\\$' '$TMP/accounts' &&
    [[ \$(stat -c %a '$TMP/accounts') == 600 ]]"
# A self-signed certificate for the TLS keys (certtool: gnutls-bin).
certtool --generate-privkey --key-type=ecdsa --outfile "$TMP/tls.key" \
  >/dev/null 2>&1
printf 'cn = "localhost"\nexpiration_days = 2\ntls_www_server\n' \
  >"$TMP/tls.template"
certtool --generate-self-signed --load-privkey "$TMP/tls.key" \
  --template "$TMP/tls.template" --outfile "$TMP/tls.crt" >/dev/null 2>&1
sed -E -e 's/^#([a-z][a-z-]*=)/\1/' \
  -e "s|^password-file=.*|password-file=$TMP/password|" \
  -e "s|^tls-cert=.*|tls-cert=$TMP/tls.crt|" \
  -e "s|^tls-key=.*|tls-key=$TMP/tls.key|" \
  -e "s|^tls-port=.*|tls-port=0|" \
  -e "s|^accounts-file=.*|accounts-file=$TMP/accounts|" \
  "$conf" >"$TMP/server.conf"
run_server "the server accepts every value in server.conf" "$TMP/server.conf"

echo "1..$TAP_N"
[[ $TAP_FAILED -eq 0 ]]
