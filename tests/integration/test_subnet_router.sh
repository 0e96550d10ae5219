#!/usr/bin/env bash
# docs/tunneld.md "Routing a subnet through a node": gateway a is enrolled with a subnet (its
# LAN, where host h lives behind a veth); node b pings h through the tunnel.  The documented
# block is run as written, line by line (gw$ on a, lan$ on h; the doc's subnet 10.20.0.0/16 and
# gateway 10.20.0.1 become the test's 100.65.0.0/24 and 100.65.0.1): no answer before it, none
# with only the forwarding line, an answer with both; and h sees b's own overlay address.
. "$(dirname "$0")/lib.sh"
. "$ROOT/tests/integration/lib_readme.sh"

need_keys
BLOCK=$(doc_block docs/tunneld.md subnet | sed 's/ *#.*//; s#10\.20\.0\.1#100.65.0.1#g; s#10\.20\.0\.0/16#100.65.0.0/24#g')
roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_enroll a --subnet 100.65.0.0/24
rnode_enroll b
roster_publish
H=${RUN}h
ns_add "$H"
ip -n "${NS[a]}" link add lan0 type veth peer name lan0 netns "$H"
ip -n "${NS[a]}" addr add 100.65.0.1/24 dev lan0
ip -n "$H" addr add 100.65.0.10/24 dev lan0
ip -n "${NS[a]}" link set lan0 up
ip -n "$H" link set lan0 up
# A fresh namespace forwards nothing: the state the documentation starts from.
ip netns exec "${NS[a]}" sysctl -qw net.ipv4.ip_forward=0
for n in a b; do rnode_provision "$n"; rnode_start "$n"; done
check "ping b -> a over the overlay" ping_ok b "${OV4[a]}"

listening_h() { ip netns exec "$H" ss -Htln 'sport = :7000' | grep -q .; }
# run ROLE NS: the block's ROLE$ lines in namespace NS.
run() {
	local line rc=0
	while IFS= read -r line; do
		ip netns exec "$2" timeout 10 sh -c "$line" >>"$T/block.out" 2>&1 || rc=$?
		assert_eq "$1\$ $line (exit status)" 0 "$rc"
	done < <(printf '%s\n' "$BLOCK" | role_lines "$1")
}
assert_eq "the block has a gw\$ and a lan\$ line" "1 1" \
	"$(printf '%s\n' "$BLOCK" | role_lines gw | wc -l) $(printf '%s\n' "$BLOCK" | role_lines lan | wc -l)"
assert_eq "b -> h (100.65.0.10) before the block: no answer" 0 "$(ping_replies b 100.65.0.10 3)"
run gw "${NS[a]}"
assert_eq "b -> h with forwarding on gw only (no return route): no answer" 0 "$(ping_replies b 100.65.0.10 3)"
run lan "$H"
check "b -> h with both lines: answered" wait_until 10 ping_ok b 100.65.0.10
# h sees the node's own overlay address (no translation on the way): one TCP connection.
timeout 15 ip netns exec "$H" python3 -c '
import socket
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("100.65.0.10", 7000)); s.listen(1); s.settimeout(10)
c, a = s.accept(); print(a[0])' >"$T/peer.out" 2>&1 &
tpid=$!
BG_PIDS+=("$tpid")
wait_until 5 listening_h || true
timeout 10 ip netns exec "${NS[b]}" bash -c 'exec 3<>/dev/tcp/100.65.0.10/7000' || true
wait "$tpid" || true
assert_eq "h sees b's overlay address as the source" "${OV4[b]}" "$(cat "$T/peer.out")"

finish
