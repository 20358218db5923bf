#!/bin/bash
# tests/cluster/run.sh: three sockchat-server nodes joined through a
# three-node NATS cluster (JetStream, routes), all on 127.0.0.1 with free
# ports and temporary directories, checked by sc-cluster-load (issue 16,
# docs/CLUSTER.md).  TAP on standard output; everything it started is
# stopped on exit, whatever happens.
#
#   SC_SERVER=_build/server/sockchat-server \
#   SC_LOAD=_build/tests/cluster/sc-cluster-load tests/cluster/run.sh
#
# Scenarios: 1 traffic (300 clients, 30,000 cross-node messages, 10
# broadcasts), 3 presence latency and identical lists, 2 no id repeats
# over 30,000 connects and a restart of every node, 4 kill -9 of a node,
# 5 kill -9 of the NATS server leading the directory under load, 6 every
# NATS server killed and restarted, 7 15,000 idle clients: the messages
# each node publishes, counted by the NATS servers' monitoring, 8 the
# markers departed clients leave in the directory removed.
set -u

source "$(dirname "${BASH_SOURCE[0]}")/../support/tap.sh"

NATS_SERVER="${NATS_SERVER:-$(command -v nats-server || echo /usr/sbin/nats-server)}"
if [[ "${SC_CLUSTER_BUILT:-yes}" != yes ]]; then
  echo "1..0 # SKIP sockchat-server was built without cluster support (libnats-dev)"
  exit 0
fi
if [[ ! -x "$NATS_SERVER" ]]; then
  echo "1..0 # SKIP nats-server is not installed (apt-get install nats-server)"
  exit 0
fi

TMP="$(mktemp -d "${TMPDIR:-/tmp}/sc-cluster.XXXXXX")"
NATS_PIDS=()
NODE_PIDS=(0 0 0)
NODE_PORTS=(0 0 0)
NODE_EXTRA_ARGS=()
CLUSTER_NAME=sctest
CONNECTS="${SC_CLUSTER_CONNECTS:-30000}"
# For debugging: the scenarios to run (SC_CLUSTER_KEEP=1: the directory
# is kept).
SCENARIOS="${SC_CLUSTER_SCENARIOS:-1 3 2 4 5 6 7 8}"
wants () { [[ " $SCENARIOS " == *" $1 "* ]]; }

cleanup () {
  local pid
  for pid in "${NODE_PIDS[@]}" "${NATS_PIDS[@]}"; do
    [[ "$pid" != 0 ]] && kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  if [[ -n "${SC_CLUSTER_KEEP:-}" ]]; then
    echo "# kept $TMP"
  else
    rm -rf "$TMP"
  fi
}
trap cleanup EXIT

# N free TCP ports on 127.0.0.1, one a line.
free_ports () {
  python3 - "$1" <<'EOF'
import socket, sys
held = []
for _ in range(int(sys.argv[1])):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    held.append(s)
    print(s.getsockname()[1])
EOF
}

# The driver's "ok"/"not ok" lines, numbered into this script's count.
run_load () {
  # shellcheck disable=SC2086 # a command and its arguments, or nothing
  ${SC_LOAD_PREFIX:-} "$SC_LOAD" --ports "$(IFS=,; echo "${NODE_PORTS[*]}")" "$@" \
    >"$TMP/load.out" 2>"$TMP/load.err"
  report_load $? "$@"
}

# report_load STATUS ARGS...: the TAP lines of a driver that has ended.
report_load () {
  local line status=$1
  shift
  while IFS= read -r line; do
    case "$line" in
      "ok - "*) ok "${line#ok - }" ;;
      "not ok - "*) not_ok "${line#not ok - }" ;;
      *) echo "# $line" ;;
    esac
  done <"$TMP/load.out"
  if [[ $status -ne 0 && ! -s "$TMP/load.out" ]]; then
    not_ok_file "sc-cluster-load $1 $2 ran" "$TMP/load.err"
  fi
}

