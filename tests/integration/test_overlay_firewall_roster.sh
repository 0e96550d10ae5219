#!/usr/bin/env bash
# The overlay firewall in roster mode (issue 7, item 11): the roster gives node a its overlay
# addresses, and a host on the underlay that routes the overlay via a cannot reach a service on
# them; when a newer roster moves a to other addresses, the table follows (the new ones are
# guarded, the old ones dropped from it), while peer b still reaches a through the tunnel.
. "$(dirname "$0")/lib.sh"

command -v nft >/dev/null || skip "nft (nftables) not installed"
nc -h 2>&1 | grep -q OpenBSD || skip "OpenBSD netcat (netcat-openbsd) not installed"

roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_enroll a
rnode_enroll b
roster_publish
TABLE=warren-${IFN[a]}

X=${RUN}x
ns_add "$X"
ip -n "$X" link add ul0 type veth peer name px netns "$SW"
ip -n "$SW" link set dev px master br0 up
ip -n "$X" addr add 192.0.2.99/24 dev ul0
ip -n "$X" link set ul0 up
ip -n "$X" route add 100.64.0.0/16 via "${UL[a]}"

# reaches FROM_NS ADDR PORT [SECONDS]: a TCP connection is accepted within SECONDS (4).
reaches() { timeout -k 2 10 ip netns exec "$1" nc -n -z -w "${4:-4}" "$2" "$3" >/dev/null 2>&1; }
# blocked FROM_NS ADDR PORT: no connection within 2 s (a dropped SYN gets no answer at all;
# every blocked check is paired with one that reaches the same service another way).
blocked() { ! reaches "$1" "$2" "$3" 2; }
listing() { ip netns exec "${NS[a]}" nft list table inet "$TABLE" 2>&1 || true; }

ip netns exec "${NS[a]}" timeout -k 2 "$(time_left)" nc -4 -n -l -k 2222 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening a 2222

for n in a b; do
	rnode_provision "$n"
	rnode_start "$n"
done
check "ping b -> a over the roster's overlay" ping_ok b "${OV4[a]}"
check "underlay host cannot reach a's roster address ${OV4[a]}:2222" blocked "$X" "${OV4[a]}" 2222
check "b reaches ${OV4[a]}:2222 through the tunnel" reaches "${NS[b]}" "${OV4[a]}" 2222
assert_match "the table guards ${OV6[a]} too" "ip6 daddr ${OV6[a]} drop" "$(listing)"

# A new roster moves a to 100.64.0.77 / fd00:64::77 (same key).
keys_admin revoke a >>"$T/keys.out" 2>>"$T/keys.err"
keys_admin enroll a --pubkey "${PUB[a]}" --address 100.64.0.77 --address fd00:64::77 \
	--endpoint "${UL[a]}:${PORT[a]}" >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand a
roster_hand b
check "a and b run serial $SERIAL" wait_until 15 all_at_serial "$SERIAL" a b
check "a has its new address 100.64.0.77" wait_until 10 \
	bash -c "ip -n ${NS[a]} addr show dev ${IFN[a]} | grep -q '100.64.0.77/'"
# Removing a's only IPv4 address made the kernel drop every IPv4 route through the interface;
# tunneld must have put them back (without, gossip found no route and a crashed).
check "a still runs" pid_alive "${PID[a]}"
check "a still routes b's address into the tunnel" bash -c \
	"ip -n ${NS[a]} route get ${OV4[b]} | grep -q 'dev ${IFN[a]} '"
rules=$(listing)
assert_match "the table guards the new 100.64.0.77" "ip daddr 100\.64\.0\.77 drop" "$rules"
assert_match "the table guards the new fd00:64::77" "ip6 daddr fd00:64::77 drop" "$rules"
assert_nomatch "the table no longer lists the old ${OV4[a]}" "ip daddr ${OV4[a]//./\\.} drop" "$rules"
check "underlay host cannot reach the new 100.64.0.77:2222" blocked "$X" 100.64.0.77 2222
check "b reaches 100.64.0.77:2222 through the tunnel" wait_until 20 reaches "${NS[b]}" 100.64.0.77 2222

finish
