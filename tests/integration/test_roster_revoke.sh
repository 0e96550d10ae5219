#!/usr/bin/env bash
# Revocation: r pings a, b and c continuously (-i 0.1) when the admin revokes it and hands the
# roster to a only.  Within 5 s of the publish no reply reaches r any more, r's peer entry is
# gone from `wg show` on every node, r logs that it is revoked, and a machine that still holds
# r's private key (a plain tunneld configured with every node as a peer) completes no handshake
# with anyone.  Handed the roster too (its peers no longer talk to it), r says it is revoked and
# drops every peer.
. "$(dirname "$0")/lib.sh"

BOUND_MS=5000
roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_add c 3
rnode_add r 4
for n in a b c r; do rnode_enroll "$n"; done
roster_publish
for n in a b c r; do rnode_provision "$n"; rnode_start "$n"; done
for p in a b c; do check "ping r -> $p before the revocation" ping_ok r "${OV4[$p]}"; done

# r streams to everyone: timestamped pings (-D), 10 per second, for at most 25 s.
for p in a b c; do
	ip netns exec "${NS[r]}" timeout -k 2 30 ping -n -D -i 0.1 -w 25 "${OV4[$p]}" >"$T/ping-$p" 2>&1 &
	BG_PIDS+=($!)
done
sleep 2
keys_admin revoke r >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
t0=$(now_ms)
roster_hand a
ms=$(converge_ms "$t0" 15 "$SERIAL" a b c) || true
printf 'revocation reached a, b, c in %s ms\n' "$ms"

# At t0 + 5 s: r is no peer anywhere.
sleep "$(awk -v ms=$(( t0 + BOUND_MS - $(now_ms) )) 'BEGIN { printf "%.3f", (ms > 0 ? ms : 0) / 1000 }')"
for n in a b c; do
	if has_peer "$n" "${PUB[r]}"; then fail "$n still lists r's key 5 s after the publish"
	else pass "$n's wg show no longer lists r, 5 s after the publish"; fi
done
sleep 3
t_end=$(now_ms)

# Replies r got after the publish: the last one must be within 5 s of it, none after.
for p in a b c; do
	last=$(sed -n 's/^\[\([0-9]*\)\.\([0-9]\{3\}\).*bytes from.*/\1\2/p' "$T/ping-$p" | tail -n 1)
	before=$(sed -n 's/^\[\([0-9]*\)\.\([0-9]\{3\}\).*bytes from.*/\1\2/p' "$T/ping-$p" |
		awk -v t0="$t0" '$1 < t0' | wc -l)
	late=$(sed -n 's/^\[\([0-9]*\)\.\([0-9]\{3\}\).*bytes from.*/\1\2/p' "$T/ping-$p" |
		awk -v t="$((t0 + BOUND_MS))" -v e="$t_end" '$1 >= t && $1 <= e' | wc -l)
	assert_ge "r's stream to $p was flowing before the publish (replies)" 10 "$before"
	assert_eq "replies to r from $p later than 5 s after the publish" 0 "$late"
	if [ -n "$last" ]; then
		printf 'last reply from %s to r: %d ms after the publish\n' "$p" $(( last - t0 ))
		assert_le "last reply from $p to r, ms after the publish" "$BOUND_MS" $(( last - t0 ))
	fi
done
assert_eq "replies to r from a now" 0 "$(ping_replies r "${OV4[a]}" 3)"
# Its peers no longer talk to r, so gossip cannot tell it: the admin hands it the roster
# (keys push), and r must see that it is revoked.
roster_hand r
check "r accepts the roster that revokes it" wait_until 10 all_at_serial "$SERIAL" r
check "r logs that it is revoked" wait_until 5 bash -c "grep -qi revoked '$T/r.log'"
check "r itself has no peer left" wait_until 5 bash -c "[ -z \"\$(ip netns exec ${NS[r]} timeout 5 wg show ${IFN[r]} peers)\" ]"

# A machine still holding r's key cannot get in anywhere.
impostor_start x 9 "${PRIV[r]}" r "" a b c
for p in a b c; do
	assert_eq "impostor with r's key: replies from $p" 0 "$(ping_replies x "${OV4[$p]}" 3)"
	assert_eq "impostor with r's key: handshake with $p" 0 "$(peer_field x "$p" 5)"
done
for p in b c; do check "ping a -> $p still works" ping_ok a "${OV4[$p]}"; done
check "ping b -> c still works" ping_ok b "${OV4[c]}"

finish
