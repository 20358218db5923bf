#!/bin/sh
# bench/run.sh: SockChat against the floor relay and the servers a user
# would pick instead (mosquitto over MQTT, Redis pub/sub, NATS, ngIRCd),
# on every workload, each run three times (the median is shown), as one
# table with SockChat's ratio to each.
#
#   bench/run.sh [--quick] [--write-docs] [--payload BYTES] [--threads N]
#                [--systems "sockchat floor mqtt redis nats irc"]
#
# --quick: seconds in all, small counts, no installing: peers that are not
#   installed are skipped (the test suite runs this).
# --write-docs: also write docs/BENCHMARKS.md, docs/benchmarks/*.dat and
#   the charts docs/benchmarks/*.png (gnuplot).
# Without --quick, missing peers (and gnuplot) are installed from Debian's
# packages, and the system services that installing starts are stopped
# and disabled: every server here is started by this script, on
# 127.0.0.1, on ports free at the time, with the configurations in
# bench/peers/, and stopped on exit.
#
# Environment: BUILD_DIR (default <source>/_build), SOCKCHAT_SERVER and
# SOCKCHAT_BENCH to use other binaries.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
src=$(dirname "$here")
build=${BUILD_DIR:-$src/_build}
quick=0
write_docs=0
payload=64
threads=2
systems="sockchat floor mqtt redis nats irc"
idle_target=19000
command_line="bench/run.sh $*"
usage="usage: $0 [--quick] [--write-docs] [--payload BYTES] [--threads N] [--systems LIST]"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --write-docs) write_docs=1 ;;
    --payload) payload=$2; shift ;;
    --threads) threads=$2; shift ;;
    --systems) systems=$2; shift ;;
    *) echo "$usage" >&2; exit 2 ;;
  esac
  shift
done
PATH=$PATH:/usr/sbin:/sbin
export PATH

server_bin=${SOCKCHAT_SERVER:-$build/server/sockchat-server}
bench_bin=${SOCKCHAT_BENCH:-$build/bench/sockchat-bench}
if [ -z "${SOCKCHAT_SERVER:-}${SOCKCHAT_BENCH:-}" ]; then
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "$build" "$src" >/dev/null
  fi
  if ! log=$(ninja -C "$build" server/sockchat-server bench/sockchat-bench 2>&1); then
    echo "$log" >&2
    exit 1
  fi
fi

# ---------------------------------------------------------------- peers

# peer_binary SYSTEM: the program that serves it.
peer_binary() {
  case $1 in
    mqtt) echo mosquitto ;;
    redis) echo redis-server ;;
    nats) echo nats-server ;;
    irc) echo ngircd ;;
  esac
}

# peer_package SYSTEM: the Debian package that has it.
peer_package() {
  case $1 in
    mqtt) echo mosquitto ;;
    redis) echo redis-server ;;
    nats) echo nats-server ;;
    irc) echo ngircd ;;
  esac
}

have() {
  command -v "$1" >/dev/null 2>&1
}

# port_listening PORT: whether anything listens on TCP PORT here.
port_listening() {
  hex=$(printf '%04X' "$1")
  awk -v hex="$hex" 'FNR > 1 && $4 == "0A" {
      split($2, local, ":"); if (local[2] == hex) found = 1
    }
    END { exit !found }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# free_port: a TCP port nothing listens on, from a random start below
# the ephemeral range (where the bench's own thousands of connections
# take their local ports).
free_port() {
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
  [ "$low" -gt 12000 ] || low=32768
  candidate=$(( $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % (low - 11000) + 10000 ))
  for _ in $(seq 200); do
    if ! port_listening "$candidate"; then
      echo "$candidate"
      return 0
    fi
    candidate=$(( candidate + 1 ))
  done
  echo "no free port found" >&2
  return 1
}

