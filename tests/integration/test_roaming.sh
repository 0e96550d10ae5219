#!/usr/bin/env bash
# Roaming: while a streams 50 MiB to b, a's underlay address changes (192.0.2.1 -> .11, same
# subnet).  b must learn a's new endpoint from a's authenticated packets and the stream must
# finish intact.  The sender is paced (1 MiB per 60 ms) so the change lands mid-transfer.
# Deadline for the new endpoint: 20 s.  (wireguard-go needs ~16 s here: it keeps sending from
# the cached old source address until its 15 s "stopped hearing back" re-handshake.)
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start a
node_start b
check "ping a -> b before the move" ping_ok a "${OV4[b]}"
assert_eq "b's endpoint for a before the move" "${UL[a]}:${PORT[a]}" "$(peer_field b a 3)"

xfer_start a b "${OV4[b]}" 50 0.06
mib=$((1024 * 1024))
rx0=$(peer_field b a 6)
check "transfer under way (b received 5 MiB from a)" \
	wait_until 20 bash -c "[ \$(ip netns exec ${NS[b]} timeout 5 wg show ${IFN[b]} transfer | awk '{print \$2}') -ge $((rx0 + 5 * mib)) ]"

new=192.0.2.11
t0=$(now_ms)
ip -n "${NS[a]}" addr del "${UL[a]}/24" dev ul0
ip -n "${NS[a]}" addr add "$new/24" dev ul0
log "a's underlay moved ${UL[a]} -> $new"
mid=$(peer_field b a 6)
check "b sees a at its new endpoint $new:${PORT[a]}" \
	wait_until 20 bash -c "ip netns exec ${NS[b]} timeout 5 wg show ${IFN[b]} endpoints | grep -q '$new:${PORT[a]}'"
log "endpoint updated $(( $(now_ms) - t0 )) ms after the move"
xfer_finish
assert_ge "bytes from a after the move (b's transfer-rx grew, MiB)" 5 $(( ($(peer_field b a 6) - mid) / mib ))
assert_eq "wg show on b: a's endpoint" "$new:${PORT[a]}" "$(peer_field b a 3)"
check "ping b -> a after the move" ping_ok b "${OV4[a]}"

finish
