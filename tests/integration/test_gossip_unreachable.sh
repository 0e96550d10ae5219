#!/usr/bin/env bash
# A gossip request whose connect() fails at once (no route to the peer's overlay address:
# ENETUNREACH inside evhttp_make_request) must not crash tunneld.  libevent 2.1 then calls
# the request's callback before evhttp_make_request returns; tunneld used to dereference
# state it had not linked yet and to free the call twice.  Node a loses its route to b in the
# tunnel's table; its anti-entropy (every 5 s, b is its only peer) then hits the failure.
. "$(dirname "$0")/lib.sh"

roster_two_up
tbl=$(( $(nsx a wg show "${IFN[a]}" fwmark) ))
# The overlay prefix covers b: a more specific unreachable route takes b alone away.
ip -n "${NS[a]}" route add unreachable "${OV4[b]}" table "$tbl"
check "a has no route to b's overlay address" \
	bash -c "! ip netns exec '${NS[a]}' ip route get '${OV4[b]}' >/dev/null 2>&1"
# Three anti-entropy rounds, each a failed connect to b.
sleep 16
check "a is still running after failed gossip connects" pid_alive "${PID[a]}"
check "a still answers wg show" nsx a wg show "${IFN[a]}"
# With the route back, gossip works again: a new roster handed to b reaches a.
ip -n "${NS[a]}" route del unreachable "${OV4[b]}" table "$tbl"
keys_admin enroll c --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.3 \
	>>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand b
check "a gets serial $SERIAL by gossip" wait_until 15 all_at_serial "$SERIAL" a b
finish
