#!/bin/sh
# bench/run.sh: SockChat against the floor relay and the servers a user
# would pick instead (mosquitto over MQTT, Redis pub/sub, NATS, ngIRCd),
# on every workload, each run three times (the median is shown), as one
# table with SockChat's ratio to each.
#
#   bench/run.sh [--quick] [--write-docs] [--payload BYTES] [--threads N]
#                [--systems "sockchat sockchat1 floor mqtt mqtt:qos1 ..."]
#   bench/run.sh --tls [--quick] [--payload BYTES] [--threads N]
#   bench/run.sh --cluster [--quick] [--payload BYTES] [--threads N]
#
# --tls: only the TLS comparison: (a), (b) and (e) against SockChat's TLS
#   listener and mosquitto's (QoS 0), each also in clear on the same
#   servers, with one self-signed certificate (certtool, gnutls-bin);
#   prints SockChat's ratios to mosquitto over TLS and what TLS adds to
#   each one's server CPU per message.
# --cluster: only the cluster comparison (docs/CLUSTER.md): 3 NATS
#   servers (JetStream, routes) and 3 SockChat nodes on 127.0.0.1, each
#   node connected to its own NATS server; (a) and (b) with every pair's
#   two clients on different nodes, beside the same workloads with both
#   on one node of the same cluster and on a server alone, interleaved
#   run by run; prints what the cross-node hop adds, against issue 16's
#   targets.  Skipped (status 0, with a message) without nats-server or
#   a server built with cluster support.
#
# Each word of --systems is a row of the table, SYSTEM[:MODE]: the
# server, and the adapter mode sockchat-bench drives it in (--mode;
# none: the adapter's default).  The rows, and what each is compared
# with, are listed under "rows" below; sockchat1 is SockChat's server
# with --threads 1 (for "2 workers at least as fast as 1").
# sockchat:no-receipt is SockChat's fire-and-forget mode (protocol 1.1's
# NO_RECEIPT flag); sockchat:receipts-1.0 drives SockChat as a protocol
# 1.0 client would (a reply, an acknowledgement and a receipt per
# message).
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
tls=0
cluster=0
write_docs=0
payload=64
threads=2
systems="sockchat sockchat:no-receipt sockchat:receipts-1.0 sockchat1 sockchat1:no-receipt floor mqtt mqtt:qos1 redis nats nats:request irc"
idle_target=19000
command_line="bench/run.sh $*"
usage="usage: $0 [--quick] [--tls|--cluster] [--write-docs] [--payload BYTES] [--threads N] [--systems LIST]"
while [ $# -gt 0 ]; do
  case $1 in
    --quick) quick=1 ;;
    --tls) tls=1 ;;
    --cluster) cluster=1 ;;
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

# ----------------------------------------------------------------- rows

# row_server ROW: the server a row runs against (sockchat, sockchat1,
# floor, mqtt, ...); row_mode ROW: its adapter mode, or nothing.
row_server() {
  echo "${1%%:*}"
}
row_mode() {
  case $1 in
    *:*) echo "${1#*:}" ;;
  esac
}

# row_adapter ROW: sockchat-bench's --system for it.
row_adapter() {
  case $(row_server "$1") in
    sockchat1) echo sockchat ;;
    *) row_server "$1" ;;
  esac
}

# row_label ROW: the row's name in the table.
row_label() {
  case $1 in
    sockchat | sockchat:receipts) echo "SockChat (receipts)" ;;
    sockchat:no-receipt) echo "SockChat (no receipt)" ;;
    sockchat1 | sockchat1:receipts) echo "SockChat (receipts), 1 worker" ;;
    sockchat1:no-receipt) echo "SockChat (no receipt), 1 worker" ;;
    sockchat:receipts-1.0) echo "SockChat (receipts, 1.0 client)" ;;
    floor) echo "floor" ;;
    mqtt | mqtt:qos0) echo "mosquitto QoS 0" ;;
    mqtt:qos1) echo "mosquitto QoS 1" ;;
    redis) echo "Redis pub/sub" ;;
    nats | nats:pubsub) echo "NATS pub/sub" ;;
    nats:request) echo "NATS request-reply" ;;
    irc) echo "ngIRCd PRIVMSG" ;;
    *) echo "$1" ;;
  esac
}

# row_request ROW: what the row's requests are in (e).
row_request() {
  case $(row_server "$1") in
    sockchat*) echo "GET_TIME" ;;
    floor) echo "echo" ;;
    mqtt) echo "PINGREQ" ;;
    *) echo "PING" ;;
  esac
}

# row_acked ROW: whether the row's mode acknowledges every message end
# to end (SockChat's receipts, MQTT QoS 1, NATS request-reply), as
# opposed to fire and forget.
row_acked() {
  case $1 in
    sockchat | sockchat:receipts | sockchat1 | sockchat1:receipts) true ;;
    sockchat:receipts-1.0 | mqtt:qos1 | nats:request) true ;;
    *) false ;;
  esac
}

# row_partner ROW: the SockChat row whose figures are divided by ROW's in
# the ratio columns (nothing for the reference row, "sockchat"): the
# peers' acknowledged modes against SockChat with receipts, their fire
# and forget modes and the floor against SockChat without receipts if
# that row runs, else with receipts; a single worker against two; the
# no-receipt mode against the receipts mode.  Uses $run_rows.
row_partner() {
  case $1 in
    sockchat | sockchat:receipts) return 0 ;;
    sockchat:no-receipt) partner=sockchat ;;
    sockchat1 | sockchat1:receipts) partner=sockchat ;;
    sockchat1:*) partner="sockchat:${1#*:}" ;;
    *)
      partner=sockchat
      if ! row_acked "$1"; then
        case " $run_rows " in
          *" sockchat:no-receipt "*) partner=sockchat:no-receipt ;;
        esac
      fi ;;
  esac
  case " $run_rows " in
    *" $partner "*) echo "$partner" ;;
  esac
}

