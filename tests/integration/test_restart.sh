#!/usr/bin/env bash
# Crash recovery: kill -9 a's daemon during a ping stream a -> b (10 per second), restart it with
# the same config at once.  The restarted a initiates a fresh handshake with its first packet;
# b must accept it although it still holds the old session.  Pings must flow again within 10 s;
# the gap (last reply before the kill to first reply after) is measured and printed.
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start a
node_start b
check "ping a -> b before the crash" ping_ok a "${OV4[b]}"

ip netns exec "${NS[a]}" timeout -k 2 40 ping -D -n -i 0.1 -W 1 "${OV4[b]}" >"$T/ping.txt" 2>&1 &
PING=$!; BG_PIDS+=("$PING")
sleep 2
old=${PID[a]}
node_kill9 a
kill_ts=$(date +%s.%N)
log "kill -9 $old at $kill_ts"
node_start a
log "restarted a as pid ${PID[a]}"

replies_after() {
	awk -v t="$kill_ts" -F'[][]' '/bytes from/ && $2 + 0 > t + 0 { found = 1 } END { exit !found }' "$T/ping.txt"
}
check "pings answered again after the restart (within 15 s)" wait_until 15 replies_after
sleep 1
kill "$PING" 2>/dev/null || true
wait "$PING" 2>/dev/null || true

# Largest gap between consecutive replies, in ms.
gap=$(awk -F'[][]' '/bytes from/ { if (prev) { g = ($2 - prev) * 1000; if (g > max) max = g } prev = $2 }
	END { printf "%d", max }' "$T/ping.txt")
n=$(grep -c 'bytes from' "$T/ping.txt" || true)
log "replies: $n, largest gap between replies: ${gap} ms"
assert_le "ping gap across kill -9 + restart (ms)" 10000 "$gap"
assert_ge "replies seen in the stream" 20 "$n"
check "handshake with b re-established" handshake_done a b

finish
