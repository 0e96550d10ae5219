#!/usr/bin/env bash
# TUN offloads (docs/tunneld.md, "TUN offloads"): with them on, the TUN interface has TSO on,
# the sender reads TCP super-packets from TUN and cuts them (tunneld_tun_gso_reads_total), the
# receiver writes coalesced super-packets (tunneld_tun_gro_writes_total), a UDP_SEGMENT send
# crosses as one UDP super-packet, and checksummed TCP transfers arrive intact, v4 and v6.  The
# same with both ends off (Offload = off: TSO off, counters 0), with one end on and the other
# off (both ways), and against wireguard-go.  Ignores WARREN_TEST_OFFLOAD: each node says.
# run-all: alone (its UDP bursts through a sender without offloads lost everything beside a clean
# clone's package build; bulk transfers on both cores)
# run-all: no-sanitizer (CI time: alone, its ASan copy added 21 s to the run; the GSO/GRO paths
# run under ASan in test_gso, test_gro, test_udp_offload and every transfer test)
. "$(dirname "$0")/lib.sh"

PROBE=$ROOT/tests/integration/offload_probe.py
MPORT=9590

# scrape NODE SERIES: one series' value from NODE's metrics page, or "none".
metric() {
	nsx "$1" curl -sS --max-time 10 "http://127.0.0.1:$MPORT/metrics" |
		awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }'
}

node_add a 1
node_add b 2
node_peer a b
node_peer b a
ROUND=0

# setup MODE-A MODE-B [IMPL-B]: (re)starts a and b, each with Offload = MODE (auto/off), b
# running IMPL-B (default tunneld); each round's logs start empty.
setup() {
	local n
	ROUND=$((ROUND + 1))
	NODE_IMPL[b]=${3:-tunneld}
	IFACE_EXTRA[a]="Offload = $1"$'\n'"MetricsListen = 127.0.0.1:$MPORT"$'\n'
	IFACE_EXTRA[b]=
	[ "${NODE_IMPL[b]}" = wireguard-go ] ||
		IFACE_EXTRA[b]="Offload = $2"$'\n'"MetricsListen = 127.0.0.1:$MPORT"$'\n'
	for n in a b; do
		[ -e "$T/$n.log" ] && mv "$T/$n.log" "$T/$n.round$((ROUND - 1)).txt"
		node_start "$n"
	done
	check "round $ROUND: ping a -> b" ping_ok a "${OV4[b]}"
}

teardown() {
	node_stop a || true
	node_stop b || true
}

# expect_offload NODE on|off: the start-up line, the interface's TSO, and then after traffic
# the counters (on: > 0; off: 0).
expect_offload_start() {
	local n=$1 want=$2 tso
	if [ "$want" = on ]; then
		assert_match "$n: logs its offloads once" "offloads: tso4 tso6 uso" "$(cat "$T/$n.log")"
	else
		assert_match "$n: logs offloads off with the reason" \
			"offloads: off \(turned off" "$(cat "$T/$n.log")"
	fi
	assert_eq "$n: offload line logged once" 1 "$(grep -c 'offloads:' "$T/$n.log")"
	tso=$(nsx "$n" python3 "$PROBE" tso "${IFN[$n]}" 2>&1)
	assert_eq "$n: TSO on ${IFN[$n]} (ETHTOOL_GTSO)" "$want" "$tso"
}

expect_counters() {
	local n=$1 want=$2 series v
	# Offload = off / --no-offload turns the sockets' UDP GSO/GRO off as well.
	for series in tunneld_tun_gso_reads_total tunneld_tun_gro_writes_total \
	    tunneld_udp_gso_messages_total tunneld_udp_gro_messages_total; do
		v=$(metric "$n" "$series")
		if [ "$want" = on ]; then
			assert_ge "$n: $series after TCP both ways" 1 "$v"
		else
			assert_eq "$n: $series with offloads off" 0 "$v"
		fi
	done
	assert_eq "$n: no virtio-net header dropped" 0 \
		"$(metric "$n" 'tunneld_packets_dropped_total{reason="bad_vnet_header"}')"
}

# udp_gso FROM TO ADDR: 4 x 20 datagrams of 1000 bytes, each 20 sent in one UDP_SEGMENT call,
# all arrive intact, none held back: each is received within 3 s of its sendto (the receiver
# waits for the first as long as a sender on a loaded machine may take to start).
UDP_N=0
udp_gso() {
	local from=$1 to=$2 addr=$3 port=6100 out rpid f
	# A file per call: waiting for "ready" must never read an earlier call's.
	UDP_N=$((UDP_N + 1)); f=$T/udp$UDP_N.out
	ip netns exec "${NS[$to]}" timeout -k 2 90 python3 "$PROBE" udp-recv "$addr" $port 80 1000 \
		>"$f" 2>&1 &
	rpid=$!; BG_PIDS+=($rpid)
	wait_until 30 bash -c "grep -q ready '$f'" || fail "UDP receiver on $to not ready within 30 s"
	for first in 0 20 40 60; do
		nsx "$from" python3 "$PROBE" udp-send "$addr" $port $first 20 1000
	done
	wait "$rpid" || true
	read -r out late < <(tail -n 1 "$f")
	assert_eq "UDP_SEGMENT $from -> $to ($addr): 80 datagrams of 1000 bytes intact" 80 "$out"
	assert_le "UDP_SEGMENT $from -> $to ($addr): the longest any took, sendto to recv (ms)" \
		3000 "${late:-none}"
}

# ---- both on
setup auto auto
expect_offload_start a on
expect_offload_start b on
xfer a b "${OV4[b]}" 16
xfer b a "${OV6[a]}" 16
expect_counters a on
expect_counters b on
udp_gso a b "${OV4[b]}"
udp_gso b a "${OV6[a]}"
v=$(metric b tunneld_tun_gso_segments_total)
assert_ge "b: super-packets were cut into more packets than read" \
	"$(( $(metric b tunneld_tun_gso_reads_total) + 1 ))" "$v"
teardown

# ---- both off
setup off off
expect_offload_start a off
expect_offload_start b off
xfer a b "${OV4[b]}" 8
xfer b a "${OV6[a]}" 8
expect_counters a off
expect_counters b off
teardown

# ---- one end on, the other off: each direction crosses both paths
setup auto off
expect_offload_start a on
expect_offload_start b off
xfer a b "${OV4[b]}" 8
xfer b a "${OV6[a]}" 8
assert_ge "a (on): read super-packets" 1 "$(metric a tunneld_tun_gso_reads_total)"
assert_ge "a (on): wrote coalesced packets" 1 "$(metric a tunneld_tun_gro_writes_total)"
udp_gso a b "${OV4[b]}"
udp_gso b a "${OV4[a]}"
teardown

# ---- against wireguard-go (no offloads of its own in 0.0.20220316)
setup auto - wireguard-go
expect_offload_start a on
xfer a b "${OV4[b]}" 8
xfer b a "${OV4[a]}" 8
assert_ge "a: read super-packets" 1 "$(metric a tunneld_tun_gso_reads_total)"
teardown

finish