# row_runs ROW KEY: whether ROW runs workload KEY.  The modes differ in
# how messages are carried, not in (e)'s requests: (e) runs each server
# once, in its default mode.  (d) runs SockChat and the floor, (f)
# SockChat alone; the single-worker server runs (b) and (c).
row_runs() {
  server=$(row_server "$1")
  case $2 in
    a) [ "$server" != sockchat1 ] ;;
    b | c) true ;;
    d*) [ "$1" = sockchat ] || [ "$server" = floor ] ;;
    e) [ "$server" != sockchat1 ] && [ "$1" = "$server" ] ;;
    f) [ "$1" = sockchat ] ;;
    *) false ;;
  esac
}

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
  for row in $systems; do
    binary=$(peer_binary "$(row_server "$row")")
    if [ -n "$binary" ] && ! have "$binary"; then
      packages="$packages $(peer_package "$(row_server "$row")")"
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

if [ $tls = 1 ]; then
  systems="sockchat mqtt"
fi
if [ $cluster = 1 ]; then
  # The cluster section starts its own servers.
  systems=
  if ! have nats-server; then
    echo "cluster run skipped: nats-server is not installed" \
      "(Debian package nats-server)"
    exit 0
  fi
fi
if [ $quick = 0 ]; then
  install_missing
fi

# The rows that will run, and their servers: a peer whose server is
# missing is skipped.
run_rows=
run_servers=
skipped=
for row in $systems; do
  server=$(row_server "$row")
  binary=$(peer_binary "$server")
  if [ -n "$binary" ] && ! have "$binary"; then
    skipped="$skipped $row"
    continue
  elif [ "$server" = irc ] && [ "$payload" -gt 400 ]; then
    # A line is 512 bytes with the sender's prefix the server adds.
    skipped="$skipped $row(payload>400)"
    continue
  elif [ "$server" = sockchat1 ] && [ "$threads" = 1 ]; then
    # The main server has a single worker already.
    skipped="$skipped $row(--threads 1)"
    continue
  fi
  case " $run_rows " in *" $row "*) continue ;; esac
  run_rows="$run_rows $row"
  case " $run_servers " in
    *" $server "*) ;;
    *) run_servers="$run_servers $server" ;;
  esac
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

# await_listening NAME PID PORT TRIES: waits (TRIES times 50 ms) until
# the process PID listens on PORT or, when PORT is empty, on the port it
# printed as "listening on port N" in $work/NAME.out; sets $port.  Fails
# when the process ends or the time is up.
await_listening() {
  local name=$1 pid=$2 known_port=$3 tries=$4
  for _ in $(seq "$tries"); do
    port=$known_port
    if [ -z "$port" ]; then
      port=$(sed -n 's/.*listening on port \([0-9][0-9]*\).*/\1/p' \
        "$work/$name.out")
    fi
    if [ -n "$port" ] && port_listening "$port"; then
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

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
  await_listening "$name" "$pid" "$port" 200 && return 0
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
    sockchat1)
      start sockchat1 "$server_bin" --port 0 --bind 127.0.0.1 \
        --threads 1 --max-clients 19900 ;;
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

if [ $tls = 0 ] && [ $cluster = 0 ]; then
  for system in $run_servers; do
    start_system "$system"
  done
fi

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

