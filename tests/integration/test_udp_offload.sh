#!/usr/bin/env bash
# UDP segmentation offload on tunneld's data path (docs/tunneld.md, "UDP segmentation
# offload"): a bulk TCP transfer a -> b leaves a as GSO trains (UDP_SEGMENT) and reaches b as GRO
# trains (UDP_GRO), many datagrams each, as both daemons' metrics count, and arrives intact;
# strace shows the control messages: UDP_SEGMENT in a's sendmmsg(), UDP_GRO in b's recvmmsg().  With the underlay MTU
# below the tunnel's datagrams (1280 < 1452 + 28), the kernel refuses every data train
# (EMSGSIZE), its datagrams go alone and fragmented, and a second transfer still arrives intact,
# with GSO still on (no warning) for the small datagrams.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "tunneld's own offload counters"
need_tunneld
command -v strace >/dev/null || { fail "strace not installed (make deps)"; exit 1; }
MPORT=9586
declare -A ST
node_add a 1
node_add b 2
for n in a b; do IFACE_EXTRA[$n]="MetricsListen = 127.0.0.1:$MPORT"$'\n'; done
node_peer a b
node_peer b a
node_start a
node_start b
check "ping v4 overlay a -> b" ping_ok a "${OV4[b]}"

# metric NODE NAME: the value of an unlabelled series on NODE's page, 0 if absent.
metric() {
	nsx "$1" curl -sS --max-time 10 "http://127.0.0.1:$MPORT/metrics" |
		awk -v s="$2" '$1 == s { v = $2 } END { print v + 0 }'
}

xfer a b "${OV4[b]}" 64
gso_m=$(metric a tunneld_udp_gso_messages_total)
gso_d=$(metric a tunneld_udp_gso_datagrams_total)
gro_m=$(metric b tunneld_udp_gro_messages_total)
gro_d=$(metric b tunneld_udp_gro_datagrams_total)
log "a sent $gso_d datagrams in $gso_m GSO trains; b received $gro_d in $gro_m GRO trains"
# 64 MiB is about 47,000 datagrams of 1452 bytes.
assert_ge "a: datagrams sent in GSO trains" 20000 "$gso_d"
assert_ge "a: at least 4 datagrams per GSO train on average ($gso_d / $gso_m)" $((4 * gso_m)) "$gso_d"
assert_ge "b: datagrams received in GRO trains" 20000 "$gro_d"
assert_ge "b: at least 4 datagrams per GRO train on average ($gro_d / $gro_m)" $((4 * gro_m)) "$gro_d"

# The system calls themselves: during a 2 MiB transfer, a's sendmmsg() passes UDP_SEGMENT and
# b's recvmmsg() gets UDP_GRO (SOL_UDP control messages of type 103 and 104; strace 6.1 prints
# them as numbers, later ones by name).
for n in a b; do
	timeout -k 2 30 strace -f -qq -v -s 0 -e trace=sendmmsg,recvmmsg -o "$T/strace.$n" \
		-p "${PID[$n]}" &
	ST[$n]=$!
	BG_PIDS+=($!)
done
sleep 1
xfer a b "${OV4[b]}" 2
for n in a b; do
	kill -INT "${ST[$n]}" 2>/dev/null || true
	wait "${ST[$n]}" 2>/dev/null || true
done
check "strace: a's sendmmsg() passes UDP_SEGMENT" \
	grep -qE '^[0-9]+ +sendmmsg.*cmsg_level=SOL_UDP, cmsg_type=(0x67|UDP_SEGMENT)' "$T/strace.a"
check "strace: b's recvmmsg() gets UDP_GRO" \
	grep -qE '^[0-9]+ +recvmmsg.*cmsg_level=SOL_UDP, cmsg_type=(0x68|UDP_GRO)' "$T/strace.b"

# Underlay MTU 1280: full-size tunnel datagrams (1452 bytes) no longer fit one packet.
for n in a b; do ip -n "${NS[$n]}" link set ul0 mtu 1280; done
m0=$(metric a tunneld_udp_gso_messages_total)
xfer a b "${OV4[b]}" 16
m1=$(metric a tunneld_udp_gso_messages_total)
log "underlay MTU 1280: a's GSO trains $m0 -> $m1"
check "a: no GSO refusal logged (EMSGSIZE is per train, not the socket's)" \
	bash -c "! grep -q 'refuses segmentation offload' '$T/a.log'"
# About 11,500 data datagrams went, none of them in a train.
assert_le "a: the data went datagram by datagram (GSO trains during the transfer)" 200 $((m1 - m0))
finish