mapfile -t PORTS < <(free_ports 9)
CLIENT_PORTS=("${PORTS[@]:0:3}")
ROUTE_PORTS=("${PORTS[@]:3:3}")
MONITOR_PORTS=("${PORTS[@]:6:3}")
URLS="nats://127.0.0.1:${CLIENT_PORTS[0]},nats://127.0.0.1:${CLIENT_PORTS[1]},nats://127.0.0.1:${CLIENT_PORTS[2]}"

start_nats () {
  local i=$1
  "$NATS_SERVER" -c "$TMP/nats$i.conf" >>"$TMP/nats$i.log" 2>&1 &
  NATS_PIDS[$i]=$!
}

for i in 0 1 2; do
  routes=""
  for j in 0 1 2; do
    [[ $j -ne $i ]] && routes+="nats-route://127.0.0.1:${ROUTE_PORTS[$j]}, "
  done
  mkdir -p "$TMP/nats$i"
  cat >"$TMP/nats$i.conf" <<EOF
server_name: sc-nats-$i
listen: 127.0.0.1:${CLIENT_PORTS[$i]}
http: 127.0.0.1:${MONITOR_PORTS[$i]}
jetstream {
  store_dir: "$TMP/nats$i"
  max_memory_store: 64MB
  max_file_store: 256MB
}
cluster {
  name: sc-test
  listen: 127.0.0.1:${ROUTE_PORTS[$i]}
  routes: [ ${routes%, } ]
}
EOF
  start_nats "$i"
done

# start_node I: sockchat-server node I+1 on a free port; retried while
# JetStream elects its first leaders.
start_node () {
  local i=$1 n=$(($1 + 1)) tries=0 port=""
  while [[ $tries -lt 40 ]]; do
    # Else the loop below may read the port of the node's last start
    # before the new process truncates the file.
    rm -f "$TMP/node$n.out"
    "$SC_SERVER" --port 0 --bind 127.0.0.1 --threads 2 --max-clients 19000 \
      --max-pending 4096 --max-per-address 8192 --fanout-rate 100000000 \
      --cluster "$URLS" --node-id "$n" --cluster-name "$CLUSTER_NAME" \
      "${NODE_EXTRA_ARGS[@]}" >"$TMP/node$n.out" 2>>"$TMP/node$n.log" &
    NODE_PIDS[$i]=$!
    for _ in $(seq 1 150); do
      port="$(sed -n 's/.*listening on port \([0-9]*\).*/\1/p' "$TMP/node$n.out")"
      [[ -n "$port" ]] && break
      kill -0 "${NODE_PIDS[$i]}" 2>/dev/null || break
      sleep 0.1
    done
    if [[ -n "$port" ]]; then
      NODE_PORTS[$i]=$port
      return 0
    fi
    kill -KILL "${NODE_PIDS[$i]}" 2>/dev/null
    wait "${NODE_PIDS[$i]}" 2>/dev/null
    NODE_PIDS[$i]=0
    tries=$((tries + 1))
    sleep 0.5
  done
  return 1
}

stop_node () {
  local i=$1
  kill -TERM "${NODE_PIDS[$i]}" 2>/dev/null
  wait "${NODE_PIDS[$i]}" 2>/dev/null
  NODE_PIDS[$i]=0
}

started=$SECONDS
for i in 0 1 2; do
  if ! start_node "$i"; then
    bail_out "sockchat node $((i + 1)) did not join the cluster" \
      "$(tail -5 "$TMP/node$((i + 1)).log")"
  fi
done
ok "3 NATS servers and 3 sockchat nodes up in $((SECONDS - started)) s (ports ${NODE_PORTS[*]})"

# 1: traffic.
if wants 1; then
  run_load --mode traffic --clients 100 --messages 100 --broadcasts 10
fi

# 3: presence.
if wants 3; then
  run_load --mode presence --rounds 40
fi

