#!/usr/bin/env bash
# Builds SockChat from scratch and runs every check:
#   1. the test suite in _build (--werror, debugoptimized), under Xvfb;
#   2. the clang-format check (ninja clang-format-check);
#   3. the same suite built with AddressSanitizer + UndefinedBehaviorSanitizer
#      in _build-asan (skipped with --quick).
# Installs missing Debian packages first (see scripts/ensure-packages.sh).
#
# Usage: ./test.sh [--quick | --full]
#   (default)  all of the above
#   --quick    skip the sanitizer build
#   --full     also: a ThreadSanitizer build of the server and client tests
#              and of cluster scenarios 1 to 3 (_build-tsan), the protocol, server and client tests under
#              valgrind (meson test --setup valgrind), the 60 s soak
#              (suite soak-long) and the three-node cluster test (suite
#              cluster, about 70 s); CI runs this
#
# Wall-clock performance bounds are in the perf suite, left out of every
# run here (they need an otherwise idle machine): meson test -C _build
# --suite perf runs them.  The long soak (suite soak-long) is left out of
# the default runs and run alone by --full.
#
# The last line is always "N passed, M failed", counting TAP subtests of both
# builds (a non-TAP test counts as one) plus the clang-format check. Exits
# non-zero when anything failed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$ROOT"

# shellcheck source=scripts/ensure-packages.sh
source "$ROOT/scripts/ensure-packages.sh"

MODE="default"
PASSED=0
FAILED=0
SKIPPED=0
TODO=0
SUMMARY_DONE=0
XVFB_SERVER_ARGS="-screen 0 1280x1024x24"

