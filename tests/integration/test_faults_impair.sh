#!/usr/bin/env bash
# A 100 MiB TCP transfer through the tunnel arrives intact (sha256 at both ends) under each of
# 5% loss, 25% reordering, 5% duplication, and 100 ms +- 20 ms delay.  This kernel has no tc
# netem, so the underlay between a and b runs through tests/support/udp_impair, a seeded relay
# in a namespace of its own (r) that does what netem would do on both links (see its header);
# a and b reach each other only through it (nftables drops their direct UDP), and its counters
# prove each impairment happened.  The endpoints' TCP buffers are raised so that 100 MiB over a
# 200 ms round trip fits the time budget; nothing in tunneld is tuned.
# run-all: alone (it loads the CPU on purpose: no other test runs beside it)
# run-all: no-sanitizer (CI time: alone, its ASan copy took 24 s of the budget; the same
# receive paths run under ASan in test_faults_underlay and test_tunnel)
. "$(dirname "$0")/lib.sh"

IMPAIR=$BUILD/tests/udp_impair
[ -x "$IMPAIR" ] || { fail "$IMPAIR not built (make $IMPAIR)"; exit 1; }
MIB=${FAULT_MIB:-100}
node_add a 1
node_add b 2
node_peer a b
node_peer b a

# The relay's namespace on the switch, 192.0.2.100; a's traffic for b goes to :40002, b's for a
# to :40001.
R=${RUN}r
ns_add "$R"
ip -n "$R" link add ul0 type veth peer name pr netns "$SW"
ip -n "$SW" link set dev pr master br0 up
ip -n "$R" addr add 192.0.2.100/24 dev ul0
ip -n "$R" link set ul0 up
RELAY=192.0.2.100

for n in a b; do
	ip netns exec "${NS[$n]}" sysctl -qw net.ipv4.tcp_rmem="4096 131072 33554432" \
		net.ipv4.tcp_wmem="4096 131072 33554432"
done
node_start a
node_start b
ifa=${IFN[a]} ifb=${IFN[b]}
# Direct UDP between the nodes is dropped both ways: only the relay's path exists.
for n in a b; do
	other=$([ "$n" = a ] && echo b || echo a)
	ip netns exec "${NS[$n]}" nft -f - <<NFT
table inet nodirect {
	chain out { type filter hook output priority 0; ip daddr ${UL[$other]} udp dport ${PORT[$other]} drop; }
	chain in { type filter hook input priority 0; ip saddr ${UL[$other]} udp sport ${PORT[$other]} drop; }
}
NFT
done
nsx a wg set "$ifa" peer "${PUB[b]}" endpoint "$RELAY:40002"
nsx b wg set "$ifb" peer "${PUB[a]}" endpoint "$RELAY:40001"

RELAY_PID=
# relay_start ARGS...: the relay with these impairments, for at most 150 s.
relay_start() {
	ip netns exec "$R" "$IMPAIR" -A "$RELAY:40001" -B "$RELAY:40002" \
		-a "${UL[a]}:${PORT[a]}" -b "${UL[b]}:${PORT[b]}" -t 150 "$@" 2>"$T/relay.out" &
	RELAY_PID=$!; BG_PIDS+=("$RELAY_PID")
	sleep 0.2
}
# relay_stop: stops the relay and waits for it (not in a subshell: wait needs its parent);
# RELAY_LINE gets its counters line.
relay_stop() {
	kill -TERM "$RELAY_PID" 2>/dev/null || true
	wait "$RELAY_PID" 2>/dev/null || true
	RELAY_PID=
	RELAY_LINE=$(cat "$T/relay.out")
}
# counter NAME LINE: a counter from the relay's line ("lost 123," -> 123).
counter() { printf '%s' "$2" | sed -n "s/.*[ ,]$1 \([0-9]*\).*/\1/p"; }

relay_start -s 1
check "through the relay (no impairment): ping a -> b" ping_ok a "${OV4[b]}"
relay_stop
assert_ge "the relay carried the pings" 6 "$(counter out "$RELAY_LINE")"

# min_rtt_ms: the smallest round trip of 5 pings a -> b through the tunnel (ms, integer).
min_rtt_ms() {
	ip netns exec "${NS[a]}" timeout -k 2 20 ping -n -q -c 5 -i 0.2 -W 2 "${OV4[b]}" 2>/dev/null |
		sed -n 's|^rtt min/avg/max/mdev = \([0-9]*\).*|\1|p' | grep . || echo 0
}

# scenario NAME COUNTER RELAY_ARGS...: one transfer under the impairment; the relay's COUNTER
# shows it happened.  With RTT_MIN set, the round trip through it must be at least that (ms).
scenario() {
	local name=$1 counter_name=$2; shift 2
	local t0 rtt
	relay_start "$@"
	t0=$(now_ms)
	xfer_start a b "${OV4[b]}" "$MIB"
	xfer_finish
	[ -z "${RTT_MIN:-}" ] || rtt=$(min_rtt_ms)
	relay_stop
	[ -z "${RTT_MIN:-}" ] || assert_ge "$name: round trip through the relay (ms)" "$RTT_MIN" "$rtt"
	log "$name: $(( $(now_ms) - t0 )) ms; $RELAY_LINE"
	assert_ge "$name: the relay did impair ($counter_name)" 100 "$(counter "$counter_name" "$RELAY_LINE")"
}

scenario "5% loss" lost -s 11 -l 5
scenario "25% reordering (delay 10 ms, 25% sent at once)" early -s 12 -d 10 -r 25
scenario "5% duplication" duplicated -s 13 -u 5
# Both links are delayed, as netem on both nodes' underlay would be: a round trip of 160-240 ms.
RTT_MIN=160 scenario "100 ms +- 20 ms delay" out -s 14 -d 100 -j 20
relay_start -s 2
check "ping b -> a through a clean relay afterwards" ping_ok b "${OV4[a]}"
relay_stop
finish