# 2: ids over many connects and a restart of every node.
if wants 2; then
t=$SECONDS
run_load --mode ids --connects "$CONNECTS" --out "$TMP/ids1"
for i in 0 1 2; do stop_node "$i"; done
for i in 0 1 2; do
  start_node "$i" || bail_out "node $((i + 1)) did not restart"
done
run_load --mode ids --connects 3000 --out "$TMP/ids2"
total=$(cat "$TMP/ids1" "$TMP/ids2" | wc -l)
repeats=$(cat "$TMP/ids1" "$TMP/ids2" | sort -n | uniq -d | wc -l)
if [[ $total -eq $((CONNECTS + 3000)) && $repeats -eq 0 ]]; then
  ok "ids: $total connects across a restart of every node, no id repeated ($((SECONDS - t)) s)"
else
  not_ok "ids: $total connects (want $((CONNECTS + 3000))), $repeats ids repeated"
fi
fi

# 4: kill -9 of node 3, then its restart: no ghosts.
if wants 4; then
run_load --mode kill --victim 3 --pid "${NODE_PIDS[2]}" --victims 20 \
  --out "$TMP/victims"
# Killed already, unless the driver failed first: then wait would hang.
kill -KILL "${NODE_PIDS[2]}" 2>/dev/null
wait "${NODE_PIDS[2]}" 2>/dev/null
NODE_PIDS[2]=0
t=$SECONDS
if start_node 2; then
  ok "node 3 restarted after kill -9 in $((SECONDS - t)) s (its lease waited out)"
else
  not_ok "node 3 restarted after kill -9" "$(tail -5 "$TMP/node3.log")"
fi
run_load --mode lists --want 3 --forbidden "$TMP/victims"
fi

# stream_state STREAM WHAT: what the NATS servers' monitoring says of
# JetStream stream STREAM: "leader", the index of the server leading it
# (the first that names one), or "messages", the most messages any
# server holds for it.  Empty when no server says (no leader yet).
stream_state () {
  python3 - "$1" "$2" "${MONITOR_PORTS[@]}" <<'EOF'
import json, sys, urllib.request
name, what = sys.argv[1], sys.argv[2]
# A leader is asked for in loops that wait for an election.
timeout = 0.5 if what == "leader" else 2
most = None
for port in sys.argv[3:]:
    try:
        with urllib.request.urlopen(
                "http://127.0.0.1:%s/jsz?streams=true" % port,
                timeout=timeout) as r:
            data = json.load(r)
    except Exception:
        continue
    for account in data.get("account_details", []):
        for stream in account.get("stream_detail", []):
            if stream.get("name") != name:
                continue
            leader = stream.get("cluster", {}).get("leader", "")
            if what == "leader" and leader.startswith("sc-nats-"):
                print(leader[len("sc-nats-"):])
                sys.exit(0)
            n = stream.get("state", {}).get("messages", 0)
            most = n if most is None else max(most, n)
if what == "messages" and most is not None:
    print(most)
EOF
}

# The index of the NATS server leading stream $1 (default the
# directory's); empty when there is no leader yet.
dir_leader () { stream_state "${1:-KV_sctest-dir}" leader; }

# How many messages the directory's stream of cluster $1 holds (live
# entries and markers); empty if no server answers.
dir_messages () { stream_state "KV_$1-dir" messages; }

# Seconds from epoch time $1 until JetStream serves the directory again,
# as the NATS servers logged it: both the directory's stream and the
# meta group (which creates the watchers' consumers) have elected a
# leader since (empty if either did not).
dir_elected () {
  python3 - "$1" "$TMP"/nats?.log <<'EOF'
import datetime, sys
since = float(sys.argv[1])
first = {}
for path in sys.argv[2:]:
    for line in open(path, errors="replace"):
        if "new stream leader for '$G > KV_sctest-dir'" in line:
            what = "stream"
        elif "new JetStream cluster metadata leader" in line:
            what = "meta"
        else:
            continue
        stamp = " ".join(line.split()[1:3])
        at = datetime.datetime.strptime(stamp, "%Y/%m/%d %H:%M:%S.%f").timestamp()
        if at > since:
            first[what] = min(first.get(what, at), at)
if len(first) == 2:
    print("%.1f" % (max(first.values()) - since))
EOF
}

