#!/usr/bin/env bash
# test-dissector.sh: checks tools/wireshark/sockchat.lua against a capture
# of frames made by the reference encoder.  Speaks TAP.
#
# Usage: test-dissector.sh GEN_FRAMES SOCKCHAT_LUA
#
# GEN_FRAMES (tests/wireshark/gen-frames.c) writes a text2pcap hex dump
# of one session that uses every message type; text2pcap turns it into a
# capture between 10.0.0.1:40000 (client) and 10.0.0.2:5330 (server), and
# tshark decodes it once with the dissector.  Each check below names a
# frame number of that capture (gen-frames.c numbers its packets the same
# way) and the values its fields must have.  Several frames in one packet
# show as values joined with '|', in wire order.
set -u

GEN_FRAMES="${1:?usage: $0 GEN_FRAMES SOCKCHAT_LUA}"
SOCKCHAT_LUA="${2:?usage: $0 GEN_FRAMES SOCKCHAT_LUA}"

for tool in tshark text2pcap; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "1..0 # SKIP $tool not installed (apt-get install tshark)"
    exit 0
  fi
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# A private home: Wireshark must not load a sockchat.lua the user installed
# as a personal plugin (the protocol would be registered twice) nor their
# preferences.  Lua itself runs as root too: Debian's init.lua has
# enable_lua = true, and -X lua_script: is honoured for root; tshark only
# prints a warning, which is filtered out below.
export HOME="$TMP/home"
export XDG_CONFIG_HOME="$HOME/.config"
mkdir -p "$HOME"

source "$(dirname "${BASH_SOURCE[0]}")/../support/tap.sh"

FIELDS=(
  frame.number _ws.col.Info _ws.expert.message
  sockchat.magic sockchat.version sockchat.type sockchat.flags
  sockchat.flags.no_presence sockchat.flags.receipt_batches
  sockchat.flags.protocol_1_1 sockchat.flags.quiet sockchat.flags.no_receipt
  sockchat.flags.no_ack
  sockchat.reserved sockchat.request_id sockchat.payload_length
  sockchat.status sockchat.reason sockchat.protocol_version
  sockchat.program sockchat.nickname sockchat.password sockchat.client_id
  sockchat.recipient_id sockchat.after_id sockchat.message_id
  sockchat.token sockchat.text sockchat.time_ms sockchat.time
  sockchat.iso_time sockchat.timezone sockchat.host_name
  sockchat.server_name sockchat.max_payload sockchat.max_clients
  sockchat.heartbeat_s sockchat.count sockchat.more sockchat.entries
  sockchat.recipients sockchat.broadcast sockchat.port
  sockchat.connected_since_ms sockchat.address sockchat.trailing
  sockchat.request_in sockchat.message_ids.count
)

"$GEN_FRAMES" >"$TMP/session.txt" || bail_out "gen-frames failed"
text2pcap -q -D -T 40000,5330 -4 10.0.0.1,10.0.0.2 \
  "$TMP/session.txt" "$TMP/session.pcapng" 2>"$TMP/text2pcap.err" ||
  bail_out "text2pcap failed: $(cat "$TMP/text2pcap.err")"

# G_DEBUG from the meson test environment is for our code, not for
# Wireshark: a GLib warning inside tshark must not abort it.
run_tshark () {
  env -u G_DEBUG tshark -n -r "$TMP/session.pcapng" -X lua_script:"$SOCKCHAT_LUA" "$@"
}

fargs=()
for field in "${FIELDS[@]}"; do
  fargs+=(-e "$field")
done
run_tshark -T fields -E header=y -E separator=/t -E occurrence=a \
  -E aggregator='|' "${fargs[@]}" >"$TMP/fields.tsv" 2>"$TMP/tshark.err" ||
  bail_out "tshark failed: $(grep -v 'Running as user' "$TMP/tshark.err")"
run_tshark -V >"$TMP/verbose.txt" 2>>"$TMP/tshark.err" ||
  bail_out "tshark -V failed"

