# shellcheck shell=bash
# tap.sh: TAP output for the shell tests (install, i18n, wireshark);
# they source it:
#   source "$(dirname "${BASH_SOURCE[0]}")/../support/tap.sh"
#
#   ok NAME
#   not_ok NAME [LINE...]    a failure; each LINE (it may hold several) is
#                            shown as diagnostics
#   not_ok_file NAME FILE    a failure, with FILE's lines as diagnostics
#   skip NAME WHY
#   bail_out WHY...          the rest cannot run
# TAP_N counts the tests so far (for a trailing "1..$TAP_N"), TAP_FAILED
# the failures.

TAP_N=0
TAP_FAILED=0

ok () {
  TAP_N=$((TAP_N + 1))
  echo "ok $TAP_N - $1"
}

not_ok () {
  local line
  TAP_N=$((TAP_N + 1))
  TAP_FAILED=$((TAP_FAILED + 1))
  echo "not ok $TAP_N - $1"
  shift
  for line in "$@"; do
    printf '%s\n' "$line" | sed 's/^/# /'
  done
}

not_ok_file () {
  not_ok "$1"
  if [[ -s "$2" ]]; then
    sed 's/^/# /' "$2"
  fi
}

skip () {
  TAP_N=$((TAP_N + 1))
  echo "ok $TAP_N - $1 # SKIP $2"
}

bail_out () {
  echo "Bail out! $*"
  exit 1
}