# bench ROW KEY WORKLOAD ARGS...: runs $runs runs and appends to
# $results "KEY ROW msgs/s p50 p99 p99.9 cpu/msg rss/idle idle_ready",
# each the median of the runs ("-" when unknown).
bench() {
  row=$1 key=$2 workload=$3; shift 3
  server=$(row_server "$row") mode=$(row_mode "$row")
  eval "port=\$port_$server pid=\$pid_$server"
  out="$work/$row-$key.json"
  # shellcheck disable=SC2086
  if ! "$bench_bin" --system "$(row_adapter "$row")" ${mode:+--mode "$mode"} \
    --port "$port" --server-pid "$pid" \
    --workload "$workload" --payload "$payload" --repeat "$runs" --json \
    $common "$@" >"$out" 2>"$out.err"; then
    echo "$row $key failed:" >&2
    tail -3 "$out.err" >&2
    failed=1
    echo "$key $row - - - - - - -" >>"$results"
    return 0
  fi
  awk -v key="$key" -v sysname="$row" '
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

# ------------------------------------------------------------------ TLS

# tls_bench ROW KEY WORKLOAD PORT ARGS...: bench() against PORT, the
# last --port winning; KEY names the result ("a" in clear, "a-tls").
tls_bench() {
  row=$1 key=$2 workload=$3 tls_port=$4; shift 4
  bench "$row" "$key" "$workload" "$@" --port "$tls_port"
}

if [ $tls = 1 ]; then
  if ! have certtool; then
    echo "--tls needs certtool (Debian package gnutls-bin)" >&2
    exit 1
  fi
  case " $run_rows " in
    *" mqtt "*) ;;
    *) echo "--tls needs mosquitto; skipped:$skipped" >&2
       exit 1 ;;
  esac
  mkdir -p "$work/mqtt"
  certtool --generate-privkey --key-type=ecdsa \
    --outfile "$work/mqtt/tls.key" >/dev/null 2>&1
  printf 'cn = "localhost"\nip_address = "127.0.0.1"\nexpiration_days = 2\ntls_www_server\nsigning_key\n' \
    >"$work/tls.template"
  certtool --generate-self-signed --load-privkey "$work/mqtt/tls.key" \
    --template "$work/tls.template" --outfile "$work/mqtt/tls.crt" >/dev/null 2>&1
  port=
  start sockchat "$server_bin" --port 0 --bind 127.0.0.1 \
    --threads "$threads" --max-clients 19900 --tls-port 0 \
    --tls-cert "$work/mqtt/tls.crt" --tls-key "$work/mqtt/tls.key"
  port_sockchat=$port pid_sockchat=$pid
  tls_sockchat=$(sed -n 's/.*listening for TLS on port \([0-9][0-9]*\).*/\1/p' \
    "$work/sockchat.out")
  port=$(free_port)
  tls_mqtt=$(free_port)
  while [ "$tls_mqtt" = "$port" ]; do tls_mqtt=$(free_port); done
  sed -e "s|@PORT@|$port|g" -e "s|@TLS_PORT@|$tls_mqtt|g" \
    -e "s|@DIR@|$work/mqtt|g" -e "s|@USER@|$(id -un)|g" \
    "$here/peers/mosquitto-tls.conf" >"$work/mqtt/mosquitto.conf"
  start mqtt mosquitto -c "$work/mqtt/mosquitto.conf"
  port_mqtt=$port pid_mqtt=$pid
  for _ in $(seq 100); do
    port_listening "$tls_mqtt" && break
    sleep 0.05
  done

  if [ $quick = 1 ]; then
    runs=1 common="--duration 0.5 --warmup 0.2"
    b_args="--pairs 20" e_args="--clients 20"
  else
    runs=3 common="--duration 5 --warmup 1"
    b_args= e_args=
  fi
  results="$work/results"
  : >"$results"
  failed=0
  # bench() sets row, key and workload as it goes: the loop has its own.
  for spec in "a|latency|" "b|throughput|$b_args" "e|reqresp|$e_args"; do
    tkey=${spec%%|*} rest=${spec#*|}
    twork=${rest%%|*} targs=${rest#*|}
    for trow in sockchat mqtt; do
      eval "tport=\$tls_$trow pport=\$port_$trow"
      # shellcheck disable=SC2086
      tls_bench "$trow" "$tkey" "$twork" "$pport" $targs
      # shellcheck disable=SC2086
      tls_bench "$trow" "$tkey-tls" "$twork" "$tport" --tls $targs
    done
  done

  tls_table() {
    echo "TLS: SockChat ($threads workers) and mosquitto (QoS 0), payload $payload bytes,"
    echo "the median of $runs run(s); TLS 1.3, ECDSA P-256 certificate; $(nproc) CPUs"
    echo "shared with the bench, load average $(cut -d' ' -f1-3 /proc/loadavg)."
    awk '
      { rate[$1, $2] = $3; p50[$1, $2] = $4; p99[$1, $2] = $5; cpu[$1, $2] = $7 }
      function r(a, b) { return (a == "-" || b == "-" || b + 0 == 0) ? "-" : sprintf("%.2fx", a / b) }
      function d(a, b) { return (a == "-" || b == "-") ? "-" : sprintf("%+.2f", a - b) }
      END {
        printf "%-4s %-10s %10s %10s %9s %9s %8s %8s %9s\n", "", "system", "msgs/s",
          "TLS msgs/s", "TLS p50", "TLS p99", "cpu_us", "TLS cpu", "TLS adds"
        split("a b e", keys, " ")
        split("sockchat mqtt", systems, " ")
        for (k = 1; k <= 3; k++)
          for (s = 1; s <= 2; s++) {
            key = keys[k]; sys = systems[s]; t = key "-tls"
            printf "(%s)  %-10s %10s %10s %9s %9s %8s %8s %9s\n", key,
              sys == "mqtt" ? "mosquitto" : "SockChat", rate[key, sys],
              rate[t, sys], p50[t, sys], p99[t, sys], cpu[key, sys],
              cpu[t, sys], d(cpu[t, sys], cpu[key, sys])
          }
        print ""
        print "SockChat over TLS vs mosquitto over TLS (x > 1: SockChat more, msgs/s; less, the others):"
        for (k = 1; k <= 3; k++) {
          key = keys[k]; t = key "-tls"
          printf "(%s)  msgs/s %s, p99 %s, server CPU per message %s; TLS adds %s us/msg to SockChat, %s to mosquitto\n",
            key, r(rate[t, "sockchat"], rate[t, "mqtt"]),
            r(p99[t, "sockchat"], p99[t, "mqtt"]),
            r(cpu[t, "sockchat"], cpu[t, "mqtt"]),
            d(cpu[t, "sockchat"], cpu[key, "sockchat"]),
            d(cpu[t, "mqtt"], cpu[key, "mqtt"])
        }
      }' "$results"
  }
  tls_table | tee "$work/tls.txt"
  if [ $write_docs = 1 ]; then
    mkdir -p "$src/docs/benchmarks"
    {
      echo "- Command: \`$command_line\`"
      echo "- Date: $(date -u '+%Y-%m-%d %H:%M UTC'); SockChat commit" \
        "$(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
        "$(mosquitto -h 2>/dev/null | sed -n 1p)"
      echo "- msgs/s in clear and over TLS on the same server; p50/p99 in µs"
      echo "  over TLS; server CPU µs per message in clear and over TLS, and"
      echo "  the difference (what TLS adds). Short runs on a shared machine:"
      echo "  CPU figures have the 10 ms clock-tick resolution of /proc."
      echo
      echo '```'
      cat "$work/tls.txt"
      echo '```'
    } >"$src/docs/benchmarks/tls.md"
    echo "wrote $src/docs/benchmarks/tls.md"
  fi

  exit $failed
fi

# -------------------------------------------------------------- cluster

# distinct_free_ports N: N free ports, no two alike (free_port alone can
# draw the same one twice, nothing being bound in between).
distinct_free_ports() {
  chosen=
  while [ "$(echo "$chosen" | wc -w)" -lt "$1" ]; do
    candidate=$(free_port)
    case " $chosen " in
      *" $candidate "*) ;;
      *) chosen="$chosen $candidate" ;;
    esac
  done
  echo "$chosen"
}

# start_nats I CLIENT_PORTS ROUTE_PORTS: NATS server I (1 to 3) with
# JetStream and routes to the other two; sets $pid.
start_nats() {
  i=$1 client_ports=$2 route_ports=$3
  dir="$work/nats$i"
  mkdir -p "$dir"
  routes=
  j=0
  for route_port in $route_ports; do
    j=$((j + 1))
    [ "$j" != "$i" ] && routes="$routes nats-route://127.0.0.1:$route_port"
  done
  cat >"$dir/nats.conf" <<CONF
server_name: sc-bench-nats-$i
listen: 127.0.0.1:$(echo "$client_ports" | cut -d' ' -f"$i")
jetstream {
  store_dir: "$dir"
  max_memory_store: 64MB
  max_file_store: 256MB
}
cluster {
  name: sc-bench
  listen: 127.0.0.1:$(echo "$route_ports" | cut -d' ' -f"$i")
  routes: [$(echo "$routes" | sed 's/^ //; s/ /, /g')]
}
CONF
  port=$(echo "$client_ports" | cut -d' ' -f"$i")
  # One Go processor each: three NATS servers, three nodes and the bench
  # share this machine's CPUs, and with more each server's idle
  # processors spin and wake one another (perf: a third of its time in
  # context switches and nanosleep).  SC_BENCH_NATS_GOMAXPROCS=0 leaves
  # Go's default (the number of CPUs).
  if [ "${SC_BENCH_NATS_GOMAXPROCS:-1}" = 0 ]; then
    start "nats$i" nats-server -c "$dir/nats.conf"
  else
    start "nats$i" env GOMAXPROCS="${SC_BENCH_NATS_GOMAXPROCS:-1}" \
      nats-server -c "$dir/nats.conf"
  fi
}