usage () {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

parse_args () {
  while [[ $# -gt 0 ]]; do
    case "$1" in
      --quick) MODE="quick" ;;
      --full) MODE="full" ;;
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

# Prints the closing lines; the very last one is "N passed, M failed".
print_summary () {
  section "Summary ($MODE)"
  if [[ "$TODO" -gt 0 ]]; then
    echo "$TODO expected failures (TODO)"
  fi
  echo "$SKIPPED skipped"
  echo "$PASSED passed, $FAILED failed"
  SUMMARY_DONE=1
}

# If the script dies unexpectedly, still end with a summary line.
on_exit () {
  local status=$?
  if [[ "$SUMMARY_DONE" -eq 0 ]]; then
    echo "test.sh stopped early (status $status)"
    FAILED=$((FAILED + 1))
    print_summary
    exit 1
  fi
}

section () {
  printf '\n=== %s ===\n' "$*"
}

python_bin () {
  if [[ -x /usr/bin/python3 ]]; then
    echo /usr/bin/python3
  else
    command -v python3
  fi
}

# count_results BUILDDIR MESON_TEST_STATUS [LOGBASE]: adds the results
# logged in BUILDDIR/meson-logs/LOGBASE.json (default testlog) to the totals.
count_results () {
  local builddir="$1" status="$2" logbase="${3:-testlog}" counts p f s t
  local log="$builddir/meson-logs/$logbase.json"
  if [[ ! -s "$log" ]]; then
    if [[ "$status" -eq 0 ]]; then
      echo "$builddir: no tests ran"
    else
      echo "$builddir: meson test failed and left no test log"
      FAILED=$((FAILED + 1))
    fi
    return 0
  fi
  if ! counts="$("$(python_bin)" "$ROOT/scripts/testlog-summary.py" \
    "$builddir" "$logbase" | tail -n 1)"; then
    echo "$builddir: could not parse $log"
    FAILED=$((FAILED + 1))
    return 0
  fi
  read -r p f s t <<<"$counts"
  echo "$builddir: $p passed, $f failed, $s skipped"
  PASSED=$((PASSED + p))
  FAILED=$((FAILED + f))
  SKIPPED=$((SKIPPED + s))
  TODO=$((TODO + t))
  if [[ "$status" -ne 0 && "$f" -eq 0 ]]; then
    echo "$builddir: meson test exited with status $status"
    FAILED=$((FAILED + 1))
  fi
}

# build_and_test BUILDDIR [MESON_SETUP_ARGS...]: configures BUILDDIR from
# scratch, builds it and runs the test suite under Xvfb.
build_and_test () {
  local builddir="$1" status=0
  shift
  section "Build $builddir"
  rm -rf "$builddir"
  if ! meson setup "$builddir" --werror -Dbuildtype=debugoptimized "$@"; then
    echo "$builddir: meson setup failed"
    FAILED=$((FAILED + 1))
    return 0
  fi
  if ! meson compile -C "$builddir"; then
    echo "$builddir: build failed"
    FAILED=$((FAILED + 1))
    return 0
  fi
  section "Test $builddir"
  # The output goes through a file: a D-Bus service the session activated
  # (xdg-document-portal) may outlive dbus-run-session, and it must not
  # hold this script's standard output open after the script has ended.
  xvfb-run -a -s "$XVFB_SERVER_ARGS" \
    dbus-run-session -- \
    meson test -C "$builddir" --print-errorlogs --no-suite perf \
    --no-suite soak-long --no-suite cluster "${TEST_ARGS[@]}" </dev/null \
    >"$builddir/test-output.txt" 2>&1 || status=$?
  cat "$builddir/test-output.txt"
  # With --setup, Meson appends the setup's name to the log's name.
  local log
  log="$(ls -t "$builddir"/meson-logs/testlog*.json 2>/dev/null | head -n 1)"
  count_results "$builddir" "$status" "$(basename "${log:-testlog}" .json)"
}

# run_more_tests BUILDDIR LOGBASE [MESON_TEST_ARGS...]: runs part of the
# suite again (another setup or another build) under its own log name, and
# counts it like the main run.
run_more_tests () {
  local builddir="$1" logbase="$2" status=0
  shift 2
  section "Test $builddir $*"
  rm -f "$builddir/meson-logs/$logbase"*.json
  meson test -C "$builddir" --print-errorlogs --logbase "$logbase" "$@" ||
    status=$?
  # With --setup, Meson appends the setup's name to the log's name.
  local log
  log="$(ls -t "$builddir/meson-logs/$logbase"*.json 2>/dev/null | head -n 1)"
  count_results "$builddir" "$status" "$(basename "${log:-$logbase}" .json)"
}

# The long checks of --full.  GUI tests are left out: GTK is not built
# with either tool, so they would mostly report GTK itself.
full_checks () {
  section "Build _build-tsan"
  rm -rf _build-tsan
  if meson setup _build-tsan --werror -Dbuildtype=debugoptimized \
    -Db_sanitize=thread -Db_lundef=false -Dgui=disabled &&
    meson compile -C _build-tsan; then
    run_more_tests _build-tsan testlog-tsan --setup tsan --suite server \
      --suite client
    # The cluster code under ThreadSanitizer: traffic, presence, and every
    # node stopped and restarted (the scenarios with tight time bounds
    # are left to the plain build).
    SC_CLUSTER_SCENARIOS="1 3 2" run_more_tests _build-tsan \
      testlog-tsan-cluster --setup tsan --suite cluster
  else
    echo "_build-tsan: build failed"
    FAILED=$((FAILED + 1))
  fi
  run_more_tests _build testlog-soak-long --suite soak-long
  # Three NATS servers and three sockchat nodes (tests/cluster/run.sh).
  run_more_tests _build testlog-cluster --suite cluster
  if command -v valgrind >/dev/null 2>&1; then
    run_more_tests _build testlog-valgrind --setup valgrind --suite protocol \
      --suite server \
      --suite client
  else
    echo "valgrind is not installed"
    FAILED=$((FAILED + 1))
  fi
}

clang_format_check () {
  section "clang-format check"
  if [[ ! -f "$ROOT/_build/build.ninja" ]]; then
    # No build tree to run the Meson target from: check the same files it
    # would (the C sources and headers git tracks) directly.
    echo "_build is not configured; running clang-format directly"
    if git ls-files -z -- '*.c' '*.h' \
      | xargs -0 --no-run-if-empty clang-format --dry-run --Werror \
        -style=file; then
      echo "clang-format check: ok"
      PASSED=$((PASSED + 1))
    else
      echo "clang-format check: FAIL (run clang-format -i on the files above)"
      FAILED=$((FAILED + 1))
    fi
  elif ninja -C _build clang-format-check; then
    echo "clang-format check: ok"
    PASSED=$((PASSED + 1))
  else
    echo "clang-format check: FAIL (run 'ninja -C _build clang-format' to fix)"
    FAILED=$((FAILED + 1))
  fi
}

main () {
  parse_args "$@"
  trap on_exit EXIT
  echo "test.sh mode: $MODE"

  section "Packages"
  if ! ensure_packages || ! ensure_chinese_locale; then
    echo "package installation failed"
    FAILED=$((FAILED + 1))
    print_summary
    exit 1
  fi

  TEST_ARGS=()
  build_and_test _build
  clang_format_check

  if [[ "$MODE" == "quick" ]]; then
    section "Sanitizer build skipped (--quick)"
  else
    # The sanitizer options are in the asan test setup (tests/meson.build).
    TEST_ARGS=(--setup asan)
    build_and_test _build-asan -Db_sanitize=address,undefined -Db_lundef=false
  fi
  if [[ "$MODE" == "full" ]]; then
    TEST_ARGS=()
    full_checks
  fi

  print_summary
  [[ "$FAILED" -eq 0 ]]
}

main "$@"