# stop_system_service NAME PIDFILE DEFAULT_PORT: stops and disables the
# instance Debian's package starts, so nothing is left running or starts
# at the next boot; then checks its port is free.
stop_system_service() {
  name=$1 pidfile=$2 default_port=$3
  if have systemctl && [ -d /run/systemd/system ]; then
    systemctl disable --now "$name" >/dev/null 2>&1 || true
  else
    service "$name" stop >/dev/null 2>&1 || true
    have systemctl && systemctl disable "$name" >/dev/null 2>&1 || true
    have update-rc.d && update-rc.d "$name" disable >/dev/null 2>&1 || true
  fi
  if [ -f "$pidfile" ]; then
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
      done
    fi
  fi
  if port_listening "$default_port"; then
    echo "note: something still listens on port $default_port after" \
      "stopping the $name service" >&2
  fi
}

stop_system_services() {
  stop_system_service mosquitto /run/mosquitto/mosquitto.pid 1883
  stop_system_service redis-server /run/redis/redis-server.pid 6379
  stop_system_service nats-server /run/nats-server.pid 4222
  stop_system_service ngircd /run/ngircd/ngircd.pid 6667
}

# install_missing: apt-get the peers that are not there (and gnuplot for
# the charts), once; then stop the services the packages started.
install_missing() {
  packages=
  for system in $systems; do
    binary=$(peer_binary "$system")
    if [ -n "$binary" ] && ! have "$binary"; then
      packages="$packages $(peer_package "$system")"
    fi
  done
  if [ $write_docs = 1 ] && ! have gnuplot; then
    packages="$packages gnuplot-nox"
  fi
  [ -z "$packages" ] && return 0
  if [ "$(id -u)" != 0 ]; then
    echo "note: not root, not installing:$packages" >&2
    return 0
  fi
  echo "installing:$packages" >&2
  apt-get update -qq >&2
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $packages >&2
  stop_system_services
}

if [ $quick = 0 ]; then
  install_missing
fi

# The systems that will run: a peer whose server is missing is skipped.
run_systems=
skipped=
for system in $systems; do
  binary=$(peer_binary "$system")
  if [ -n "$binary" ] && ! have "$binary"; then
    skipped="$skipped $system"
  elif [ "$system" = irc ] && [ "$payload" -gt 400 ]; then
    # A line is 512 bytes with the sender's prefix the server adds.
    skipped="$skipped irc(payload>400)"
  else
    run_systems="$run_systems $system"
  fi
done

# ------------------------------------------------------------ processes

