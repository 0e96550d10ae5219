#!/usr/bin/env bash
# Two nodes in two datacenters: v4 and v6 pings, a 100 MiB checksummed TCP transfer, and what
# `wg show` reports about it (peer, recent handshake, counters, dump format).
# run-all: plain (make test runs it against the plain build too: a core path as shipped)
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start a
node_start b

check "ping v4 overlay a -> b (${OV4[b]})" ping_ok a "${OV4[b]}"
check "ping v6 overlay a -> b (${OV6[b]})" ping_ok a "${OV6[b]}"
check "ping v4 overlay b -> a (${OV4[a]})" ping_ok b "${OV4[a]}"
check "ping v6 overlay b -> a (${OV6[a]})" ping_ok b "${OV6[a]}"

mib=$((1024 * 1024))
tx0=$(peer_field a b 7); rx0=$(peer_field b a 6)
xfer a b "${OV4[b]}" 100
tx1=$(peer_field a b 7); rx1=$(peer_field b a 6)
assert_ge "a's transfer-tx to b grew by >= 100 MiB" $((100 * mib)) $((tx1 - tx0))
assert_ge "b's transfer-rx from a grew by >= 100 MiB" $((100 * mib)) $((rx1 - rx0))

show=$(nsx a wg show "${IFN[a]}")
assert_match "wg show ${IFN[a]} names peer b" "peer: ${PUB[b]//+/\\+}" "$show"
assert_match "wg show ${IFN[a]} shows b's endpoint" "endpoint: ${UL[b]}:${PORT[b]}" "$show"
assert_match "wg show ${IFN[a]} reports a latest handshake" "latest handshake: " "$show"
hs=$(peer_field a b 5)
age=$(( $(date +%s) - hs ))
if [ "$hs" -gt 0 ] && [ "$age" -ge 0 ] && [ "$age" -le 60 ]; then
	pass "latest handshake a<->b is ${age}s old (within a minute)"
else
	fail "latest handshake a<->b: epoch '$hs', age ${age}s, want 0..60"
fi

for n in a b; do
	if err=$(dump_valid "$n"); then
		pass "wg show ${IFN[$n]} dump: 4-field interface line, 8-field peer lines, keys/ports/counters well-formed"
	else
		fail "wg show ${IFN[$n]} dump does not parse: $err"
	fi
done

# A layer-3 tunnel gets no IPv6 link-local address (as WireGuard interfaces): nothing to solicit.
assert_eq "no link-local address on ${IFN[a]}" "" \
	"$(ip -n "${NS[a]}" -6 addr show dev "${IFN[a]}" scope link)"

finish