# start_node I NATS_PORT: SockChat node I on the NATS server at
# NATS_PORT; sets $port and $pid.  Retried while JetStream elects its
# first leaders (a node cannot lease its id before); exits 0 when the
# server was built without cluster support.
start_node() {
  i=$1 nats_port=$2
  for _ in $(seq 40); do
    : >"$work/node$i.out"
    : >"$work/node$i.err"
    "$server_bin" --port 0 --bind 127.0.0.1 --threads "$threads" \
      --max-clients 19900 --cluster "nats://127.0.0.1:$nats_port" \
      --node-id "$i" --cluster-name scbench \
      >>"$work/node$i.out" 2>>"$work/node$i.err" &
    pid=$!
    pids="$pids $pid"
    await_listening "node$i" "$pid" "" 300 && return 0
    if grep -q "without cluster support" "$work/node$i.err"; then
      echo "cluster run skipped: $server_bin was built without cluster" \
        "support (libnats-dev; meson setup -Dcluster=enabled)"
      exit 0
    fi
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sleep 0.5
  done
  echo "sockchat node $i did not join the cluster:" >&2
  tail -5 "$work/node$i.err" >&2
  exit 1
}

# cluster_bench ROW KEY WORKLOAD ARGS...: one run, its JSON appended to
# $work/ROW-KEY.json.
cluster_bench() {
  row=$1 key=$2 workload=$3; shift 3
  out="$work/$row-$key.json"
  # shellcheck disable=SC2086
  if ! "$bench_bin" --system sockchat --workload "$workload" \
    --payload "$payload" --json $common "$@" >>"$out" 2>>"$out.err"; then
    echo "$row $key failed:" >&2
    tail -3 "$out.err" >&2
    failed=1
  fi
}