work=$(mktemp -d "${TMPDIR:-/tmp}/sockchat-bench.XXXXXX")
chmod 755 "$work"
pids=
cleanup() {
  status=$?
  for pid in $pids; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $pids; do
    for _ in $(seq 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
  # The killed children's statuses must not become the script's.
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start NAME COMMAND...: starts it with its output in $work/NAME.*, sets
# $pid; the port it listens on comes from "listening on port N" in its
# output, or is $port, already chosen.
start() {
  name=$1; shift
  # The files exist before the child (which opens them) has run.
  : >"$work/$name.out"
  : >"$work/$name.err"
  "$@" >>"$work/$name.out" 2>>"$work/$name.err" &
  pid=$!
  pids="$pids $pid"
  known_port=$port
  for _ in $(seq 200); do
    port=$known_port
    if [ -z "$port" ]; then
      port=$(sed -n 's/.*listening on port \([0-9][0-9]*\).*/\1/p' \
        "$work/$name.out")
    fi
    if [ -n "$port" ] && port_listening "$port"; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
  done
  echo "$name did not start:" >&2
  cat "$work/$name.err" "$work/$name.out" "$work/$name"/*.log >&2 2>/dev/null || true
  exit 1
}

# config SYSTEM FILE PORT DIR: a copy of bench/peers/FILE for this run.
config() {
  sed -e "s|@PORT@|$3|g" -e "s|@DIR@|$4|g" -e "s|@USER@|$(id -un)|g" \
    "$here/peers/$2" >"$4/$2"
  echo "$4/$2"
}

# start_system SYSTEM: sets the system's port_X and pid_X.
start_system() {
  system=$1
  dir="$work/$system"
  mkdir -p "$dir"
  port=
  case $system in
    sockchat)
      start sockchat "$server_bin" --port 0 --bind 127.0.0.1 \
        --threads "$threads" --max-clients 19900 ;;
    floor)
      start floor "$bench_bin" --floor-relay 0 ;;
    mqtt)
      port=$(free_port)
      start mqtt mosquitto -c "$(config mqtt mosquitto.conf "$port" "$dir")" ;;
    redis)
      port=$(free_port)
      start redis redis-server "$(config redis redis.conf "$port" "$dir")" ;;
    nats)
      port=$(free_port)
      start nats nats-server -c "$(config nats nats.conf "$port" "$dir")" ;;
    irc)
      # Started by root, ngIRCd becomes "nobody" and writes its PID there.
      chmod 1777 "$dir"
      port=$(free_port)
      start irc ngircd -n -f "$(config irc ngircd.conf "$port" "$dir")" ;;
  esac
  eval "port_$system=\$port pid_$system=\$pid"
}

for system in $run_systems; do
  start_system "$system"
done

# ------------------------------------------------------------- workloads

if [ $quick = 1 ]; then
  reps=1 common="--duration 0.3 --warmup 0.1"
  b_args="--pairs 20" c_args="--pairs 100" e_args="--clients 20"
  idle_count=200 d_loads="50"
else
  reps=3 common="--duration 5 --warmup 1"
  b_args= c_args= e_args=
  idle_count=$idle_target d_loads="25 50 75"
fi
results="$work/results"
: >"$results"
failed=0

# bench SYSTEM KEY WORKLOAD ARGS...: runs $runs runs and appends to
# $results "KEY SYSTEM msgs/s p50 p99 p99.9 cpu/msg rss/idle idle_ready",
# each the median of the runs ("-" when unknown).
bench() {
  system=$1 key=$2 workload=$3; shift 3
  eval "port=\$port_$system pid=\$pid_$system"
  out="$work/$system-$key.json"
  # shellcheck disable=SC2086
  if ! "$bench_bin" --system "$system" --port "$port" --server-pid "$pid" \
    --workload "$workload" --payload "$payload" --repeat "$runs" --json \
    $common "$@" >"$out" 2>"$out.err"; then
    echo "$system $key failed:" >&2
    tail -3 "$out.err" >&2
    failed=1
    echo "$key $system - - - - - - -" >>"$results"
    return 0
  fi
  awk -v key="$key" -v sysname="$system" '
    function field(line, key,   m) {
      if (match(line, "\"" key "\":[0-9.]+")) {
        m = substr(line, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0
      }
      return "-"
    }
    function median(a, n,   i, j, t) {
      if (a[1] == "-") return "-"
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && a[j - 1] > a[j]; j--) {
          t = a[j]; a[j] = a[j - 1]; a[j - 1] = t
        }
      return a[int((n + 1) / 2)]
    }
    /^\{/ { n++; r[n] = field($0, "msgs_per_s"); p50[n] = field($0, "p50_us")
      p99[n] = field($0, "p99_us"); p999[n] = field($0, "p999_us")
      cpu[n] = field($0, "server_cpu_us_per_msg")
      rss[n] = field($0, "server_rss_per_idle_conn")
      ready[n] = field($0, "idle_ready") }
    END {
      if (n == 0) exit 1
      printf "%s %s %.0f %.1f %.1f %.1f %s %s %s\n", key, sysname,
        median(r, n), median(p50, n), median(p99, n), median(p999, n),
        (cpu[1] == "-" ? "-" : sprintf("%.2f", median(cpu, n))),
        median(rss, n), median(ready, n)
    }' "$out" >>"$results"
}

# value KEY SYSTEM COLUMN: a figure from $results (3 msgs/s ... 9 ready).
value() {
  awk -v key="$1" -v sysname="$2" -v column="$3" \
    '$1 == key && $2 == sysname { print $column; found = 1 }
     END { if (!found) print "-" }' "$results"
}

runs=$reps
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
for spec in "a|latency|" "b|throughput|$b_args" "c|unbatched|$c_args" \
            "e|reqresp|$e_args"; do
  key=${spec%%|*} rest=${spec#*|}
  workload=${rest%%|*} args=${rest#*|}
  for system in $run_systems; do
    # shellcheck disable=SC2086
    bench "$system" "$key" "$workload" $args
  done
  # (d): SockChat's open loop at fractions of its own (b) maximum.
  if [ "$key" = c ] && case " $run_systems " in *" sockchat "*) true ;; *) false ;; esac; then
    max=$(value b sockchat 3)
    if [ "$max" != - ]; then
      for load in $d_loads; do
        rate=$(awk -v m="$max" -v l="$load" 'BEGIN { printf "%.0f", m * l / 100 }')
        bench sockchat "d$load" open --rate "$rate"
      done
    fi
  fi
done
# (f): SockChat only, (a) on top of an idle crowd.
case " $run_systems " in
  *" sockchat "*)
    # shellcheck disable=SC2086
    # SockChat announces every newcomer to everyone connected, so the
    # crowd takes minutes to gather: one run, and a generous timeout.
    runs=1
    bench sockchat f idle --idle "$idle_count" --connect-timeout 400 ;;
esac
elapsed=$(( $(date +%s) - t0 ))

# ----------------------------------------------------------------- table

describe() {
  case $1 in
    a) echo "(a) latency: 1 pair ping-pong, round trip" ;;
    b) echo "(b) throughput: 100 pairs x 16 in flight, one way" ;;
    c) echo "(c) unbatched: 1,000 pairs x 1 in flight, one way" ;;
    d*) echo "(d) open loop at ${1#d} % of SockChat's (b), one way" ;;
    e) echo "(e) request/response: 50 clients x 1, round trip" ;;
    f) echo "(f) (a) on top of $idle_count idle connections" ;;
  esac
}

# table FORMAT: the results as text or as Markdown ("md").
table() {
  awk -v format="$1" -v order="sockchat floor mqtt redis nats irc" '
    BEGIN {
      names["sockchat"] = "SockChat"; names["floor"] = "floor"
      names["mqtt"] = "mosquitto (MQTT)"; names["redis"] = "Redis pub/sub"
      names["nats"] = "NATS"; names["irc"] = "ngIRCd (IRC)"
      if (format == "md") {
        print "| workload | system | msgs/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/msg | SockChat msgs/s ÷ | SockChat p99 ÷ | SockChat CPU ÷ |"
        print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|"
      } else
        printf "%-4s %-17s %10s %9s %9s %9s %8s %8s %8s %8s\n", "", "system",
          "msgs/s", "p50_us", "p99_us", "p99.9_us", "cpu_us", "rate_x",
          "p99_x", "cpu_x"
    }
    { keys[$1] = 1; row[$1, $2] = $0; if (!($1 in first)) { first[$1] = NR; korder[++nk] = $1 } }
    function ratio(a, b) {
      if (a == "-" || b == "-" || b + 0 == 0) return "-"
      return sprintf("%.2fx", a / b)
    }
    END {
      n = split(order, systems, " ")
      for (k = 1; k <= nk; k++) {
        key = korder[k]
        if ((key, "sockchat") in row) { split(row[key, "sockchat"], sc, " ") }
        else { sc[3] = sc[5] = sc[7] = "-" }
        for (i = 1; i <= n; i++) {
          s = systems[i]
          if (!((key, s) in row)) continue
          split(row[key, s], f, " ")
          if (s == "sockchat") { rx = px = cx = "" }
          else { rx = ratio(sc[3], f[3]); px = ratio(sc[5], f[5]); cx = ratio(sc[7], f[7]) }
          if (format == "md")
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
              (shown[key]++ ? "" : "(" key ")"), names[s], f[3], f[4],
              f[5], f[6], f[7], rx, px, cx
          else
            printf "%-4s %-17s %10s %9s %9s %9s %8s %8s %8s %8s\n",
              "(" key ")", names[s], f[3], f[4], f[5], f[6], f[7], rx, px, cx
        }
      }
    }' "$results"
}

echo
printf 'payload %s bytes, SockChat --threads %s, %s; %s s\n' "$payload" \
  "$threads" \
  "$([ $quick = 1 ] && echo 'quick: 1 short run each, smaller counts' || echo 'median of 3 runs of 5 s')" \
  "$elapsed"
for key in $(awk '!seen[$1]++ { print $1 }' "$results"); do
  echo "  ($key) $(describe "$key" | sed 's/^([a-f]) //')"
done
table text
echo "(rate_x, p99_x, cpu_x: SockChat's msgs/s, p99 and server CPU per"
echo " message over that system's; latency is one way except in (a), (e), (f))"
[ -n "$skipped" ] && echo "skipped:$skipped"

# ----------------------------------------------------------- the reading

# targets: the issue's targets for SockChat, each met or missed, from the
# numbers (Markdown list items).
targets() {
  awk -v idle_target="$idle_count" '
    { v[$1, $2, "rate"] = $3; v[$1, $2, "p50"] = $4; v[$1, $2, "p99"] = $5
      v[$1, $2, "p999"] = $6; v[$1, $2, "cpu"] = $7; v[$1, $2, "rss"] = $8
      v[$1, $2, "ready"] = $9; has[$2] = 1 }
    function known(k, s, f) { return ((k, s, f) in v) && v[k, s, f] != "-" }
    function verdict(ok, text) { printf "- %s: %s\n", ok ? "**met**" : "**missed**", text }
    END {
      split("mqtt redis nats irc", peers, " ")
      if (known("a", "sockchat", "p50") && known("a", "floor", "p50")) {
        r50 = v["a", "sockchat", "p50"] / v["a", "floor", "p50"]
        r99 = v["a", "sockchat", "p99"] / v["a", "floor", "p99"]
        verdict(r50 <= 1.3 && r99 <= 1.3, sprintf("(a) p50 and p99 within 1.3x of the floor: p50 %.1f vs %.1f µs (%.2fx), p99 %.1f vs %.1f µs (%.2fx)", v["a", "sockchat", "p50"], v["a", "floor", "p50"], r50, v["a", "sockchat", "p99"], v["a", "floor", "p99"], r99))
      }
      if (known("b", "sockchat", "rate") && known("b", "floor", "rate")) {
        sc = v["b", "sockchat", "rate"]
        r = sc / v["b", "floor", "rate"]
        verdict(r >= 0.8, sprintf("(b) at least 80 %% of the floor: %.0f vs %.0f msgs/s (%.0f %%)", sc, v["b", "floor", "rate"], r * 100))
        ahead = 1; text = ""
        for (i = 1; i <= 4; i++) {
          p = peers[i]
          if (!known("b", p, "rate")) continue
          text = text sprintf("%s%s %.0f (%.2fx)", text == "" ? "" : ", ", p, v["b", p, "rate"], sc / v["b", p, "rate"])
          if (sc <= v["b", p, "rate"]) ahead = 0
        }
        if (text != "") verdict(ahead, "(b) ahead of every peer: " text)
        if (known("b", "mqtt", "rate"))
          verdict(sc >= 2 * v["b", "mqtt", "rate"], sprintf("(b) at least 2x mosquitto: %.2fx", sc / v["b", "mqtt", "rate"]))
      }
      if (known("c", "sockchat", "cpu")) {
        sc = v["c", "sockchat", "cpu"]; below = 1; text = ""
        for (i = 1; i <= 4; i++) {
          p = peers[i]
          if (!known("c", p, "cpu")) continue
          text = text sprintf("%s%s %.2f", text == "" ? "" : ", ", p, v["c", p, "cpu"])
          if (sc >= v["c", p, "cpu"]) below = 0
        }
        verdict(sc <= 5, sprintf("(c) server CPU at most 5 µs per message: %.2f µs", sc))
        if (text != "") verdict(below, sprintf("(c) less CPU per message than every peer: SockChat %.2f µs; %s", sc, text))
      }
      if (known("d50", "sockchat", "p99"))
        verdict(v["d50", "sockchat", "p99"] <= 1000 && v["d50", "sockchat", "p999"] <= 5000, sprintf("(d) at 50 %% load p99 at most 1 ms and p99.9 at most 5 ms: p99 %.1f µs, p99.9 %.1f µs", v["d50", "sockchat", "p99"], v["d50", "sockchat", "p999"]))
      if (known("e", "sockchat", "rate") && known("e", "redis", "rate"))
        verdict(v["e", "sockchat", "rate"] >= v["e", "redis", "rate"] && v["e", "sockchat", "p99"] <= 1000, sprintf("(e) at least Redis PING'"'"'s rate with p99 at most 1 ms: %.0f vs %.0f requests/s (%.2fx), p99 %.1f µs", v["e", "sockchat", "rate"], v["e", "redis", "rate"], v["e", "sockchat", "rate"] / v["e", "redis", "rate"], v["e", "sockchat", "p99"]))
      if (known("f", "sockchat", "ready") && known("a", "sockchat", "p50")) {
        ready = v["f", "sockchat", "ready"]; rss = v["f", "sockchat", "rss"]
        verdict(ready >= idle_target && rss != "-" && rss <= 2048, sprintf("(f) %d idle connections at most 2 KB each: %d held, %s bytes of server memory each", idle_target, ready, rss))
        r50 = v["f", "sockchat", "p50"] / v["a", "sockchat", "p50"]
        r99 = v["f", "sockchat", "p99"] / v["a", "sockchat", "p99"]
        verdict(r50 <= 1.1 && r99 <= 1.1, sprintf("(f) (a) on top within 10 %%: p50 %.1f vs %.1f µs (%+.0f %%), p99 %.1f vs %.1f µs (%+.0f %%)", v["f", "sockchat", "p50"], v["a", "sockchat", "p50"], (r50 - 1) * 100, v["f", "sockchat", "p99"], v["a", "sockchat", "p99"], (r99 - 1) * 100))
      }
    }' "$results"
}

# ------------------------------------------------------------- the docs

# reading: a few plain sentences per workload, from the numbers.
reading() {
  awk '
    BEGIN {
      names["sockchat"] = "SockChat"; names["floor"] = "the floor"
      names["mqtt"] = "mosquitto"; names["redis"] = "Redis"
      names["nats"] = "NATS"; names["irc"] = "ngIRCd"
    }
    $3 != "-" { v[$1, $2, "rate"] = $3; v[$1, $2, "p50"] = $4
      v[$1, $2, "p99"] = $5; v[$1, $2, "cpu"] = $7
      if (!seen[$1]++) order[++nk] = $1; sys[$1] = sys[$1] " " $2 }
    function peers_by_rate(k,   n, list, i, j, t, out) {
      n = split(sys[k], list, " ")
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && v[k, list[j - 1], "rate"] < v[k, list[j], "rate"]; j--) {
          t = list[j]; list[j] = list[j - 1]; list[j - 1] = t
        }
      out = ""
      for (i = 1; i <= n; i++)
        out = out sprintf("%s%s %.0f", i == 1 ? "" : ", ", names[list[i]], v[k, list[i], "rate"])
      return out
    }
    END {
      for (i = 1; i <= nk; i++) {
        k = order[i]
        if (k ~ /^d/ || k == "f" || !((k, "sockchat", "rate") in v)) continue
        line = sprintf("- (%s), msgs/s from most to fewest: %s.", k, peers_by_rate(k))
        if ((k, "floor", "rate") in v)
          line = line sprintf(" SockChat does %.0f %% of the floor'"'"'s rate at %.2fx its p99.", 100 * v[k, "sockchat", "rate"] / v[k, "floor", "rate"], v[k, "sockchat", "p99"] / v[k, "floor", "p99"])
        if (v[k, "sockchat", "cpu"] != "-") {
          best = ""; n = split(sys[k], list, " ")
          for (j = 1; j <= n; j++)
            if (list[j] != "sockchat" && list[j] != "floor" && v[k, list[j], "cpu"] != "-" && (best == "" || v[k, list[j], "cpu"] < v[k, best, "cpu"]))
              best = list[j]
          if (best != "")
            line = line sprintf(" Its server spends %.2f µs of CPU per message; the thriftiest peer, %s, %.2f µs.", v[k, "sockchat", "cpu"], names[best], v[k, best, "cpu"])
        }
        print line
      }
    }' "$results"
}

# write_docs: docs/BENCHMARKS.md, the data files and the charts.
write_docs() {
  charts="$src/docs/benchmarks"
  doc="$src/docs/BENCHMARKS.md"
  mkdir -p "$charts"
  {
    echo "# workload system msgs_per_s p50_us p99_us p999_us server_cpu_us_per_msg rss_per_idle_conn idle_ready"
    echo "# written by $command_line on $started"
    cat "$results"
  } >"$charts/results.dat"
  # One row per workload (or latency figure), one column per system.
  awk -v order="sockchat floor mqtt redis nats irc" '
    BEGIN { n = split(order, s, " "); printf "# workload"
      for (i = 1; i <= n; i++) printf " %s", s[i]; print "" }
    $1 ~ /^[abce]$/ { rate[$1, $2] = $3; if (!seen[$1]++) keys[++nk] = $1 }
    END { for (k = 1; k <= nk; k++) { printf "(%s)", keys[k]
        for (i = 1; i <= n; i++) {
          x = rate[keys[k], s[i]]
          printf " %s", (x == "" || x == "-") ? "?" : x / 1000 }
        print "" } }' "$results" >"$charts/throughput.dat"
  awk -v order="sockchat floor mqtt redis nats irc" '
    BEGIN { n = split(order, s, " "); printf "# figure"
      for (i = 1; i <= n; i++) printf " %s", s[i]; print "" }
    $1 == "a" || $1 == "e" { p[$1, "p50", $2] = $4; p[$1, "p99", $2] = $5
      p[$1, "p99.9", $2] = $6 }
    END { split("a:p50 a:p99 e:p50 e:p99", rows, " ")
      for (r = 1; r <= 4; r++) { split(rows[r], kf, ":")
        printf "\"(%s) %s\"", kf[1], kf[2]
        for (i = 1; i <= n; i++) { x = p[kf[1], kf[2], s[i]]
          printf " %s", (x == "" || x == "-") ? "?" : x }
        print "" } }' "$results" >"$charts/latency.dat"
  if have gnuplot; then
    gnuplot -e "dir='$charts'" "$here/charts.gp"
  else
    echo "note: no gnuplot, charts not redrawn" >&2
  fi

  environment=
  for variable in SOCKCHAT_SERVER SOCKCHAT_BENCH BUILD_DIR; do
    eval "setting=\${$variable:-}"
    [ -n "$setting" ] && environment="$environment$variable=$setting "
  done
  memory=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)
  model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
  if [ -n "${SOCKCHAT_SERVER:-}" ]; then
    commit="$SOCKCHAT_SERVER ($("$server_bin" --version 2>/dev/null | head -n 1))"
  else
    commit="commit $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)"
    if [ -n "$(git -C "$src" status --porcelain -- server shared 2>/dev/null)" ]; then
      commit="$commit with uncommitted changes to server/ or shared/"
    fi
  fi
  {
    cat <<DOC
# Benchmarks

SockChat's server against a floor (a relay that does no protocol work)
and against the servers one would pick instead for a chat between
clients: mosquitto (MQTT 3.1.1, QoS 0), Redis pub/sub, NATS and ngIRCd
(IRC).  Every system runs on this machine on 127.0.0.1, driven by the
same load generator, \`sockchat-bench\` (bench/README.md), with the same
workloads and the same ${payload}-byte text bodies.  This file is written
by \`bench/run.sh --write-docs\`: rerun it after changing the server.

- Command: \`$environment$command_line\`
- Date: $started; the runs took $elapsed s; load average before them
  $load_before, after $(cut -d' ' -f1-3 /proc/loadavg) (anything else
  running on the machine shows in the figures)
- SockChat: $commit, \`--threads $threads\`
- Machine: $(nproc) CPUs ($model), $memory of memory, Linux $(uname -r);
  the load generator (one thread) and the server share the CPUs
- Peers: $(mosquitto -h 2>/dev/null | sed -n '1p'), $(redis-server --version 2>/dev/null | cut -d' ' -f1-3), $(nats-server --version 2>/dev/null), $(ngircd --version 2>/dev/null | sed -n '1s/-.*//p');
  configurations in bench/peers/
DOC
    [ -n "$skipped" ] && echo "- Skipped:$skipped"
    cat <<'DOC'

## Workloads

| | workload | what | latency |
|---|---|---|---|
| (a) | latency | 1 pair ping-pong, 1 in flight | round trip |
| (b) | throughput | 100 pairs, 16 in flight per pair | one way |
| (c) | unbatched | 1,000 pairs, 1 in flight per pair | one way |
| (d) | open loop | SockChat only: a fixed rate, 25/50/75 % of its (b) | one way, from the scheduled time |
| (e) | request/response | 50 clients, 1 request in flight each | round trip |
| (f) | idle + (a) | SockChat only: (a) with 19,000 idle clients connected | round trip |

Each figure is the median of three runs of 5 s after 1 s of warm-up
(one run each with `--quick`; one run for (f), whose 19,000 handshakes
take minutes).  msgs/s counts messages delivered (in (a)
both the ping and the pong, in (e) answered requests).  Server CPU is
the server process's user and system time over the measured interval
(all its threads, from /proc/PID/stat, 10 ms resolution) divided by the
messages.  The ÷ columns are SockChat's figure over that system's: above
1 is better for msgs/s, below 1 is better for p99 and CPU.

What each system does per message differs, and the table does not hide
it: SockChat acknowledges every message (MESSAGE_ACK) and returns a
DELIVERY_RECEIPT to the sender, which the others do not (QoS 0, pub/sub,
PRIVMSG); a Redis client uses two sockets (subscriber and publisher);
ngIRCd's clients are operators with user mode +F so that its flood
throttling does not apply.  In (e) SockChat answers GET_TIME; the peers
answer their protocol's ping (MQTT PINGREQ, Redis PING, NATS PING, IRC
PING); the floor echoes.

## Results

DOC
    table md
    cat <<'DOC'

![Messages per second](benchmarks/throughput.png)

![Latency](benchmarks/latency.png)

## What the numbers say

DOC
    reading
    echo
    echo "The issue's targets for SockChat:"
    echo
    targets
    cat <<'DOC'

The data behind the charts is in docs/benchmarks/*.dat; the charts are
drawn by bench/charts.gp.
DOC
  } >"$doc"
  echo "wrote $doc and $charts/"
}

echo
echo "Targets:"
targets | sed 's/\*\*//g'

if [ $write_docs = 1 ]; then
  write_docs
fi

exit $failed