# VALUES["frame|field"] is the field's value in that frame.  Tabs become
# \037 first: a whitespace IFS would merge the empty columns.
declare -A VALUES
{
  IFS=$'\037' read -r -a header
  while IFS=$'\037' read -r -a row; do
    for i in "${!header[@]}"; do
      VALUES["${row[0]}|${header[$i]}"]="${row[$i]:-}"
    done
  done
} < <(tr '\t' '\037' <"$TMP/fields.tsv")

# check DESCRIPTION FRAME FIELD=VALUE...: one TAP line; every field of the
# frame must have exactly that value ('' for absent).
check () {
  local description="$1" frame="$2"
  shift 2
  local pair field want got
  local -a errors=()
  for pair in "$@"; do
    field="${pair%%=*}"
    want="${pair#*=}"
    got="${VALUES["$frame|$field"]-<no such frame or field>}"
    if [[ "$got" != "$want" ]]; then
      errors+=("frame $frame $field: got '$got', want '$want'")
    fi
  done
  if [[ ${#errors[@]} -eq 0 ]]; then
    ok "$description"
  else
    not_ok "$description" "${errors[@]}"
  fi
}

stray="$(grep -v -e 'Running as user "root"' "$TMP/tshark.err" || true)"
if [[ -z "$stray" ]] && ! grep -q 'Lua Error' "$TMP/verbose.txt"; then
  ok "the dissector loads and runs without Lua errors"
else
  not_ok "the dissector loads and runs without Lua errors" \
    "$stray" "$(grep 'Lua Error' "$TMP/verbose.txt" | head -5)"
fi

check "GREETING: header and every field" 1 \
  sockchat.magic=0x5343 sockchat.version=1 sockchat.type=0x40 \
  sockchat.flags=0x0000 sockchat.flags.no_presence= \
  sockchat.flags.receipt_batches= sockchat.flags.protocol_1_1=0 \
  sockchat.flags.quiet= sockchat.flags.no_receipt= sockchat.flags.no_ack= \
  sockchat.reserved=0x0000 sockchat.request_id=0 \
  sockchat.payload_length=27 sockchat.client_id=1 \
  sockchat.protocol_version=1 sockchat.max_payload=65536 \
  sockchat.max_clients=64 sockchat.heartbeat_s=60 \
  sockchat.server_name=chathost \
  '_ws.col.Info=GREETING client 1 "chathost"'
check "HELLO without password, flag NO_PRESENCE" 2 \
  sockchat.type=0x01 sockchat.request_id=1 sockchat.payload_length=22 \
  sockchat.flags=0x0001 sockchat.flags.no_presence=1 \
  sockchat.flags.receipt_batches=0 sockchat.flags.protocol_1_1= \
  sockchat.flags.quiet= sockchat.flags.no_receipt= sockchat.flags.no_ack= \
  sockchat.protocol_version=1 sockchat.program=sockchat-cli \
  sockchat.nickname=alice sockchat.password= \
  '_ws.col.Info=HELLO #1 "alice" (sockchat-cli) [NO_PRESENCE]'
check "HELLO_REPLY OK: client_id, nickname, link to the request" 3 \
  sockchat.type=0x81 sockchat.request_id=1 sockchat.status=0 \
  sockchat.reason= sockchat.client_id=1 sockchat.nickname=alice \
  sockchat.request_in=2
check "HELLO with empty nickname and the optional trailing password" 4 \
  sockchat.type=0x01 sockchat.request_id=9 sockchat.program=sockchat \
  sockchat.nickname= sockchat.password=s3cret
check "HELLO flag RECEIPT_BATCHES" 4 \
  sockchat.flags=0x0002 sockchat.flags.no_presence=0 \
  sockchat.flags.receipt_batches=1 \
  '_ws.col.Info=HELLO #9 "" (sockchat) with password [RECEIPT_BATCHES]'
check "failed HELLO_REPLY stops after status and reason" 5 \
  sockchat.type=0x81 sockchat.status=2 \
  'sockchat.reason=server speaks version 1' sockchat.client_id= \
  sockchat.nickname= sockchat.request_in=4 \
  '_ws.col.Info=HELLO_REPLY #9 VERSION_MISMATCH "server speaks version 1"'
check "GET_TIME and GET_NAME: two frames in one segment" 6 \
  'sockchat.type=0x02|0x03' 'sockchat.request_id=2|3' \
  'sockchat.payload_length=0|0' '_ws.col.Info=GET_TIME #2, GET_NAME #3'
check "GET_TIME_REPLY: time_ms, absolute time, iso_time, timezone" 7 \
  'sockchat.type=0x82|0x83' 'sockchat.status=0|0' \
  sockchat.time_ms=1795764379123 \
  'sockchat.time=Nov 27, 2026 07:26:19.123000000 UTC' \
  sockchat.iso_time=2026-11-27T15:26:19.123+08:00 sockchat.timezone=CST
check "GET_NAME_REPLY in the same segment: host_name" 7 \
  sockchat.host_name=chathost 'sockchat.request_in=6|6'
check "LIST_CLIENTS: after_id" 8 \
  sockchat.type=0x04 sockchat.request_id=4 sockchat.after_id=0 \
  '_ws.col.Info=LIST_CLIENTS #4 after 0'
check "first part of a split frame is left to reassembly" 9 \
  sockchat.type=
check "LIST_CLIENTS_REPLY reassembled from two segments: count, more" 10 \
  sockchat.type=0x84 sockchat.payload_length=81 sockchat.status=0 \
  sockchat.count=2 sockchat.more=0 sockchat.entries=2 \
  '_ws.col.Info=LIST_CLIENTS_REPLY #4 OK 2 of 2'
check "LIST_CLIENTS_REPLY: both client entries" 10 \
  'sockchat.client_id=1|2' 'sockchat.port=50312|50418' \
  'sockchat.connected_since_ms=1795764000000|1795764090500' \
  'sockchat.nickname=alice|bob' 'sockchat.address=192.168.1.10|2001:db8::2a'
check "SEND_MESSAGE: recipient_id, text, Info" 11 \
  sockchat.type=0x05 sockchat.request_id=5 sockchat.recipient_id=2 \
  'sockchat.text=Hello, Bob!' sockchat.flags=0x0000 \
  sockchat.flags.quiet=0 sockchat.flags.no_receipt=0 \
  sockchat.flags.no_presence= sockchat.flags.no_ack= \
  '_ws.col.Info=SEND_MESSAGE #5 to 2 "Hello, Bob!"'
check "SEND_MESSAGE_REPLY: message_id" 12 \
  sockchat.type=0x85 sockchat.status=0 sockchat.message_id=1
check "frame split inside its header is left to reassembly" 13 \
  sockchat.type=
check "MESSAGE reassembled: id, time, broadcast, text" 14 \
  sockchat.type=0x41 sockchat.request_id=0 sockchat.message_id=3 \
  sockchat.time_ms=1795764380500 \
  'sockchat.time=Nov 27, 2026 07:26:20.500000000 UTC' \
  sockchat.broadcast=0 'sockchat.text=Hi Alice' sockchat.flags=0x0000 \
  sockchat.flags.no_ack=0 sockchat.flags.quiet= \
  '_ws.col.Info=MESSAGE 3 from 2 "Hi Alice"'
check "MESSAGE: the sender's client-info" 14 \
  sockchat.client_id=2 sockchat.port=50418 \
  sockchat.connected_since_ms=1795764090500 sockchat.nickname=bob \
  sockchat.address=2001:db8::2a
check "MESSAGE_ACK: message_id" 15 \
  sockchat.type=0x10 sockchat.request_id=0 sockchat.message_id=3
check "BROADCAST: text" 16 \
  sockchat.type=0x06 sockchat.request_id=6 'sockchat.text=Hi all' \
  sockchat.flags=0x0000 sockchat.flags.no_receipt=0 sockchat.flags.quiet= \
  '_ws.col.Info=BROADCAST #6 "Hi all"'
check "BROADCAST_REPLY: message_id, recipients" 17 \
  sockchat.type=0x86 sockchat.status=0 sockchat.message_id=2 \
  sockchat.recipients=1
check "SET_NICKNAME: UTF-8 nickname" 18 \
  sockchat.type=0x07 sockchat.request_id=7 'sockchat.nickname=Zoë'
check "SET_NICKNAME_REPLY: nickname" 19 \
  sockchat.type=0x87 sockchat.status=0 'sockchat.nickname=Zoë'
check "PING: token" 20 \
  sockchat.type=0x08 sockchat.request_id=8 sockchat.token=1
check "PING_REPLY: token" 21 \
  sockchat.type=0x88 sockchat.status=0 sockchat.token=1
check "three frames and part of a fourth in one segment" 22 \
  'sockchat.type=0x42|0x43|0x45' \
  '_ws.col.Info=DELIVERY_RECEIPT message 1 to 2 OK, CLIENT_JOINED 3 "carol", CLIENT_RENAMED 2 "Bobby"'
check "DELIVERY_RECEIPT, CLIENT_JOINED, CLIENT_RENAMED fields" 22 \
  sockchat.message_id=1 sockchat.recipient_id=2 sockchat.status=0 \
  'sockchat.client_id=3|2' sockchat.port=50500 \
  sockchat.address=10.1.2.3 'sockchat.nickname=carol|Bobby'
check "rest of SERVER_PING, then CLIENT_LEFT" 23 \
  'sockchat.type=0x48|0x44' sockchat.token=7 sockchat.client_id=3 \
  sockchat.status=12 'sockchat.reason=timed out'
check "PONG: token" 24 \
  sockchat.type=0x11 sockchat.request_id=0 sockchat.token=7
check "SERVER_SHUTDOWN: reason" 25 \
  sockchat.type=0x46 'sockchat.reason=server shutting down'
check "PROTOCOL_ERROR: status, reason" 26 \
  sockchat.type=0x47 sockchat.status=11 'sockchat.reason=bad magic'
check "DELIVERY_RECEIPTS: the example of PROTOCOL.md 4.9b" 27 \
  sockchat.type=0x49 sockchat.request_id=0 sockchat.payload_length=42 \
  sockchat.flags=0x0000 sockchat.flags.receipt_batches= \
  sockchat.recipient_id=2 sockchat.status=7 \
  'sockchat.reason=recipient left' sockchat.message_ids.count=2 \
  'sockchat.message_id=4294967301|4294967302' '_ws.expert.message=' \
  '_ws.col.Info=DELIVERY_RECEIPTS messages 4294967301, 4294967302 to 2 RECIPIENT_LEFT "recipient left"'
check "BROADCAST_REPLY refused with RATE_LIMITED" 29 \
  sockchat.type=0x86 sockchat.request_id=10 sockchat.status=16 \
  'sockchat.reason=try again in 1 s' sockchat.message_id= \
  sockchat.recipients= sockchat.request_in=28 \
  '_ws.expert.message=BROADCAST_REPLY: RATE_LIMITED' \
  '_ws.col.Info=BROADCAST_REPLY #10 RATE_LIMITED "try again in 1 s"'
check "DELIVERY_RECEIPTS with SERVER_BUSY and five ids, then an empty one" 30 \
  'sockchat.type=0x49|0x49' 'sockchat.recipient_id=3|4' \
  'sockchat.status=15|0' 'sockchat.reason=server busy|' \
  'sockchat.message_ids.count=5|0' \
  'sockchat.message_id=5|6|9223372036854775815|9|10' \
  '_ws.col.Info=DELIVERY_RECEIPTS messages 5, 6, 9223372036854775815, 9, … (5 in all) to 3 SERVER_BUSY "server busy", DELIVERY_RECEIPTS no messages to 4 OK'
check "GREETING with flag PROTOCOL_1_1" 31 \
  sockchat.type=0x40 sockchat.flags=0x0001 sockchat.flags.protocol_1_1=1 \
  sockchat.flags.no_presence= sockchat.flags.quiet= sockchat.flags.no_ack= \
  sockchat.client_id=1 sockchat.protocol_version=1 \
  sockchat.server_name=chathost '_ws.expert.message=' \
  '_ws.col.Info=GREETING client 1 "chathost" [PROTOCOL_1_1]'
check "SEND_MESSAGE with flag QUIET" 32 \
  sockchat.type=0x05 sockchat.request_id=11 sockchat.flags=0x0001 \
  sockchat.flags.quiet=1 sockchat.flags.no_receipt=0 \
  sockchat.flags.no_presence= sockchat.flags.protocol_1_1= \
  sockchat.flags.no_ack= sockchat.recipient_id=2 \
  'sockchat.text=quiet hello' \
  '_ws.col.Info=SEND_MESSAGE #11 to 2 "quiet hello" [QUIET]'
check "SEND_MESSAGE with flags QUIET and NO_RECEIPT" 33 \
  sockchat.type=0x05 sockchat.request_id=12 sockchat.flags=0x0003 \
  sockchat.flags.quiet=1 sockchat.flags.no_receipt=1 \
  sockchat.flags.receipt_batches= 'sockchat.text=fire and forget' \
  '_ws.col.Info=SEND_MESSAGE #12 to 2 "fire and forget" [QUIET, NO_RECEIPT]'
check "MESSAGE with flag NO_ACK, id of client 2's request 4" 34 \
  sockchat.type=0x41 sockchat.request_id=0 sockchat.flags=0x0001 \
  sockchat.flags.no_ack=1 sockchat.flags.quiet= \
  sockchat.flags.protocol_1_1= sockchat.flags.no_presence= \
  sockchat.message_id=8589934596 sockchat.client_id=2 \
  'sockchat.text=no need to ack' \
  '_ws.col.Info=MESSAGE 8589934596 from 2 "no need to ack" [NO_ACK]'
check "MESSAGE_ACKS: count and five ids" 35 \
  sockchat.type=0x12 sockchat.request_id=0 sockchat.payload_length=44 \
  sockchat.flags=0x0000 sockchat.flags.quiet= sockchat.flags.no_ack= \
  sockchat.flags.no_presence= sockchat.flags.protocol_1_1= \
  sockchat.message_ids.count=5 \
  'sockchat.message_id=8589934597|8589934598|8589934599|12884901889|12884901890' \
  sockchat.status= sockchat.recipient_id= '_ws.expert.message=' \
  '_ws.col.Info=MESSAGE_ACKS messages 8589934597, 8589934598, 8589934599, 12884901889, … (5 in all)'
check "BROADCAST with flag NO_RECEIPT; QUIET is not a BROADCAST flag" 36 \
  sockchat.type=0x06 sockchat.request_id=13 sockchat.flags=0x0002 \
  sockchat.flags.no_receipt=1 sockchat.flags.quiet= \
  sockchat.flags.receipt_batches= 'sockchat.text=Hi, no receipts' \
  '_ws.col.Info=BROADCAST #13 "Hi, no receipts" [NO_RECEIPT]'
check "SET_NICKNAME with a password (1.2)" 37 \
  sockchat.type=0x07 sockchat.request_id=14 sockchat.nickname=alice \
  sockchat.password=wonderland
check "SET_NICKNAME_REPLY refused with NICKNAME_IN_USE (1.2)" 38 \
  sockchat.type=0x87 sockchat.request_id=14 sockchat.status=17 \
  'sockchat.reason=nickname in use' sockchat.request_in=37
check "string count past the payload: expert info, not a Lua error" 39 \
  sockchat.type=0x05 sockchat.recipient_id=2 sockchat.text= \
  '_ws.expert.message=Malformed: text (string of 100 bytes) needs 102 bytes, 4 left'
check "unknown type: expert info" 40 \
  sockchat.type=0x09 '_ws.expert.message=Unknown message type 0x09'
check "trailing bytes after the known fields are shown and ignored" 41 \
  sockchat.type=0x08 sockchat.token=5 sockchat.trailing=aabbcc \
  '_ws.expert.message=3 bytes after the last known field (ignored, PROTOCOL.md section 6)'
check "id count past the payload: refused before any id is read" 42 \
  sockchat.type=0x49 sockchat.recipient_id=2 sockchat.status=7 \
  sockchat.message_ids.count=1000 sockchat.message_id= \
  '_ws.expert.message=Malformed: message_ids list of 1000 ids needs 8000 bytes, 16 left' \
  '_ws.col.Info=DELIVERY_RECEIPTS to 2 RECIPIENT_LEFT [Malformed]'
check "MESSAGE_ACKS id count past the payload: refused before any id" 43 \
  sockchat.type=0x12 sockchat.request_id=0 sockchat.payload_length=20 \
  sockchat.message_ids.count=3 sockchat.message_id= \
  '_ws.expert.message=Malformed: message_ids list of 3 ids needs 24 bytes, 16 left' \
  '_ws.col.Info=MESSAGE_ACKS [Malformed]'
check "bad magic: expert info" 44 \
  sockchat.magic=0x4745 \
  '_ws.expert.message=Bad magic: not a SockChat frame boundary'

# Every one of the 29 message types was decoded somewhere.
all_types=""
for key in "${!VALUES[@]}"; do
  [[ "$key" == *"|sockchat.type" ]] && all_types+="${VALUES[$key]}|"
done
missing=()
for t in 01 02 03 04 05 06 07 08 10 11 12 40 41 42 43 44 45 46 47 48 49 \
  81 82 83 84 85 86 87 88; do
  [[ "|$all_types" == *"|0x$t|"* ]] || missing+=("0x$t")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  ok "all 29 message types decoded"
else
  not_ok "all 29 message types decoded" "missing: ${missing[*]}"
fi

# Type names come from the value_string, in the detail view.
if grep -q 'Type: SET_NICKNAME_REPLY (0x87)' "$TMP/verbose.txt" &&
  grep -q 'Status: VERSION_MISMATCH (2)' "$TMP/verbose.txt" &&
  grep -q 'Sender: bob (id 2, 2001:db8::2a port 50418)' "$TMP/verbose.txt"; then
  ok "detail view shows type and status names and client subtrees"
else
  not_ok "detail view shows type and status names and client subtrees"
fi

# The names added with DELIVERY_RECEIPTS: the type, the two statuses, the
# HELLO flag bits and the id list subtree.
missing=()
for line in 'Type: DELIVERY_RECEIPTS (0x49)' 'Status: SERVER_BUSY (15)' \
  'Status: RATE_LIMITED (16)' 'Status: NICKNAME_IN_USE (17)' \
  '.... .... .... ...1 = NO_PRESENCE: True' \
  '.... .... .... ..1. = RECEIPT_BATCHES: True' \
  'Message IDs: 5' 'Message ID count: 5' \
  'Message ID: 9223372036854775815'; do
  grep -qF -- "$line" "$TMP/verbose.txt" || missing+=("$line")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  ok "detail view names DELIVERY_RECEIPTS, the new statuses and flags"
else
  not_ok "detail view names DELIVERY_RECEIPTS, the new statuses and flags" \
    "not found: ${missing[@]}"
fi

# The names added with protocol 1.1: the type, each type's flag bits and
# the subtree of a MESSAGE_ACKS count past its payload.
missing=()
for line in 'Type: MESSAGE_ACKS (0x12)' \
  '.... .... .... ...1 = PROTOCOL_1_1: True' \
  '.... .... .... ...1 = QUIET: True' \
  '.... .... .... ..1. = NO_RECEIPT: True' \
  '.... .... .... ...1 = NO_ACK: True' \
  '.... .... .... ...0 = NO_ACK: False' \
  'Message ID: 12884901890' 'Message IDs: 3 claimed, 16 bytes left'; do
  grep -qF -- "$line" "$TMP/verbose.txt" || missing+=("$line")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  ok "detail view names MESSAGE_ACKS and the protocol 1.1 flags"
else
  not_ok "detail view names MESSAGE_ACKS and the protocol 1.1 flags" \
    "not found: ${missing[@]}"
fi

# Filters work on the named fields.
filtered="$(run_tshark -Y 'sockchat.type == 0x05 && sockchat.text contains "Bob"' \
  -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
if [[ "$filtered" == "11 " ]]; then
  ok "display filter on sockchat fields"
else
  not_ok "display filter on sockchat fields" "got frames: '$filtered'"
fi

# A flag filter finds the frames of every type that sets the bit.
filtered="$(run_tshark -Y 'sockchat.flags.no_receipt == 1' \
  -T fields -e frame.number 2>/dev/null | tr '\n' ' ')"
if [[ "$filtered" == "33 36 " ]]; then
  ok "display filter on a flag bit"
else
  not_ok "display filter on a flag bit" "got frames: '$filtered'"
fi

# The plan comes last, which TAP allows, so adding a check needs no count.
echo "1..$TAP_N"
[[ "$TAP_FAILED" -eq 0 ]]