# cluster_medians: "KEY ROW msgs/s p50 p99 p99.9 cpu/msg" per row and
# workload, the medians of their runs.
cluster_medians() {
  for file in "$work"/*-?.json; do
    [ -s "$file" ] || continue
    name=$(basename "$file" .json)
    awk -v key="${name##*-}" -v row="${name%-*}" '
      function field(line, name,   m) {
        if (match(line, "\"" name "\":[0-9.]+")) {
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
      /^\{/ { n++; r[n] = field($0, "msgs_per_s"); p50[n] = field($0, "p50_us")
        p99[n] = field($0, "p99_us"); p999[n] = field($0, "p999_us")
        cpu[n] = field($0, "server_cpu_us_per_msg") }
      END {
        if (n == 0) exit 0
        printf "%s %s %.0f %.1f %.1f %.1f %.2f %d\n", key, row, median(r, n),
          median(p50, n), median(p99, n), median(p999, n), median(cpu, n), n
      }' "$file"
  done
}

# cluster_report: the table and the targets of issue 16, from the
# medians on standard input.
cluster_report() {
  awk -v threads="$threads" -v payload="$payload" '
    { rate[$1, $2] = $3; p50[$1, $2] = $4; p99[$1, $2] = $5; p999[$1, $2] = $6
      cpu[$1, $2] = $7; n[$1, $2] = $8; seen[$1, $2] = 1 }
    function label(row) {
      return row == "alone" ? "one server, no cluster" : row == "same" ? "cluster, same node" : "cluster, cross-node"
    }
    function verdict(ok) { return ok ? "met" : "MISSED" }
    END {
      printf "%-4s %-24s %9s %9s %9s %9s %12s %5s\n", "", "row", "msgs/s",
        "p50 us", "p99 us", "p99.9 us", "cpu us/msg", "runs"
      split("a b", keys, " "); split("alone same cross", rows, " ")
      for (k = 1; k <= 2; k++)
        for (r = 1; r <= 3; r++) {
          key = keys[k]; row = rows[r]
          if (!seen[key, row]) continue
          printf "(%s)  %-24s %9s %9s %9s %9s %12s %5s\n", key, label(row),
            rate[key, row], p50[key, row], p99[key, row], p999[key, row],
            cpu[key, row], n[key, row]
        }
      print ""
      print "cpu us/msg: all the servers of the row (the cluster rows: 3 nodes and"
      print "3 NATS servers) over the messages delivered."
      print ""
      print "What a cross-node hop adds (cross-node minus same node, this invocation):"
      if (seen["a", "cross"] && seen["a", "same"]) {
        # (a) is a round trip: the ping and the pong each cross once.
        d50 = (p50["a", "cross"] - p50["a", "same"]) / 2
        d99 = (p99["a", "cross"] - p99["a", "same"]) / 2
        printf "(a)  round trip p50 %+.1f us, p99 %+.1f us: per hop (half) p50 %+.1f us, p99 %+.1f us\n",
          2 * d50, 2 * d99, d50, d99
        printf "     target p50 at most +300 us per hop: %s (%+.1f us to spare); p99 at most +2000 us per hop: %s (%+.1f us to spare)\n",
          verdict(d50 <= 300), 300 - d50, verdict(d99 <= 2000), 2000 - d99
      }
      if (seen["b", "cross"] && seen["b", "same"]) {
        printf "(b)  one way p50 %+.1f us, p99 %+.1f us; msgs/s %.2fx the same node'"'"'s\n",
          p50["b", "cross"] - p50["b", "same"], p99["b", "cross"] - p99["b", "same"],
          rate["b", "cross"] / rate["b", "same"]
        printf "     target 100 cross-node pairs at least 100000 msgs/s with receipts: %s (%s, %.2fx the target)\n",
          verdict(rate["b", "cross"] >= 100000), rate["b", "cross"], rate["b", "cross"] / 100000
      }
    }'
}

if [ $cluster = 1 ]; then
  if [ $quick = 1 ]; then
    runs=1 common="--duration 0.5 --warmup 0.3"
  else
    runs=3 common="--duration 5 --warmup 1"
  fi
  failed=0
  set -- $(distinct_free_ports 6)
  nats_ports="$1 $2 $3" route_ports="$4 $5 $6"
  nats_pids=
  for i in 1 2 3; do
    start_nats "$i" "$nats_ports" "$route_ports"
    nats_pids="$nats_pids $pid"
  done
  node_ports= node_pids=
  for i in 1 2 3; do
    start_node "$i" "$(echo "$nats_ports" | cut -d' ' -f"$i")"
    node_ports="$node_ports $port" node_pids="$node_pids $pid"
  done
  port=
  start alone "$server_bin" --port 0 --bind 127.0.0.1 --threads "$threads" \
    --max-clients 19900
  port_alone=$port pid_alone=$pid
  node1_port=$(echo $node_ports | cut -d' ' -f1)
  all_ports=$(echo $node_ports | tr ' ' ,)
  node1_pid=$(echo $node_pids | cut -d' ' -f1)
  # Every cluster process counts in both cluster rows: the CPU per
  # message of the cluster, whichever node does the work.
  others=$(echo $node_pids $nats_pids | cut -d' ' -f2- | tr ' ' ,)
  started=$(date -u '+%Y-%m-%d %H:%M UTC')
  echo "cluster: 3 NATS servers (ports $nats_ports), 3 nodes (ports$node_ports)," \
    "--threads $threads; payload $payload; $runs run(s) of each, interleaved;" \
    "load average $(cut -d' ' -f1-3 /proc/loadavg); $started"
  for rep in $(seq "$runs"); do
    for spec in "a|latency" "b|throughput"; do
      key=${spec%%|*} workload=${spec#*|}
      cluster_bench alone "$key" "$workload" --port "$port_alone" \
        --server-pid "$pid_alone"
      cluster_bench same "$key" "$workload" --ports "$node1_port" \
        --server-pid "$node1_pid" --more-pids "$others"
      cluster_bench cross "$key" "$workload" --ports "$all_ports" \
        --server-pid "$node1_pid" --more-pids "$others"
    done
  done
  echo
  cluster_medians | cluster_report
  echo
  echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
  exit $failed
fi

runs=$reps
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
t0=$(date +%s)
for spec in "a|latency|" "b|throughput|$b_args" "c|unbatched|$c_args" \
            "e|reqresp|$e_args"; do
  key=${spec%%|*} rest=${spec#*|}
  workload=${rest%%|*} args=${rest#*|}
  for row in $run_rows; do
    if row_runs "$row" "$key"; then
      # shellcheck disable=SC2086
      bench "$row" "$key" "$workload" $args
    fi
  done
  # (d): SockChat's and the floor's open loop at fractions of SockChat's
  # own (b) maximum (with receipts), the same offered rate for each.
  if [ "$key" = c ]; then
    max=$(value b sockchat 3)
    if [ "$max" != - ]; then
      for load in $d_loads; do
        rate=$(awk -v m="$max" -v l="$load" 'BEGIN { printf "%.0f", m * l / 100 }')
        for row in $run_rows; do
          if row_runs "$row" "d$load"; then
            bench "$row" "d$load" open --rate "$rate"
          fi
        done
      done
    fi
  fi
done
# (f): SockChat only, (a) on top of an idle crowd.
if row_runs sockchat f && case " $run_rows " in *" sockchat "*) true ;; *) false ;; esac; then
  # SockChat announces every newcomer to everyone connected, so the
  # crowd takes minutes to gather: one run, and a generous timeout.
  runs=1
  bench sockchat f idle --idle "$idle_count" --connect-timeout 400
fi
elapsed=$(( $(date +%s) - t0 ))

# ----------------------------------------------------------------- table

describe() {
  case $1 in
    a) echo "(a) latency: 1 pair ping-pong, round trip" ;;
    b) echo "(b) throughput: 100 pairs x 16 in flight, one way" ;;
    c) echo "(c) unbatched: 1,000 pairs x 1 in flight, one way" ;;
    d*) echo "(d) open loop at ${1#d} % of SockChat's (b) (receipts), one way" ;;
    e) echo "(e) request/response: 50 clients x 1, round trip" ;;
    f) echo "(f) (a) on top of $idle_count idle connections" ;;
  esac
}

# The rows as the table shows them, in the order they ran: ROW, its
# label, the row it is compared with (or "-"), its short name and what
# its requests are in (e), separated by tabs.
rows="$work/rows"
: >"$rows"
for row in $run_rows; do
  case $(row_server "$row") in
    sockchat*) name=SockChat ;;
    floor) name=floor ;;
    mqtt) name=mosquitto ;;
    redis) name=Redis ;;
    nats) name=NATS ;;
    irc) name=ngIRCd ;;
    *) name=$row ;;
  esac
  partner=$(row_partner "$row")
  printf '%s\t%s\t%s\t%s\t%s\n' "$row" "$(row_label "$row")" \
    "${partner:--}" "$name" "$(row_request "$row")" >>"$rows"
done

# table FORMAT: the results as text or as Markdown ("md").  The ratio
# columns divide the figures of the SockChat row a row is compared with
# (its last column says which) by the row's own; in (e) every row is
# compared with SockChat's GET_TIME.
table() {
  awk -v format="$1" '
    BEGIN {
      if (format == "md") {
        print "| workload | system | msgs/s | p50 µs | p99 µs | p99.9 µs | server CPU µs/msg | SockChat msgs/s ÷ | SockChat p99 ÷ | SockChat CPU ÷ | compared |"
        print "|---|---|--:|--:|--:|--:|--:|--:|--:|--:|---|"
      } else
        printf "%-5s %-29s %9s %9s %9s %9s %7s %7s %7s %7s  %s\n", "",
          "system", "msgs/s", "p50_us", "p99_us", "p99.9_us", "cpu_us",
          "rate_x", "p99_x", "cpu_x", "compared"
    }
    FILENAME == ARGV[1] {
      split($0, f, "\t"); nr++; order[nr] = f[1]; label[f[1]] = f[2]
      partner[f[1]] = f[3]; name[f[1]] = f[4]; request[f[1]] = f[5]
      next
    }
    { row[$1, $2] = $0; if (!($1 in first)) { first[$1] = NR; korder[++nk] = $1 } }
    function ratio(a, b) {
      if (a == "-" || b == "-" || b + 0 == 0) return "-"
      return sprintf("%.2fx", a / b)
    }
    END {
      for (k = 1; k <= nk; k++) {
        key = korder[k]
        for (i = 1; i <= nr; i++) {
          s = order[i]
          if (!((key, s) in row)) continue
          split(row[key, s], f, " ")
          p = key == "e" ? (s == "sockchat" ? "-" : "sockchat") : partner[s]
          shown_label = key == "e" ? name[s] " " request[s] : label[s]
          rx = px = cx = ""
          if (p == "-")
            vs = "the reference"
          else {
            vs = key == "e" ? name[p] " " request[p] " vs " shown_label : label[p] " vs " label[s]
            if ((key, p) in row) {
              split(row[key, p], sc, " ")
              rx = ratio(sc[3], f[3]); px = ratio(sc[5], f[5]); cx = ratio(sc[7], f[7])
            } else
              rx = px = cx = "-"
          }
          if (format == "md")
            printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
              (shown[key]++ ? "" : "(" key ")"), shown_label, f[3], f[4],
              f[5], f[6], f[7], rx, px, cx, vs
          else
            printf "%-5s %-29s %9s %9s %9s %9s %7s %7s %7s %7s  %s\n",
              "(" key ")", shown_label, f[3], f[4], f[5], f[6], f[7], rx, px,
              cx, vs
        }
      }
    }' "$rows" "$results"
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
echo "(rate_x, p99_x, cpu_x: the compared SockChat row's msgs/s, p99 and server"
echo " CPU per message over this row's; latency is one way except in (a), (e), (f))"
[ -n "$skipped" ] && echo "skipped:$skipped"

# ----------------------------------------------------------- the reading

# targets: issue 15's targets for SockChat, each met, missed or not
# measured (a row it needs did not run), from the numbers (Markdown list
# items).  "R" is SockChat with receipts, "N" without (sockchat:no-receipt),
# the peers are every row of another server but the floor, in any mode.
targets() {
  awk -v idle_target="$idle_count" '
    FILENAME == ARGV[1] {
      split($0, f, "\t"); label[f[1]] = f[2]
      if (f[1] !~ /^sockchat/ && f[1] != "floor") peers[++np] = f[1]
      next
    }
    { v[$1, $2, "rate"] = $3; v[$1, $2, "p50"] = $4; v[$1, $2, "p99"] = $5
      v[$1, $2, "p999"] = $6; v[$1, $2, "cpu"] = $7; v[$1, $2, "rss"] = $8
      v[$1, $2, "ready"] = $9 }
    function known(k, s, f) { return ((k, s, f) in v) && v[k, s, f] != "-" }
    function verdict(ok, text) { printf "- %s: %s\n", ok ? "**met**" : "**missed**", text }
    function unmeasured(text, why) { printf "- **not measured**: %s (%s)\n", text, why }
    # The peers known in workload k for figure f, as "label figure, ...",
    # with the best (largest, or with less, the smallest) in best[k, f].
    function peer_list(k, f, less,   i, p, text) {
      text = ""; best[k, f] = ""
      for (i = 1; i <= np; i++) {
        p = peers[i]
        if (!known(k, p, f)) continue
        text = text sprintf("%s%s %s", text == "" ? "" : ", ", label[p], v[k, p, f])
        if (best[k, f] == "" || (less ? v[k, p, f] < best[k, f] : v[k, p, f] > best[k, f]))
          best[k, f] = v[k, p, f]
      }
      return text
    }
    END {
      R = "sockchat"; N = "sockchat:no-receipt"; W1 = "sockchat1"
      no_n = "no SockChat no-receipt row: the mode is not in the adapter yet"

      # (b) without receipts.
      text = "(b) without receipts ahead of every peer, at least 1.1x the best, and at least 75 % of the floor"
      peers_b = peer_list("b", "rate", 0)
      if (!known("b", N, "rate")) unmeasured(text, no_n)
      else if (peers_b == "" || !known("b", "floor", "rate")) unmeasured(text, "no peer or no floor in (b)")
      else {
        n = v["b", N, "rate"]; fl = v["b", "floor", "rate"]
        verdict(n >= 1.1 * best["b", "rate"] && n >= 0.75 * fl, sprintf("%s: %.0f msgs/s, %.2fx the best peer (%s), %.0f %% of the floor (%.0f)", text, n, n / best["b", "rate"], peers_b, 100 * n / fl, fl))
      }
      # (b) with receipts.
      text = "(b) with receipts at least 2x mosquitto QoS 1"
      if (known("b", R, "rate") && known("b", "mqtt:qos1", "rate"))
        verdict(v["b", R, "rate"] >= 2 * v["b", "mqtt:qos1", "rate"], sprintf("%s: %.0f vs %.0f msgs/s (%.2fx)", text, v["b", R, "rate"], v["b", "mqtt:qos1", "rate"], v["b", R, "rate"] / v["b", "mqtt:qos1", "rate"]))
      else unmeasured(text, "SockChat or mosquitto QoS 1 missing in (b)")
      text = "(b) with receipts at least 0.8x SockChat'"'"'s own no-receipt rate"
      if (known("b", R, "rate") && known("b", N, "rate"))
        verdict(v["b", R, "rate"] >= 0.8 * v["b", N, "rate"], sprintf("%s: %.0f vs %.0f msgs/s (%.2fx)", text, v["b", R, "rate"], v["b", N, "rate"], v["b", R, "rate"] / v["b", N, "rate"]))
      else unmeasured(text, no_n)

      # (c) server CPU per message.
      peers_c = peer_list("c", "cpu", 1)
      text = "(c) without receipts less server CPU per message than every peer"
      if (!known("c", N, "cpu")) unmeasured(text, no_n)
      else if (peers_c == "") unmeasured(text, "no peer CPU figure in (c)")
      else verdict(v["c", N, "cpu"] < best["c", "cpu"], sprintf("%s: %.2f µs; %s", text, v["c", N, "cpu"], peers_c))
      text = "(c) with receipts at most 1.5x the thriftiest peer'"'"'s server CPU per message"
      if (known("c", R, "cpu") && peers_c != "")
        verdict(v["c", R, "cpu"] <= 1.5 * best["c", "cpu"], sprintf("%s: %.2f vs %.2f µs (%.2fx)%s; %s", text, v["c", R, "cpu"], best["c", "cpu"], v["c", R, "cpu"] / best["c", "cpu"], known("c", N, "cpu") ? sprintf(", %.2fx SockChat'"'"'s no-receipt CPU", v["c", R, "cpu"] / v["c", N, "cpu"]) : "", peers_c))
      else unmeasured(text, "SockChat or every peer missing in (c)")

      # (e) against Redis PING.
      text = "(e) at least Redis PING'"'"'s rate with p99 at most 1.2x Redis'"'"'s"
      if (known("e", R, "rate") && known("e", "redis", "rate"))
        verdict(v["e", R, "rate"] >= v["e", "redis", "rate"] && v["e", R, "p99"] <= 1.2 * v["e", "redis", "p99"], sprintf("%s: %.0f vs %.0f requests/s (%.2fx), p99 %.1f vs %.1f µs (%.2fx)", text, v["e", R, "rate"], v["e", "redis", "rate"], v["e", R, "rate"] / v["e", "redis", "rate"], v["e", R, "p99"], v["e", "redis", "p99"], v["e", R, "p99"] / v["e", "redis", "p99"]))
      else unmeasured(text, "SockChat or Redis missing in (e)")

      # (d) at 50 %, against the floor at the same offered rate.
      text = "(d) at 50 % load p99 at most 3x the floor'"'"'s at the same offered rate"
      if (known("d50", R, "p99") && known("d50", "floor", "p99"))
        verdict(v["d50", R, "p99"] <= 3 * v["d50", "floor", "p99"], sprintf("%s: %.1f vs %.1f µs (%.2fx)", text, v["d50", R, "p99"], v["d50", "floor", "p99"], v["d50", R, "p99"] / v["d50", "floor", "p99"]))
      else unmeasured(text, "SockChat or the floor missing in (d) at 50 %")

      # (a) and (f): no worse than today.
      text = "(a) p50 and p99 within 1.3x of the floor"
      if (known("a", R, "p50") && known("a", "floor", "p50")) {
        r50 = v["a", R, "p50"] / v["a", "floor", "p50"]
        r99 = v["a", R, "p99"] / v["a", "floor", "p99"]
        verdict(r50 <= 1.3 && r99 <= 1.3, sprintf("%s: p50 %.1f vs %.1f µs (%.2fx), p99 %.1f vs %.1f µs (%.2fx)", text, v["a", R, "p50"], v["a", "floor", "p50"], r50, v["a", R, "p99"], v["a", "floor", "p99"], r99))
      } else unmeasured(text, "SockChat or the floor missing in (a)")
      text = sprintf("(f) %d idle connections at most 2 KB each", idle_target)
      if (known("f", R, "ready")) {
        ready = v["f", R, "ready"]; rss = v["f", R, "rss"]
        verdict(ready >= idle_target && rss != "-" && rss <= 2048, sprintf("%s: %d held, %s bytes of server memory each", text, ready, rss))
      } else unmeasured(text, "no (f) run")

      # Workers.
      text = "2 workers at least as fast as 1 on (b) and (c)"
      if (known("b", R, "rate") && known("b", W1, "rate") && known("c", R, "rate") && known("c", W1, "rate"))
        verdict(v["b", R, "rate"] >= v["b", W1, "rate"] && v["c", R, "rate"] >= v["c", W1, "rate"], sprintf("%s: (b) %.0f vs %.0f msgs/s (%.2fx), (c) %.0f vs %.0f msgs/s (%.2fx)", text, v["b", R, "rate"], v["b", W1, "rate"], v["b", R, "rate"] / v["b", W1, "rate"], v["c", R, "rate"], v["c", W1, "rate"], v["c", R, "rate"] / v["c", W1, "rate"]))
      else unmeasured(text, "needs the sockchat1 row, and --threads other than 1")
    }' "$rows" "$results"
}

# ------------------------------------------------------------- the docs

# reading: a few plain sentences per workload, from the numbers.
reading() {
  awk '
    FILENAME == ARGV[1] {
      split($0, f, "\t"); label[f[1]] = f[2]; name[f[1]] = f[4]
      request[f[1]] = f[5]
      next
    }
    $3 != "-" { v[$1, $2, "rate"] = $3; v[$1, $2, "p50"] = $4
      v[$1, $2, "p99"] = $5; v[$1, $2, "cpu"] = $7
      if (!seen[$1]++) order[++nk] = $1; sys[$1] = sys[$1] " " $2 }
    function shown(k, s) { return k == "e" ? name[s] " " request[s] : label[s] }
    function rows_by_rate(k,   n, list, i, j, t, out) {
      n = split(sys[k], list, " ")
      for (i = 2; i <= n; i++)
        for (j = i; j > 1 && v[k, list[j - 1], "rate"] < v[k, list[j], "rate"]; j--) {
          t = list[j]; list[j] = list[j - 1]; list[j - 1] = t
        }
      out = ""
      for (i = 1; i <= n; i++)
        out = out sprintf("%s%s %.0f", i == 1 ? "" : ", ", shown(k, list[i]), v[k, list[i], "rate"])
      return out
    }
    END {
      for (i = 1; i <= nk; i++) {
        k = order[i]
        if (k ~ /^d/ && ((k, "sockchat", "p99") in v) && ((k, "floor", "p99") in v)) {
          printf "- (%s), %.0f msgs/s offered: SockChat (receipts) p99 %.1f µs, the floor %.1f µs (%.2fx).\n", k, v[k, "sockchat", "rate"], v[k, "sockchat", "p99"], v[k, "floor", "p99"], v[k, "sockchat", "p99"] / v[k, "floor", "p99"]
          continue
        }
        if (k ~ /^d/ || k == "f" || !((k, "sockchat", "rate") in v)) continue
        line = sprintf("- (%s), msgs/s from most to fewest: %s.", k, rows_by_rate(k))
        if ((k, "floor", "rate") in v)
          line = line sprintf(" %s does %.0f %% of the floor'"'"'s rate at %.2fx its p99.", shown(k, "sockchat"), 100 * v[k, "sockchat", "rate"] / v[k, "floor", "rate"], v[k, "sockchat", "p99"] / v[k, "floor", "p99"])
        if (v[k, "sockchat", "cpu"] != "-") {
          best = ""; n = split(sys[k], list, " ")
          for (j = 1; j <= n; j++)
            if (list[j] !~ /^sockchat/ && list[j] != "floor" && v[k, list[j], "cpu"] != "-" && (best == "" || v[k, list[j], "cpu"] < v[k, best, "cpu"]))
              best = list[j]
          if (best != "")
            line = line sprintf(" Its server spends %.2f µs of CPU per message; the thriftiest peer, %s, %.2f µs.", v[k, "sockchat", "cpu"], shown(k, best), v[k, best, "cpu"])
        }
        print line
      }
    }' "$rows" "$results"
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
  # One row per workload (or latency figure), one column per table row,
  # in the order of bench/charts.gp's titles (the single worker is left
  # out).
  order="sockchat sockchat:no-receipt floor mqtt mqtt:qos1 redis nats nats:request irc"
  awk -v order="$order" '
    BEGIN { n = split(order, s, " "); printf "# workload"
      for (i = 1; i <= n; i++) printf " %s", s[i]; print "" }
    $1 ~ /^[abce]$/ { rate[$1, $2] = $3; if (!seen[$1]++) keys[++nk] = $1 }
    END { for (k = 1; k <= nk; k++) { printf "(%s)", keys[k]
        for (i = 1; i <= n; i++) {
          x = rate[keys[k], s[i]]
          printf " %s", (x == "" || x == "-") ? "?" : x / 1000 }
        print "" } }' "$results" >"$charts/throughput.dat"
  awk -v order="$order" '
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
clients: mosquitto (MQTT 3.1.1, at QoS 0 and at QoS 1), Redis pub/sub,
NATS (pub/sub and request-reply) and ngIRCd (IRC).  Every system runs
on this machine on 127.0.0.1, driven by the same load generator,
\`sockchat-bench\` (bench/README.md), with the same workloads and the
same ${payload}-byte text bodies.  This file is written by
\`bench/run.sh --write-docs\`: rerun it after changing the server.

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
| (d) | open loop | SockChat and the floor: a fixed rate, 25/50/75 % of SockChat's (b) | one way, from the scheduled time |
| (e) | request/response | 50 clients, 1 request in flight each | round trip |
| (f) | idle + (a) | SockChat only: (a) with 19,000 idle clients connected | round trip |

Each figure is the median of three runs of 5 s after 1 s of warm-up
(one run each with `--quick`; one run for (f), whose 19,000 handshakes
take minutes).  msgs/s counts messages delivered (in (a)
both the ping and the pong, in (e) answered requests).  Server CPU is
the server process's user and system time over the measured interval
(all its threads, from /proc/PID/stat, 10 ms resolution) divided by the
messages.  The ÷ columns are the figure of the SockChat row named in the
"compared" column over that row's: above 1 is better for msgs/s, below
1 is better for p99 and CPU.

Each system runs in the modes it has, and each row is compared with the
SockChat mode that promises as much:

- SockChat (receipts): every message is acknowledged by its recipient
  (MESSAGE_ACK) and the sender gets a DELIVERY_RECEIPT.  The peers'
  acknowledged modes are compared with it: mosquitto QoS 1 (PUBLISH at
  QoS 1, PUBACK from the broker; delivered at QoS 1, PUBACK from the
  subscriber; the publisher learns that the broker has the message, not
  that the subscriber got it) and NATS request-reply (each message
  carries a reply subject, and the recipient answers it).
- SockChat (no receipt): fire and forget, no acknowledgement, no
  receipt; compared with mosquitto QoS 0, Redis pub/sub, NATS pub/sub,
  ngIRCd's PRIVMSG and the floor.  Until that row runs, they are
  compared with SockChat (receipts).
- SockChat (receipts), 1 worker: the same server with `--threads 1`,
  compared with the default; it runs (b) and (c) only.

In every mode a message counts as delivered, and the sender's window is
refilled, when the recipient has read it; acknowledgements, receipts
and replies that come back to the sender are read and dropped.  The
modes run (a) to (c); (e) runs each system once: SockChat answers
GET_TIME, the peers their protocol's ping (MQTT PINGREQ, Redis PING,
NATS PING, IRC PING), the floor echoes.  A Redis client uses two
sockets (subscriber and publisher); ngIRCd's clients are operators with
user mode +F so that its flood throttling does not apply.

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
    echo "The targets of issue 15 for SockChat (\"not measured\": a row they"
    echo "need did not run):"
    echo
    targets
    cat <<'DOC'

The data behind the charts is in docs/benchmarks/*.dat; the charts are
drawn by bench/charts.gp.
DOC
    if [ -f "$src/docs/benchmarks/tls.md" ]; then
      echo
      echo "## Over TLS"
      echo
      echo "SockChat's TLS listener against mosquitto's, workloads (a), (b)"
      echo "and (e), written by \`bench/run.sh --tls --write-docs\`"
      echo "(docs/benchmarks/tls.md, included here as it was last written):"
      echo
      cat "$src/docs/benchmarks/tls.md"
    fi
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
