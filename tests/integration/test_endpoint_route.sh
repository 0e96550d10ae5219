#!/usr/bin/env bash
# A peer's allowed IPs that contain the peer's own endpoint (issue 7, item 13): a config file
# (or a roster before keys refused it) routes 192.0.2.0/25 to peer b, whose endpoint
# 192.0.2.2 is inside.  tunneld must still send b's encrypted UDP over the underlay: its
# sockets carry a mark that skips the tunnel's routing table, while every other packet to
# 192.0.2.0/25 goes into the tunnel as configured.  Before, the handshake went into the tunnel
# it was meant to build and nothing flowed.
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_peer a b allowed=192.0.2.0/25
node_peer b a
node_start a
node_start b

if ping_ok a "${OV4[b]}"; then
	pass "ping v4 overlay a -> b (${OV4[b]}) with b's endpoint inside b's allowed IPs"
	xfer a b "${OV4[b]}" 5
else
	fail "ping v4 overlay a -> b (${OV4[b]}) with b's endpoint inside b's allowed IPs"
fi
check "ping v6 overlay a -> b (${OV6[b]})" ping_ok a "${OV6[b]}"
check "ping v4 overlay b -> a (${OV4[a]})" ping_ok b "${OV4[a]}"

# The configured route is in force for everything else ...
assert_match "a routes 192.0.2.2 into the tunnel (unmarked traffic)" "dev ${IFN[a]} " \
	"$(ip -n "${NS[a]}" route get 192.0.2.2)"
# ... and tunneld's own packets, marked, take the underlay.
mark=$(nsx a wg show "${IFN[a]}" fwmark)
assert_match "a's UDP sockets carry a mark ($mark)" '^0x[0-9a-f]+$' "$mark"
assert_match "marked packets to 192.0.2.2 take the underlay" "dev ul0 " \
	"$(ip -n "${NS[a]}" route get 192.0.2.2 mark "$mark" 2>&1 || true)"
assert_eq "one IPv4 policy rule for a's table" 1 \
	"$(ip -n "${NS[a]}" -4 rule show | grep -c "not from all fwmark $mark lookup" || true)"
assert_eq "one IPv6 policy rule for a's table" 1 \
	"$(ip -n "${NS[a]}" -6 rule show | grep -c "not from all fwmark $mark lookup" || true)"

# A restart after SIGKILL finds its stale rule and leaves one, not two; SIGTERM removes it.
node_kill9 a
node_start a
check "after SIGKILL + restart: ping a -> b" ping_ok a "${OV4[b]}"
assert_eq "after SIGKILL + restart: still one IPv4 policy rule" 1 \
	"$(ip -n "${NS[a]}" -4 rule show | grep -c "fwmark $mark lookup" || true)"
node_stop a
assert_eq "after SIGTERM: no policy rule left" 0 \
	"$(ip -n "${NS[a]}" rule show | grep -c "fwmark $mark lookup" || true)"

finish
