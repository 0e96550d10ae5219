#!/usr/bin/env bash
# Roster changes elsewhere leave running sessions alone: a streams to b (paced, up to 150 MiB
# in ~25 s, ended 3 s after the changes are checked) while the admin enrolls e, revokes c and
# rotates d's key, each published to one node and converged.  The stream must finish intact
# (sha256 at both ends) and a and b must not re-handshake with each other (latest-handshake
# unchanged on both sides).
. "$(dirname "$0")/lib.sh"

roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_add c 3
rnode_add d 4
rnode_add e 5
for n in a b c d; do rnode_enroll "$n"; done
roster_publish
for n in a b c d; do rnode_provision "$n"; rnode_start "$n"; done
check "ping a -> b" ping_ok a "${OV4[b]}"
check "ping a -> d" ping_ok a "${OV4[d]}"

xfer_start a b "${OV4[b]}" 150 0.15
mib=$((1024 * 1024))
check "transfer a -> b under way (b received 5 MiB)" \
	wait_until 20 bash -c "[ \$(ip netns exec ${NS[b]} timeout 5 wg show ${IFN[b]} transfer | awk '{s += \$2} END {print s + 0}') -ge $((5 * mib)) ]"
# A re-handshake caused by a roster change would land in a later second than this.
sleep 1.2
hs_a=$(peer_field a b 5); hs_b=$(peer_field b a 5)

# 1. Enroll e (provisioned with the new roster), handed to a, the sender.
rnode_enroll e
roster_publish
rnode_provision e
rnode_start e
t0=$(now_ms)
roster_hand a
ms=$(converge_ms "$t0" 15 "$SERIAL" a b c d e) || true
assert_le "enroll e: a-e at serial $SERIAL, ms [$(serials a b c d e)]" 15000 "${ms/timeout/999999}"
check "ping e -> b during the transfer" ping_ok e "${OV4[b]}"

# 2. Revoke c, handed to b, the receiver.
keys_admin revoke c >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
t0=$(now_ms)
roster_hand b
ms=$(converge_ms "$t0" 15 "$SERIAL" a b d e) || true
assert_le "revoke c: a b d e at serial $SERIAL, ms [$(serials a b d e)]" 15000 "${ms/timeout/999999}"
check "c gone from a's peers" bash -c "! ip netns exec ${NS[a]} timeout 5 wg show ${IFN[a]} peers | grep -qxF -- '${PUB[c]}'"

# 3. Rotate d's key (new private key waiting in d.key.next), handed to e.
new_priv=$(timeout 10 "$KEYS_BIN" genkey)
new_pub=$(printf '%s\n' "$new_priv" | timeout 10 "$KEYS_BIN" pubkey)
(umask 077; printf '%s\n' "$new_priv" >"$T/d.key.next")
keys_admin rotate d --pubkey "$new_pub" >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
t0=$(now_ms)
roster_hand e
ms=$(converge_ms "$t0" 15 "$SERIAL" a b d e) || true
assert_le "rotate d: a b d e at serial $SERIAL, ms [$(serials a b d e)]" 15000 "${ms/timeout/999999}"
PRIV[d]=$new_priv
PUB[d]=$new_pub
check "ping a -> d (rotated) during the transfer" ping_ok a "${OV4[d]}"

check "transfer a -> b still in flight after all three changes" pid_alive "${XF_TX[1]}"
# Paced for 150 MiB (22 s), long enough for the changes on a loaded machine; once they are done,
# 3 s more of it (a re-handshake they caused would start with the next packets), not the rest.
sleep 3
xfer_release
xfer_finish
assert_eq "a's latest-handshake with b unchanged across the roster changes" "$hs_a" "$(peer_field a b 5)"
assert_eq "b's latest-handshake with a unchanged across the roster changes" "$hs_b" "$(peer_field b a 5)"
check "ping a -> b after the changes" ping_ok a "${OV4[b]}"
for n in a b d e; do check "$n's daemon still the same process" pid_alive "${PID[$n]}"; done

finish
