#!/bin/sh
# bench/run.sh: SockChat against the floor relay, workloads (a), (b), (c)
# and (e), each run three times (the median is shown), as a table.
#
#   bench/run.sh [--quick] [--payload BYTES] [--threads N]
#
# --quick: one 1 s run of each with small counts (under 20 s in all).
# Environment: BUILD_DIR (default <source>/_build), SOCKCHAT_SERVER and
# SOCKCHAT_BENCH to use other binaries.  Everything started here is
# stopped on exit.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${BUILD_DIR:-$src/_build}
quick=0
payload=64
threads=2
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --payload) payload=$2; shift ;;
    --threads) threads=$2; shift ;;
    *) echo "usage: $0 [--quick] [--payload BYTES] [--threads N]" >&2; exit 2 ;;
  esac
  shift
done

server_bin=${SOCKCHAT_SERVER:-$build/server/sockchat-server}
bench_bin=${SOCKCHAT_BENCH:-$build/bench/sockchat-bench}
if [ -z "${SOCKCHAT_SERVER:-}${SOCKCHAT_BENCH:-}" ]; then
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$src" >/dev/null
  fi
  ninja -C "$build" server/sockchat-server bench/sockchat-bench >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/sockchat-bench.XXXXXX")
server_pid=
floor_pid=
cleanup() {
  status=$?
  [ -n "$server_pid" ] && { kill "$server_pid" && wait "$server_pid"; } 2>/dev/null || true
  [ -n "$floor_pid" ] && { kill "$floor_pid" && wait "$floor_pid"; } 2>/dev/null || true
  rm -rf "$work"
  # The killed children's statuses must not become the script's.
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Starts "$@" with stdout in $work/$name.out and waits for "port N".
start() {
  name=$1; shift
  "$@" >"$work/$name.out" 2>"$work/$name.err" &
  pid=$!
  for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on port \([0-9][0-9]*\).*/\1/p' "$work/$name.out")
    [ -n "$port" ] && return 0
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$name did not start:" >&2
  cat "$work/$name.err" >&2
  exit 1
}

start server "$server_bin" --port 0 --bind 127.0.0.1 --threads "$threads" \
  --max-clients 19900
server_pid=$pid server_port=$port
start floor "$bench_bin" --floor-relay 0
floor_pid=$pid floor_port=$port

if [ $quick = 1 ]; then
  reps=1 common="--duration 1 --warmup 0.2"
  set -- "latency|" "throughput|--pairs 20" "unbatched|--pairs 100" \
         "reqresp|--clients 20"
else
  reps=3 common="--duration 5 --warmup 1"
  set -- "latency|" "throughput|" "unbatched|" "reqresp|"
fi

# bench SYSTEM PORT PID WORKLOAD ARGS: prints "msgs/s p50 p99 p99.9 cpu/msg"
# as the median of $reps runs (by msgs/s; latencies are medians each).
bench() {
  out="$work/$1-$4.json"
  # shellcheck disable=SC2086
  "$bench_bin" --system "$1" --port "$2" --server-pid "$3" --workload "$4" \
    --payload "$payload" --repeat "$reps" --json $common $5 >"$out"
  awk -v reps="$reps" '
    function field(line, key,   m) {
      if (match(line, "\"" key "\":[0-9.]+")) {
        m = substr(line, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0
      }
      return -1
    }
    function median(a, n,   i, j, t) {
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
          t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
      return a[int((n + 1) / 2)]
    }
    { n++; r[n] = field($0, "msgs_per_s"); p50[n] = field($0, "p50_us");
      p99[n] = field($0, "p99_us"); p999[n] = field($0, "p999_us");
      cpu[n] = field($0, "server_cpu_us_per_msg") }
    END {
      if (n == 0) exit 1
      printf "%.0f %.1f %.1f %.1f %.2f\n", median(r, n), median(p50, n),
        median(p99, n), median(p999, n), median(cpu, n)
    }' "$out"
}

printf 'payload %s bytes, server --threads %s, %s\n' "$payload" "$threads" \
  "$([ $quick = 1 ] && echo 'quick: 1 run of 1 s' || echo 'median of 3 runs of 5 s')"
printf '%-11s %-9s %10s %9s %9s %9s %9s %8s\n' workload system msgs/s \
  p50_us p99_us p99.9_us cpu_us/msg ratio
for spec in "$@"; do
  workload=${spec%%|*} args=${spec#*|}
  sc=$(bench sockchat "$server_port" "$server_pid" "$workload" "$args")
  fl=$(bench floor "$floor_port" "$floor_pid" "$workload" "$args")
  set -- $sc; sc_rate=$1
  printf '%-11s %-9s %10s %9s %9s %9s %9s %8s\n' "$workload" sockchat "$1" \
    "$2" "$3" "$4" "$5" \
    "$(awk -v a="$sc_rate" -v b="${fl%% *}" 'BEGIN { printf "%.2fx", a / b }')"
  set -- $fl
  printf '%-11s %-9s %10s %9s %9s %9s %9s %8s\n' "" floor "$1" "$2" "$3" \
    "$4" "$5" "1.00x"
done
echo "(latency: round trip for latency and reqresp, one way otherwise;"
echo " ratio: SockChat's msgs/s over the floor's; cpu: server process CPU per message)"
