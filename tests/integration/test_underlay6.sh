#!/usr/bin/env bash
# The underlay may be IPv6: two datacenters joined only by IPv6 (documentation prefix
# 2001:db8::/32), endpoints written as [v6]:port.  Pings and a checksummed transfer cross, and
# wg show reports the IPv6 endpoint, learned back by the responder from authenticated packets.
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_peer a b noendpoint
node_peer b a noendpoint
for n in a b; do
	ip -n "${NS[$n]}" addr flush dev ul0
	ip -n "${NS[$n]}" addr add "2001:db8:0:1::${NUM[$n]}/64" dev ul0 nodad
done
conf_write a
conf_write b
# Only a knows where b is; b learns a's endpoint from a's handshake.
printf 'Endpoint = [2001:db8:0:1::2]:%s\n' "${PORT[b]}" >>"$(conf_file a)"
ip netns exec "${NS[a]}" "$TUNNELD" -c "$(conf_file a)" -i "${IFN[a]}" -v >>"$T/a.log" 2>&1 &
PID[a]=$!
ip netns exec "${NS[b]}" "$TUNNELD" -c "$(conf_file b)" -i "${IFN[b]}" -v >>"$T/b.log" 2>&1 &
PID[b]=$!
check "a up" wait_until 10 node_ready a
check "b up" wait_until 10 node_ready b

check "ping v4 overlay a -> b over the IPv6 underlay" ping_ok a "${OV4[b]}"
check "ping v6 overlay b -> a" ping_ok b "${OV6[a]}"
assert_eq "a's endpoint for b" "[2001:db8:0:1::2]:${PORT[b]}" "$(peer_field a b 3)"
assert_eq "b learned a's IPv6 endpoint" "[2001:db8:0:1::1]:${PORT[a]}" "$(peer_field b a 3)"
xfer a b "${OV4[b]}" 20
xfer b a "${OV6[a]}" 20

finish
