#!/usr/bin/env bash
# Multi-homed responders answer from the address they were reached at, as the kernel's
# WireGuard does (IP_PKTINFO / IPV6_PKTINFO, a sticky source per peer).
#
#   a  192.0.2.1, 2001:db8:0:1::1            initiator, behind a stateful firewall
#   b  192.0.2.2 + 192.0.2.22                a's Endpoint for b is the SECOND address, .22
#   c  2001:db8:0:1::3 + 2001:db8:0:1::23    a's Endpoint for c is ::23
#
# a's firewall (nftables in a's namespace) accepts UDP to its port only as part of a flow a
# opened (ct state established), as a NAT or a cloud security group in front of a would.  An
# answer from .2 or ::3 is a new flow and is dropped, so the handshake completes only if the
# responder replies from the address a sent to.  Then the firewall goes, the sticky source
# address is deleted from the responder while the tunnel runs, and traffic must continue from
# the remaining address (the send fails with EINVAL, the source is forgotten and the datagram
# resent without it), a learning the new endpoint by roaming.  Under IMPL=wireguard-go the
# first part shows the reference behaviour.
. "$(dirname "$0")/lib.sh"
command -v nft >/dev/null || { fail "nft not installed (make deps)"; finish; }

B2=192.0.2.22
C6=2001:db8:0:1::3
C62=2001:db8:0:1::23
node_add a 1
node_add b 2
node_add c 3
node_peer a b "endpoint=$B2"
node_peer a c "endpoint=[$C62]"
node_peer b a noendpoint
node_peer c a noendpoint
ip -n "${NS[b]}" addr add "$B2/24" dev ul0
ip -n "${NS[a]}" addr add 2001:db8:0:1::1/64 dev ul0 nodad
# IPv6 source selection prefers the newest address of equal rank: add the second one first.
ip -n "${NS[c]}" addr add "$C62/64" dev ul0 nodad
ip -n "${NS[c]}" addr add "$C6/64" dev ul0 nodad

# Without the fix the responders would answer from their first address: check that the
# kernel's own source selection indeed picks it, or the test would prove nothing.
assert_match "b's kernel-chosen source towards a is ${UL[b]}" "src ${UL[b]} " \
	"$(ip -n "${NS[b]}" route get "${UL[a]}")"
assert_match "c's kernel-chosen source towards a is $C6" "src $C6 " \
	"$(ip -n "${NS[c]}" -6 route get 2001:db8:0:1::1)"

ip netns exec "${NS[a]}" nft -f - <<EOF
table inet warren_test_fw {
	chain input {
		type filter hook input priority filter; policy accept;
		ct state established,related accept
		udp dport ${PORT[a]} counter drop
	}
}
EOF

node_start a
node_start b
node_start c

check "handshake a -> b at its second address $B2 through a's stateful firewall" \
	ping_ok a "${OV4[b]}"
check "handshake a -> c at its second address $C62 through a's stateful firewall" \
	ping_ok a "${OV6[c]}"
assert_eq "a's endpoint for b" "$B2:${PORT[b]}" "$(peer_field a b 3)"
assert_eq "a's endpoint for c" "[$C62]:${PORT[c]}" "$(peer_field a c 3)"
check "b -> a inside the tunnel (b answers and sends from $B2)" ping_ok b "${OV4[a]}"
check "c -> a inside the tunnel (c answers and sends from $C62)" ping_ok c "${OV6[a]}"
drops=$(ip netns exec "${NS[a]}" nft list chain inet warren_test_fw input |
	sed -n 's/.*counter packets \([0-9]*\) .*drop.*/\1/p')
assert_eq "datagrams from an unexpected source address dropped by a's firewall" 0 "$drops"

# The sticky source disappears while the tunnel runs.  (wireguard-go keeps sending from the
# vanished address until its 15 s re-handshake, see test_roaming: this part is tunneld's.)
[ "$IMPL" = tunneld ] || finish
ip netns exec "${NS[a]}" nft delete table inet warren_test_fw
ip -n "${NS[b]}" addr del "$B2/24" dev ul0
ip -n "${NS[c]}" addr del "$C62/64" dev ul0
log "deleted $B2 from b and $C62 from c"
check "b -> a after $B2 is gone (b sends from ${UL[b]})" ping_ok b "${OV4[a]}"
check "c -> a after $C62 is gone (c sends from $C6)" ping_ok c "${OV6[a]}"
check "a learns b's remaining address" \
	wait_until 10 bash -c "[ \"\$(ip netns exec ${NS[a]} timeout 5 wg show ${IFN[a]} endpoints | grep -F '${PUB[b]}' | cut -f2)\" = '${UL[b]}:${PORT[b]}' ]"
check "a learns c's remaining address" \
	wait_until 10 bash -c "[ \"\$(ip netns exec ${NS[a]} timeout 5 wg show ${IFN[a]} endpoints | grep -F '${PUB[c]}' | cut -f2)\" = '[$C6]:${PORT[c]}' ]"
xfer a b "${OV4[b]}" 5
xfer a c "${OV6[c]}" 5

# The address can also vanish without any send failing: with net.ipv6.ip_nonlocal_bind=1 (the
# usual setting where keepalived moves an address between hosts) the kernel sends from an
# address the host no longer has, and the answers go to whoever holds it now.  The kernel's
# WireGuard checks the source before each send; tunneld forgets it when the address is
# deleted (an rtnetlink address watch), not on a send error that never comes.
ip -n "${NS[c]}" addr add "$C62/64" dev ul0 nodad
nsx a wg set "${IFN[a]}" peer "${PUB[c]}" endpoint "[$C62]:${PORT[c]}"
check "a -> c at $C62 again (c's source for a sticks to $C62)" ping_ok a "${OV6[c]}"
ip netns exec "${NS[c]}" sysctl -qw net.ipv6.ip_nonlocal_bind=1
ip -n "${NS[c]}" addr del "$C62/64" dev ul0
log "deleted $C62 from c, whose kernel lets it send from addresses it does not have"
check "c -> a after $C62 is gone under ip_nonlocal_bind (c sends from $C6)" ping_ok c "${OV6[a]}"
check "a learns c's remaining address again" \
	wait_until 10 bash -c "[ \"\$(ip netns exec ${NS[a]} timeout 5 wg show ${IFN[a]} endpoints | grep -F '${PUB[c]}' | cut -f2)\" = '[$C6]:${PORT[c]}' ]"

finish