# 5: kill -9 of the NATS server that leads the directory's stream.
if wants 5; then
  leader=$(dir_leader)
  leader=${leader:-0}
  echo "# killing NATS server $leader, the directory's leader"
  run_load --mode natskill --clients 10 --nats-pids "${NATS_PIDS[$leader]}"
  kill -KILL "${NATS_PIDS[$leader]}" 2>/dev/null # if the driver failed
  wait "${NATS_PIDS[$leader]}" 2>/dev/null
  start_nats "$leader"
fi

# 6: every NATS server killed: remote sends get UNREACHABLE at once,
# same-node traffic goes on; once NATS is back the lists converge.
if wants 6; then
  # Clients held through the outage (and, with SC_CLUSTER_NATS_DOWN_S
  # past the node timeout, taken for gone by the other nodes meanwhile)
  # are listed everywhere again too.  They are silent: the whole scenario
  # stays well within the server's --idle-timeout (60 s).
  held_per_node=10
  rm -f "$TMP/held.ready" "$TMP/held.stop"
  "$SC_LOAD" --ports "$(IFS=,; echo "${NODE_PORTS[*]}")" --mode idle \
    --clients $held_per_node --hold 120 --out "$TMP/held.ready" \
    --stop "$TMP/held.stop" >"$TMP/held.out" 2>"$TMP/held.err" &
  held_pid=$!
  for _ in $(seq 1 100); do
    [[ -e "$TMP/held.ready" ]] && break
    kill -0 $held_pid 2>/dev/null || break
    sleep 0.1
  done
  # Node 1 and the driver share one CPU while the same-node round trip is
  # compared: on two CPUs the round trip's p50 otherwise takes one of two
  # levels (about 58 or 73 us here) as the scheduler places the threads,
  # and a phase could spend its sends on either.
  taskset -a -p -c 0 "${NODE_PIDS[0]}" >/dev/null
  SC_LOAD_PREFIX="taskset -c 0" \
    run_load --mode unreachable --nats-pids "$(IFS=,; echo "${NATS_PIDS[*]}")"
  taskset -a -p -c 0-"$(($(nproc) - 1))" "${NODE_PIDS[0]}" >/dev/null
  for i in 0 1 2; do
    kill -KILL "${NATS_PIDS[$i]}" 2>/dev/null # if the driver failed
    wait "${NATS_PIDS[$i]}" 2>/dev/null
  done
  # For debugging: NATS stays down longer, past the node timeout (the
  # nodes then take one another for dead and meet again on heartbeats).
  sleep "${SC_CLUSTER_NATS_DOWN_S:-0}"
  for i in 0 1 2; do
    start_nats "$i"
  done
  # The nodes exchange their clients' lists over core NATS (rosters,
  # docs/CLUSTER.md) as soon as the NATS servers take connections again,
  # so the bound starts at the restart, not when JetStream serves the
  # directory again (its Raft elections take 4 to 9 s each, at random).
  # Observers and listers say hello at once, while JetStream is still
  # electing; they are held until it serves the directory again and the
  # nodes have read it and written their entries again: the lists must
  # still agree then, each client told once to every other node.
  restarted=$(date +%s.%N)
  bound_ms="${SC_CLUSTER_CONVERGE_MS:-10000}"
  rm -f "$TMP/rejoin.stop"
  listing=$(date +%s.%N)
  "$SC_LOAD" --ports "$(IFS=,; echo "${NODE_PORTS[*]}")" --mode rejoin \
    --want $((3 * held_per_node)) --wait 25000 --stop "$TMP/rejoin.stop" \
    >"$TMP/load.out" 2>"$TMP/load.err" &
  rejoin_pid=$!
  election=""
  for _ in $(seq 1 60); do
    sleep 0.5
    election=$(dir_elected "$restarted")
    [[ -n "$election" ]] && break
    kill -0 $rejoin_pid 2>/dev/null || break
  done
  echo "# JetStream served the directory again ${election:-(not within 30 s)} s after the restart"
  sleep 3
  touch "$TMP/rejoin.stop"
  wait $rejoin_pid
  report_load $? --mode rejoin
  agreed=$(sed -n 's/.*list the same clients.* after \([0-9.]*\) s.*/\1/p' "$TMP/load.out")
  touch "$TMP/held.stop"
  wait $held_pid
  held_status=$?
  cp "$TMP/held.out" "$TMP/load.out"
  report_load $held_status --mode idle
  since_restart=$(awk -v t="${agreed:-99}" -v r="$restarted" -v l="$listing" \
    'BEGIN { printf "%.1f", t + l - r }')
  message="after NATS returned the lists agreed $since_restart s after the restart (JetStream served the directory again after ${election:-?} s; bound $((bound_ms / 1000)) s from the restart)"
  if [[ -n "$agreed" ]] &&
      awk -v x="$since_restart" -v bound="$bound_ms" 'BEGIN { exit !(x * 1000 <= bound) }'; then
    ok "$message"
  else
    not_ok "$message"
  fi
