#!/usr/bin/env bash
# The overlay firewall (issue 7, item 11): a host on node a's underlay segment with a route to
# the overlay via a's underlay address must not reach a TCP service on a's overlay addresses
# (v4 and v6), while peer b through the tunnel and a itself still do, and a's underlay address
# stays as reachable as before.  The table follows address changes (SIGHUP), goes with
# OverlayFirewall = off, is gone after SIGTERM and after SIGKILL, and a stale table of the same
# name is replaced at start.
. "$(dirname "$0")/lib.sh"

command -v nft >/dev/null || skip "nft (nftables) not installed"
nc -h 2>&1 | grep -q OpenBSD || skip "OpenBSD netcat (netcat-openbsd) not installed"

node_add a 1
node_add b 2
node_peer a b
node_peer b a
TABLE=warren-${IFN[a]}
EXTRA4=100.64.0.101

# The attacker: on the underlay switch, routing the overlay (v4 and v6) via a's underlay.
X=${RUN}x
ns_add "$X"
ip -n "$X" link add ul0 type veth peer name px netns "$SW"
ip -n "$SW" link set dev px master br0 up
ip -n "$X" addr add 192.0.2.99/24 dev ul0
ip -n "$X" -6 addr add 2001:db8:99::99/64 dev ul0 nodad
ip -n "$X" link set ul0 up
ip -n "${NS[a]}" -6 addr add 2001:db8:99::1/64 dev ul0 nodad
ip -n "$X" route add 100.64.0.0/16 via "${UL[a]}"
ip -n "$X" -6 route add fd00:64::/64 via 2001:db8:99::1
# a forwards nothing here; the attack is local delivery, which needs no forwarding.

# reaches FROM_NS ADDR PORT [SECONDS]: a TCP connection is accepted within SECONDS (4).
reaches() { timeout -k 2 10 ip netns exec "$1" nc -n -z -w "${4:-4}" "$2" "$3" >/dev/null 2>&1; }
# blocked FROM_NS ADDR PORT: no connection within 2 s (a dropped SYN gets no answer at all;
# every blocked check is paired with one that reaches the same service another way).
blocked() { ! reaches "$1" "$2" "$3" 2; }
table_present() { ip netns exec "${NS[a]}" nft list table inet "$TABLE" >/dev/null 2>&1; }
table_absent() { ! table_present; }

# Services on every address of a, as sshd listens: v4 on 2222, v6 on 2223.
ip netns exec "${NS[a]}" timeout -k 2 "$(time_left)" nc -4 -n -l -k 2222 >/dev/null 2>&1 &
BG_PIDS+=($!)
ip netns exec "${NS[a]}" timeout -k 2 "$(time_left)" nc -6 -n -l -k 2223 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening a 2222
wait_until 10 listening a 2223

node_start a
node_start b
check "tunnel up: b pings a (${OV4[a]})" ping_ok b "${OV4[a]}"

check "table inet $TABLE exists while a runs" table_present
check "underlay host cannot reach ${OV4[a]}:2222" blocked "$X" "${OV4[a]}" 2222
check "underlay host cannot reach [${OV6[a]}]:2223" blocked "$X" "${OV6[a]}" 2223
check "underlay host still reaches a's underlay ${UL[a]}:2222" reaches "$X" "${UL[a]}" 2222
check "peer b reaches ${OV4[a]}:2222 through the tunnel" reaches "${NS[b]}" "${OV4[a]}" 2222
check "peer b reaches [${OV6[a]}]:2223 through the tunnel" reaches "${NS[b]}" "${OV6[a]}" 2223
check "a reaches its own ${OV4[a]}:2222 (loopback)" reaches "${NS[a]}" "${OV4[a]}" 2222

# An address added by a reload is guarded as soon as it exists.
IFACE_EXTRA[a]="Address = $EXTRA4/32"$'\n'
node_reload a
wait_until 10 bash -c "ip -n ${NS[a]} addr show dev ${IFN[a]} | grep -q '$EXTRA4/'"
check "after SIGHUP the new address $EXTRA4 is on ${IFN[a]}" \
	bash -c "ip -n ${NS[a]} addr show dev ${IFN[a]} | grep -q '$EXTRA4/'"
check "underlay host cannot reach the new $EXTRA4:2222" blocked "$X" "$EXTRA4" 2222

# The opt-out, and back.
IFACE_EXTRA[a]="OverlayFirewall = off"$'\n'
node_reload a
check "OverlayFirewall = off: table removed" wait_until 10 table_absent
check "OverlayFirewall = off: underlay host reaches ${OV4[a]}:2222" reaches "$X" "${OV4[a]}" 2222
IFACE_EXTRA[a]=
node_reload a
check "OverlayFirewall back on: table present" wait_until 10 table_present
check "back on: underlay host cannot reach ${OV4[a]}:2222" blocked "$X" "${OV4[a]}" 2222

# SIGTERM removes the table with the interface.
node_stop a
check "table gone after SIGTERM" table_absent

# A stale table of that name (here: one that would drop all of b's traffic) is replaced.
ip netns exec "${NS[a]}" nft -f - <<EOF
table inet $TABLE {
	chain input { type filter hook input priority filter; policy drop; }
}
EOF
node_start a
# a starts the new session (b would wait out its old one's timeouts first).
check "stale table replaced at start: a pings b" ping_ok a "${OV4[b]}"
rules=$(ip netns exec "${NS[a]}" nft list table inet "$TABLE")
assert_nomatch "the replaced table has no 'policy drop'" "policy drop" "$rules"
assert_match "the replaced table drops ${OV4[a]} from elsewhere" "ip daddr ${OV4[a]//./\\.} drop" "$rules"
assert_match "the replaced table drops ${OV6[a]} from elsewhere" "ip6 daddr ${OV6[a]} drop" "$rules"
assert_match "the replaced table is owned by tunneld (gone with the process)" "flags owner" "$rules"
check "after the restart: underlay host cannot reach ${OV4[a]}:2222" blocked "$X" "${OV4[a]}" 2222

# SIGKILL: the kernel removes the owned table with the process; a restart builds a fresh one.
node_kill9 a
check "table gone after SIGKILL" wait_until 10 table_absent
node_start a
check "after SIGKILL + restart: a pings b" ping_ok a "${OV4[b]}"
check "after SIGKILL + restart: table present" table_present
check "after SIGKILL + restart: underlay host cannot reach ${OV4[a]}:2222" blocked "$X" "${OV4[a]}" 2222
check "after SIGKILL + restart: b reaches ${OV4[a]}:2222" wait_until 20 reaches "${NS[b]}" "${OV4[a]}" 2222

finish
