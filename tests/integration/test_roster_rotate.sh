#!/usr/bin/env bash
# Key rotation without a cut: c generates a new key pair and puts the private half in
# PrivateKeyFile.next; the admin runs `keys rotate c --pubkey NEW` and publishes to b only.
# A continuous ping a -> c (-i 0.1) across the rotation loses at most 2 s of replies
# (lost x 100 ms, printed); c switches to the new key (.next renamed over the key file, wg show
# shows the new public key), every node lists the new key and not the old one, and a machine
# holding the old private key (and claiming c's addresses) completes no handshake with
# the other nodes.
. "$(dirname "$0")/lib.sh"

INTERVAL_MS=100
BOUND_MS=2000
roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_add c 3
for n in a b c; do rnode_enroll "$n"; done
roster_publish
for n in a b c; do rnode_provision "$n"; rnode_start "$n"; done
check "ping a -> c before the rotation" ping_ok a "${OV4[c]}"
check "ping b -> c before the rotation" ping_ok b "${OV4[c]}"

old_priv=${PRIV[c]} old_pub=${PUB[c]}
new_priv=$(timeout 10 "$KEYS_BIN" genkey)
new_pub=$(printf '%s\n' "$new_priv" | timeout 10 "$KEYS_BIN" pubkey)
(umask 077; printf '%s\n' "$new_priv" >"$T/c.key.next")

# 200 pings at 100 ms: 20 s, the rotation happens 3 s in.
ip netns exec "${NS[a]}" timeout -k 2 40 ping -n -c 200 -i 0.1 -W 1 "${OV4[c]}" >"$T/ping-rot" 2>&1 &
ping_pid=$!
BG_PIDS+=($ping_pid)
sleep 3
keys_admin rotate c --pubkey "$new_pub" >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
t0=$(now_ms)
roster_hand b
ms=$(converge_ms "$t0" 15 "$SERIAL" a b c) || true
printf 'rotation reached a, b, c in %s ms\n' "$ms"
check "a, b and c run serial $SERIAL [$(serials a b c)]" all_at_serial "$SERIAL" a b c
wait "$ping_pid" || true
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$T/ping-rot")
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T/ping-rot")
lost_ms=$(( (${sent:-0} - ${got:-0}) * INTERVAL_MS ))
printf 'rotation: ping a -> c every %d ms: %s sent, %s received, %d ms of loss (goal <= %d)\n' \
	"$INTERVAL_MS" "${sent:-?}" "${got:-?}" "$lost_ms" "$BOUND_MS"
assert_eq "continuous ping ran to the end (packets sent)" 200 "${sent:-0}"
assert_le "ms of replies lost across the rotation" "$BOUND_MS" "$lost_ms"

PRIV[c]=$new_priv
PUB[c]=$new_pub
assert_eq "c's wg show public key is the new one" "$new_pub" \
	"$(nsx c wg show "${IFN[c]}" public-key)"
check "c's key file now holds the new key" wait_until 5 \
	bash -c "[ \"\$(tr -d '\n' <'$T/c.key')\" = '$new_priv' ]"
check "c's key file .next was renamed away" wait_until 5 bash -c "[ ! -e '$T/c.key.next' ]"
for n in a b; do
	check "$n lists c's new key" has_peer "$n" "$new_pub"
	if has_peer "$n" "$old_pub"; then fail "$n still lists c's old key"
	else pass "$n no longer lists c's old key"; fi
done
check "ping a -> c after the rotation" ping_ok a "${OV4[c]}"
check "ping c -> b after the rotation (new handshake)" ping_ok c "${OV4[b]}"
check "b's handshake with c's new key done" handshake_done b c

# The old key is worth nothing now.
impostor_start x 9 "$old_priv" c "" a b
for p in a b; do
	assert_eq "old key: replies from $p" 0 "$(ping_replies x "${OV4[$p]}" 3)"
	assert_eq "old key: handshake with $p" 0 "$(peer_field x "$p" 5)"
done

finish
