#!/usr/bin/env bash
# Live reload: a streams 50 MiB to b (paced, ~3.5 s); meanwhile c is appended to a's config and
# a gets SIGHUP.  a must reach c, the a -> b stream must finish intact, and the a-b session must
# not be re-handshaken because of the reload (latest-handshake for b unchanged on both sides).
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_add c 3
node_peer a b
node_peer b a
node_peer c a
node_start a
node_start b
node_start c
check "ping a -> b" ping_ok a "${OV4[b]}"
assert_eq "a cannot reach c before the reload: replies" 0 "$(ping_replies a "${OV4[c]}" 2)"

xfer_start a b "${OV4[b]}" 50 0.06
mib=$((1024 * 1024))
check "transfer a -> b under way (b received 5 MiB)" \
	wait_until 20 bash -c "[ \$(ip netns exec ${NS[b]} timeout 5 wg show ${IFN[b]} transfer | awk '{print \$2}') -ge $((5 * mib)) ]"
# A re-handshake caused by the reload would land in a later second than this.
sleep 1.2
hs_a=$(peer_field a b 5); hs_b=$(peer_field b a 5)

check "transfer still in flight at the reload" pid_alive "${XF_TX[1]}"
node_peer a c
node_reload a
log "appended c to $(basename "$(conf_file a)") and reloaded a (${NODE_IMPL[a]})"
check "ping a -> c after the reload" ping_ok a "${OV4[c]}"
check "ping c -> a after the reload" ping_ok c "${OV4[a]}"
assert_match "a's wg show lists c" "${PUB[c]//+/\\+}" "$(nsx a wg show "${IFN[a]}" peers)"
xfer_finish
assert_eq "a's latest-handshake with b unchanged across the reload" "$hs_a" "$(peer_field a b 5)"
assert_eq "b's latest-handshake with a unchanged across the reload" "$hs_b" "$(peer_field b a 5)"
check "ping a -> b after the reload" ping_ok a "${OV4[b]}"
check "a's daemon still the same process" pid_alive "${PID[a]}"

finish
