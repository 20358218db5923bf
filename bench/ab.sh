#!/usr/bin/env bash
# A/B comparison of two sockchat-server binaries on the same workloads, in
# one run: for each repetition, each workload runs against A and then B,
# so drift on a shared machine hits both alike.  Prints the median of each
# figure per server and B's ratio to A.
#
# Usage: bench/ab.sh SERVER_A SERVER_B [REPEATS [WORKLOADS...]]
#   e.g. bench/ab.sh /tmp/old/server/sockchat-server \
#          _build/server/sockchat-server 3 a b c e
# Environment: SOCKCHAT_BENCH (default _build/bench/sockchat-bench),
#   THREADS (server --threads, default 2), DURATION (seconds, default 5),
#   MODE (sockchat-bench --mode, default its own; receipts-1.0 compares
#   with a server older than protocol 1.1).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH="${SOCKCHAT_BENCH:-$ROOT/_build/bench/sockchat-bench}"
THREADS="${THREADS:-2}"
DURATION="${DURATION:-5}"
MODE_ARGS=()
[[ -z "${MODE:-}" ]] || MODE_ARGS=(--mode "$MODE")

if [[ $# -lt 2 ]]; then
  sed -n '2,/^set /p' "$0" | sed '$d; s/^# \{0,1\}//'
  exit 2
fi
SERVERS=("$1" "$2")
REPEATS="${3:-3}"
shift $(($# < 3 ? $# : 3))
WORKLOADS=("$@")
[[ ${#WORKLOADS[@]} -gt 0 ]] || WORKLOADS=(a b c e)

TMP="$(mktemp -d)"
PID=""
cleanup () {
  [[ -z "$PID" ]] || kill "$PID" 2>/dev/null || true
  rm -rf "$TMP"
}
trap cleanup EXIT

# start_server BINARY: starts it on a free port; sets PID and PORT.
start_server () {
  "$1" --bind 127.0.0.1 --port 0 --threads "$THREADS" --max-clients 19900 \
    >"$TMP/server.out" 2>"$TMP/server.err" &
  PID=$!
  for _ in $(seq 100); do
    PORT="$(sed -n 's/.*listening on .* port \([0-9]*\).*/\1/p' \
      "$TMP/server.out" "$TMP/server.err" | head -n 1)"
    [[ -n "$PORT" ]] && return 0
    sleep 0.1 # waiting for a child process's first line; no event to wait on
  done
  echo "server $1 did not report its port" >&2
  cat "$TMP/server.err" >&2
  exit 1
}

stop_server () {
  kill "$PID"
  wait "$PID" 2>/dev/null || true
  PID=""
}

for ((r = 1; r <= REPEATS; r++)); do
  for w in "${WORKLOADS[@]}"; do
    for s in 0 1; do
      start_server "${SERVERS[$s]}"
      "$BENCH" --port "$PORT" --server-pid "$PID" -w "$w" \
        --duration "$DURATION" "${MODE_ARGS[@]}" --json |
        sed "s/^{/{\"server\":$s,\"workload_letter\":\"$w\",/" >>"$TMP/runs.json"
      stop_server
    done
  done
done

python3 - "$TMP/runs.json" "${SERVERS[@]}" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
names = sys.argv[2:4]
keys = ["msgs_per_s", "p50_us", "p99_us", "server_cpu_us_per_msg"]
print("A = %s\nB = %s" % tuple(names))
print("%-3s %-22s %14s %14s %8s" % ("wl", "figure", "A (median)", "B (median)", "B/A"))
for w in sorted({r["workload_letter"] for r in runs}):
    for k in keys:
        vals = [[r.get(k) for r in runs if r["workload_letter"] == w and r["server"] == s] for s in (0, 1)]
        if any(v is None for v in vals[0] + vals[1]):
            continue
        a, b = statistics.median(vals[0]), statistics.median(vals[1])
        print("%-3s %-22s %14.2f %14.2f %8.3f" % (w, k, a, b, b / a if a else float("nan")))
EOF
