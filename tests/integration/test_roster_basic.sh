#!/usr/bin/env bash
# Roster mode, the quick check: three tunneld nodes provisioned with one signed roster talk to
# each other; a newer roster handed to one node only (Roster.new, as `keys push` writes it) is
# accepted there and reaches the two others by gossip over the overlay; the overlay still
# pings; a hostile candidate (bad signature) is rejected with the reason logged and changes
# nothing.
# run-all: plain (make test runs it against the plain build too: a core path as shipped)
. "$(dirname "$0")/lib.sh"

roster_admin_init
for n in a b c; do
	rnode_add "$n" "$(( $(printf '%d' "'$n") - 96 ))"
	rnode_enroll "$n"
done
roster_publish
first=$SERIAL
admin_pub=$(keys_admin admin-pubkey 2>>"$T/keys.err")
for n in a b c; do
	rnode_provision "$n"
	# Written here rather than by `keys node-config`, to set GossipPort too.
	(umask 077; printf '[Interface]\nPrivateKeyFile = %s\nListenPort = %s\nRoster = %s\nAdminKey = %s\nGossipPort = %s\n' \
		"$T/$n.key" "${PORT[$n]}" "${ROSTER_PATH[$n]}" "$admin_pub" "$GOSSIP_PORT" \
		>"$(conf_file "$n")")
	rnode_start "$n"
done

for n in a b c; do
	check "$n logged the roster it loaded (serial $first)" wait_until 5 \
		grep -q "roster loaded: serial $first" "$T/$n.log"
done
check "ping a -> b over the roster's overlay" ping_ok a "${OV4[b]}"
check "ping b -> c" ping_ok b "${OV4[c]}"
check "ping c -> a over IPv6" ping_ok c "${OV6[a]}"
assert_eq "a's peers are b and c" "$(printf '%s\n' "${PUB[b]}" "${PUB[c]}" | sort)" "$(wg_peers a)"

# A change (a new node d, not running) published and handed to a only.
keys_admin enroll d --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.44 \
	>>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
next=$SERIAL
assert_ge "the publish made a newer serial" $((first + 1)) "$next"
t0=$(now_ms)
roster_hand a
ms=$(converge_ms "$t0" 15 "$next" a b c) || true
printf 'convergence: 3 nodes, roster handed to 1 node: %s ms\n' "$ms"
assert_le "a, b and c at serial $next within 15 s [$(serials a b c)]" 15000 "${ms/timeout/999999}"
check "a logged the accepted serial $next from Roster.new" \
	grep -q "roster accepted: serial $next.*from ${ROSTER_PATH[a]}.new" "$T/a.log"
check "b logged the accepted serial $next from gossip" \
	grep -q "roster accepted: serial $next.*from gossip" "$T/b.log"
check "Roster.new is consumed" wait_until 3 test ! -e "${ROSTER_PATH[a]}.new"
check "ping a -> c after the change" ping_ok a "${OV4[c]}"
check "ping c -> b after the change" ping_ok c "${OV4[b]}"
assert_eq "b now has 3 peers (a, c and the new d)" 3 "$(wg_peers b | wc -l)"
assert_eq "b's gossip service answers serial $next" "$next" \
	"$(gossip_get a b /v1/serial | tr -d '\r\n')"

# Hostile: the same roster with one byte of the body changed.
sed 's/^serial .*/serial 999/' "$ADMIN/roster.signed" >"$T/forged"
mark=$(log_mark c)
roster_hand c "$T/forged"
check "c rejects the forged roster, logging why" wait_until 5 \
	bash -c "tail -c +$((mark + 1)) '$T/c.log' | grep -q 'rejected: signature'"
assert_eq "c keeps serial $next" "$next" "$(node_serial c)"
check "ping c -> a still" ping_ok c "${OV4[a]}"

finish
