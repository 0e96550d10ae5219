#!/usr/bin/env bash
# Anti-entropy: c is stopped while two rosters are published (enroll d, then revoke d), each
# handed to a only.  After c restarts with its old roster it must run the latest serial within
# 10 s: nobody hands it anything, so only the periodic serial check (anti-entropy) can do it.
# Its peers must then be those of the latest roster (a, b; not the revoked d).
. "$(dirname "$0")/lib.sh"

BOUND_MS=10000
roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_add c 3
rnode_add d 4
for n in a b c; do rnode_enroll "$n"; done
roster_publish
first=$SERIAL
for n in a b c; do rnode_provision "$n"; rnode_start "$n"; done
check "ping c -> a" ping_ok c "${OV4[a]}"
rc=0; node_stop c || rc=$?
assert_eq "c stopped (exit status)" 0 "$rc"

rnode_enroll d
roster_publish
rnode_provision d
rnode_start d
roster_hand a
check "publish 1 (enroll d): a, b, d at serial $SERIAL" wait_until 15 all_at_serial "$SERIAL" a b d
keys_admin revoke d >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
latest=$SERIAL
roster_hand a
check "publish 2 (revoke d): a, b at serial $latest" wait_until 15 all_at_serial "$latest" a b
assert_eq "c's persisted roster is still the old one" "$first" "$(node_serial c)"

t0=$(now_ms)
rnode_start c
ms=$(converge_ms "$t0" 20 "$latest" c) || true
printf 'catch-up: c at serial %s %s ms after its restart was launched (bound %d ms)\n' "$latest" "$ms" "$BOUND_MS"
assert_le "c caught up to serial $latest (ms after restart) [$(serials a b c)]" "$BOUND_MS" "${ms/timeout/999999}"
want=$(printf '%s\n' "${PUB[a]}" "${PUB[b]}" | sort)
check "c's peers are a and b (d revoked in the latest roster)" wait_until 5 \
	bash -c "[ \"\$(ip netns exec ${NS[c]} timeout 5 wg show ${IFN[c]} peers | sort)\" = \"$want\" ]"
check "ping c -> a after the catch-up" ping_ok c "${OV4[a]}"
check "ping b -> c after the catch-up" ping_ok b "${OV4[c]}"

finish