fi

# Per node: the messages it published and those it received, as the
# NATS servers count them on its connection ("N in out", one a line).
node_msgs () {
  python3 - "${MONITOR_PORTS[@]}" <<'EOF'
import json, sys, urllib.request
counts = {}
for port in sys.argv[1:]:
    try:
        with urllib.request.urlopen(
                "http://127.0.0.1:%s/connz?limit=1024" % port, timeout=2) as r:
            data = json.load(r)
    except Exception:
        continue
    for c in data.get("connections", []):
        name = c.get("name", "")
        if name.startswith("sockchat-node-"):
            node = name[len("sockchat-node-"):]
            sent, received = counts.get(node, (0, 0))
            counts[node] = (sent + c.get("in_msgs", 0),
                            received + c.get("out_msgs", 0))
for node in sorted(counts):
    print(node, *counts[node])
EOF
}

# The largest number of messages a node published between two node_msgs.
most_published () {
  join <(echo "$1") <(echo "$2") | awk '{ d = $4 - $2; if (d > m) m = d } END { print m + 0 }'
}

# 7: many idle clients cost the backplane nothing but the heartbeats.
# They are held at most 55 s: past the server's --idle-timeout (60 s)
# it would ping them, and the driver does not answer.
if wants 7; then
  # 15,000 connects need new id blocks, leased from the node bucket: after
  # scenario 6 its stream may not have a leader yet.
  for _ in $(seq 1 300); do
    [[ -n "$(dir_leader KV_sctest-nodes)" ]] && break
    sleep 0.1
  done
  rm -f "$TMP/idle.ready" "$TMP/idle.stop"
  "$SC_LOAD" --ports "$(IFS=,; echo "${NODE_PORTS[*]}")" --mode idle \
    --clients "${SC_CLUSTER_IDLE:-5000}" --hold 55 --out "$TMP/idle.ready" \
    --stop "$TMP/idle.stop" >"$TMP/load.out" 2>"$TMP/load.err" &
  idle_pid=$!
  t=$SECONDS
  for _ in $(seq 1 900); do
    [[ -e "$TMP/idle.ready" ]] && break
    kill -0 $idle_pid 2>/dev/null || break
    sleep 0.1
  done
  # The directory's writes for the new clients are not idle traffic:
  # the window opens once no node published more than a heartbeat's
  # share over two seconds (a query takes a while on a loaded machine,
  # so the interval is measured).
  settle=$SECONDS
  while [[ $((SECONDS - settle)) -lt 25 ]]; do
    s0=$(date +%s.%N)
    a="$(node_msgs)"
    sleep 2
    b="$(node_msgs)"
    awk -v m="$(most_published "$a" "$b")" -v a="$s0" -v b="$(date +%s.%N)" \
      'BEGIN { exit !(m <= b - a + 1) }' && break
  done
  echo "# idle: clients connected in $((settle - t)) s, the backplane settled $((SECONDS - settle)) s later"
  # A count is taken somewhere within its query, so the window between
  # the two lies between the times below.
  t0=$(date +%s.%N)
  a="$(node_msgs)"
  t0_end=$(date +%s.%N)
  sleep "${SC_CLUSTER_QUIET_S:-10}"
  t1=$(date +%s.%N)
  b="$(node_msgs)"
  t1_end=$(date +%s.%N)
  touch "$TMP/idle.stop"
  wait $idle_pid
  report_load $? --mode idle
  shortest=$(awk -v a="$t0_end" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
  window=$(awk -v a="$t0" -v b="$t1_end" 'BEGIN { printf "%.1f", b - a }')
  nodes=$(join <(echo "$a") <(echo "$b") | awk '{ printf "node %s published %d, received %d; ", $1, $4 - $2, $5 - $3 }')
  most=$(most_published "$a" "$b")
  counted=$(join <(echo "$a") <(echo "$b") | wc -l)
  # One heartbeat a second, and one more for the window's two edges.
  if [[ $counted -eq 3 ]] &&
      awk -v m="$most" -v w="$window" 'BEGIN { exit !(m <= int(w) + 1) }'; then
    ok "idle: with ${SC_CLUSTER_IDLE:-5000} idle clients per node, over $shortest to $window s ${nodes%; }: at most one message a second each (bound $(awk -v w="$window" 'BEGIN { print int(w) + 1 }'))"
  else
    not_ok "idle: with ${SC_CLUSTER_IDLE:-5000} idle clients per node, over $shortest to $window s ${nodes%; } (want at most one a second each, bound $(awk -v w="$window" 'BEGIN { print int(w) + 1 }'), 3 nodes counted: $counted)"
  fi
fi

# 8: the markers that departed clients leave in the directory are
# removed once older than --delete-markers-kept, so the bucket does not
# grow with every connection ever made.  The nodes restart as a new
# cluster (a bucket of its own, not the tens of thousands of markers the
# scenarios above left: a sweep removes them one JetStream purge at a
# time) and keep markers 2 s; 600 clients come and go.
if wants 8; then
  for i in 0 1 2; do stop_node "$i"; done
  CLUSTER_NAME=sctest8
  NODE_EXTRA_ARGS=(--delete-markers-kept 2)
  for i in 0 1 2; do
    start_node "$i" || bail_out "node $((i + 1)) did not restart"
  done
  run_load --mode ids --connects 600 --out "$TMP/ids8"
  before=$(dir_messages sctest8)
  t=$SECONDS
  after=$before
  while [[ $((SECONDS - t)) -lt ${SC_CLUSTER_SWEEP_S:-90} ]]; do
    after=$(dir_messages sctest8)
    [[ -n "$after" && $after -le 10 ]] && break
    sleep 1
  done
  if [[ -n "$after" && $after -le 10 ]]; then
    ok "sweep: the directory went from ${before:-?} entries to $after within $((SECONDS - t)) s of 600 clients leaving (--delete-markers-kept 2)"
  else
    not_ok "sweep: the directory still holds ${after:-?} entries $((SECONDS - t)) s after 600 clients left (had ${before:-?}; want at most 10)" \
      "$(grep -h 'delete markers' "$TMP"/node?.log | tail -5)"
  fi
  # The cluster works as before, the sweeps going on.
  run_load --mode presence --rounds 10
fi

for i in 0 1 2; do
  if grep -q -E 'CRITICAL|WARNING' "$TMP/node$((i + 1)).log"; then
    not_ok "node $((i + 1)) logged no warning" \
      "$(grep -E 'CRITICAL|WARNING' "$TMP/node$((i + 1)).log" | head -5)"
  else
    ok "node $((i + 1)) logged no warning"
  fi
done
echo "# $((SECONDS - started)) s in all"
echo "1..$TAP_N"
[[ $TAP_FAILED -eq 0 ]]
