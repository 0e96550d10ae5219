#!/usr/bin/env bash
# An apply that fails is reported, retried and not announced.  Node a already has a route to
# 100.65.0.0/24 in its tunnel's table (a blackhole, as another service might hold); a roster
# that routes that subnet through a new node c is accepted and persisted by a, but its route
# cannot be added: a logs the failure, does not gossip the serial (b stays on the old one,
# through pushes and pulls), and retries with backoff; once the obstacle is removed the retry
# succeeds, the route points into the tunnel and the serial spreads.
. "$(dirname "$0")/lib.sh"

roster_two_up
old=$SERIAL
logged_since() { log_since a "$1" | grep -Eq -- "$2"; }

# tunneld routes in a table of the interface's own (its id is the UDP sockets' default mark).
tbl=$(( $(nsx a wg show "${IFN[a]}" fwmark) ))
ip -n "${NS[a]}" route add blackhole 100.65.0.0/24 table "$tbl"
keys_admin enroll c --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.3 \
	--subnet 100.65.0.0/24 >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
next=$SERIAL
mark=$(log_mark a)
roster_hand a
check "a accepts and persists serial $next" wait_until 10 all_at_serial "$next" a
check "a reports the incomplete apply" wait_until 10 logged_since "$mark" "serial $next applied only in part"
check "a names what failed" logged_since "$mark" 'cannot add route 100.65.0.0/24'
# Two gossip intervals (5 s each): b would have pulled or been pushed the serial by now.
never_b() {
	local i
	for i in $(seq 1 24); do
		[ "$(node_serial b)" = "$old" ] || return 1
		sleep 0.5
	done
}
check "b is never told of serial $next while a runs it in part (12 s)" never_b
assert_eq "a announces its last full roster on /v1/serial" "$old" "$(gossip_get b a /v1/serial)"
check "a retried" logged_since "$mark" "serial $next: apply attempt [0-9]+ failed"

ip -n "${NS[a]}" route del blackhole 100.65.0.0/24 table "$tbl"
check "the retry succeeds once the obstacle is gone" wait_until 40 logged_since "$mark" "serial $next fully applied"
check "the route points into the tunnel" \
	bash -c "ip -n '${NS[a]}' route show 100.65.0.0/24 table $tbl | grep -q 'dev ${IFN[a]}'"
check "b gets serial $next now" wait_until 15 all_at_serial "$next" b
assert_eq "a announces serial $next" "$next" "$(gossip_get b a /v1/serial)"
check "ping b -> a" ping_ok b "${OV4[a]}"
finish
