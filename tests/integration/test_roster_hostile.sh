#!/usr/bin/env bash
# Hostile rosters: a bad signature (one signed byte changed), a roster signed by an admin key a
# does not trust, a lower serial, another network (signed by the real admin key), a truncated
# file, a cut signature, garbage and an empty file are delivered to node a both ways rosters
# arrive: dropped at Roster.new (keys push) and POSTed to a's gossip service from b over the
# overlay.  Each must be rejected (HTTP 400, or 204 "not newer" for the old serial), logged with
# its reason, and change nothing: serial, persisted roster file, peers.  Then the genuine next
# roster is accepted both ways, so the rejections above were not a dead channel.
. "$(dirname "$0")/lib.sh"

roster_admin_init
rnode_add a 1
rnode_add b 2
c_priv=$(wg genkey)
c_pub=$(printf '%s\n' "$c_priv" | wg pubkey)
for n in a b; do rnode_enroll "$n"; done
roster_publish
cp "$ADMIN/roster.signed" "$T/old.signed"
for n in a b; do rnode_provision "$n"; rnode_start "$n"; done
check "ping b -> a" ping_ok b "${OV4[a]}"
# a runs a newer roster, so old.signed is a rollback.
keys_admin enroll c --pubkey "$c_pub" --address 100.64.0.3 --endpoint 192.0.2.3:51823 \
	>>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand a
check "a accepts serial $SERIAL (the channel works)" wait_until 10 all_at_serial "$SERIAL" a
check "b gets serial $SERIAL from a" wait_until 10 all_at_serial "$SERIAL" b
running=$SERIAL

# The genuine next roster, held back until the end.
keys_admin enroll d --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.4 >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
next=$SERIAL
cp "$ADMIN/roster.signed" "$T/next.signed"

H=$T/hostile
mkdir -m 0700 "$H"
# bad signature: a signed byte changed (the serial), everything else intact.
sed "s/^serial $next\$/serial $((next + 5))/" "$T/next.signed" >"$H/badsig"
# unknown admin: the same roster signed by a key a never pinned (and no endorsement).
cp -a "$ADMIN" "$T/rogue"
mkdir -m 0700 "$T/rogue-init"
timeout 30 "$KEYS_BIN" -C "$T/rogue-init" init --network "${RUN}net" --cidr 100.64.0.0/16 >/dev/null 2>&1
cp "$T/rogue-init/admin.key" "$T/rogue/admin.key"
# keys refuses to sign with a key that does not match the roster: make it believe it does.
sed -i "s|^admin .*|admin $(timeout 10 "$KEYS_BIN" -C "$T/rogue-init" admin-pubkey)|" \
	"$T/rogue/roster" "$T/rogue/roster.signed"
timeout 30 "$KEYS_BIN" -C "$T/rogue" publish --force >>"$T/keys.out" 2>>"$T/keys.err"
cp "$T/rogue/roster.signed" "$H/rogueadmin"
# other network: signed by the real admin key.
cp -a "$ADMIN" "$T/other"
sed -i 's/^network .*/network othernet/' "$T/other/roster" "$T/other/roster.signed"
timeout 30 "$KEYS_BIN" -C "$T/other" publish --force >>"$T/keys.out" 2>>"$T/keys.err"
cp "$T/other/roster.signed" "$H/othernet"
cp "$T/old.signed" "$H/lowerserial"
head -c $(( $(stat -c %s "$T/next.signed") / 2 )) "$T/next.signed" >"$H/truncated"
head -c -30 "$T/next.signed" >"$H/cutsignature"
head -c 3000 /dev/urandom >"$H/garbage"
: >"$H/empty"
log "hostile files: $(cd "$H" && for f in *; do printf '%s(serial %s) ' "$f" "$(roster_serial_of "$f")"; done)"
admin_pub=$(keys_admin admin-pubkey)
check "othernet verifies with the real admin key (only its network is wrong)" \
	bash -c "timeout 10 '$KEYS_BIN' verify '$H/othernet' --admin-key '$admin_pub' >/dev/null"
check "rogueadmin does not verify with the real admin key" \
	bash -c "! timeout 10 '$KEYS_BIN' verify '$H/rogueadmin' --admin-key '$admin_pub' 2>/dev/null"
rogue_pub=$(timeout 10 "$KEYS_BIN" -C "$T/rogue-init" admin-pubkey)
check "rogueadmin is well formed: its own key verifies it" \
	bash -c "timeout 10 '$KEYS_BIN' verify '$H/rogueadmin' --admin-key '$rogue_pub' >/dev/null"

# What must not change.
cp "${ROSTER_PATH[a]}" "$T/a.persisted"
peers_before=$(wg_peers a)
pin_before=$(cat "${ROSTER_PATH[a]}.admin" 2>/dev/null || echo none)

declare -A WHY=(
	[badsig]='signature'
	[rogueadmin]='signature|endorse|admin|pinned|trust'
	[lowerserial]='serial|newer|older|rollback'
	[othernet]='network'
	[truncated]='truncat|signature|missing|unexpected|end of|incomplete|:[0-9]+:'
	[cutsignature]='truncat|signature|missing|unexpected|end of|incomplete|:[0-9]+:'
	[garbage]='invalid|unknown|expected|garbage|header|version|utf|binary|:[0-9]+:'
	[empty]='empty|missing|truncat|header|expected|:[0-9]+:'
)
unchanged() {
	[ "$(node_serial a)" = "$running" ] && cmp -s "${ROSTER_PATH[a]}" "$T/a.persisted" &&
		[ "$(wg_peers a)" = "$peers_before" ] && [ "$(cat "${ROSTER_PATH[a]}.admin" 2>/dev/null || echo none)" = "$pin_before" ]
}
# logged_since MARK REGEX: a's log grew, since MARK, by a line matching REGEX (any case).
logged_since() { log_since a "$1" | tr 'A-Z' 'a-z' | grep -Eq -- "$2"; }

for f in badsig rogueadmin lowerserial othernet truncated cutsignature garbage empty; do
	mark=$(log_mark a)
	roster_hand a "$H/$f"
	if wait_until 5 logged_since "$mark" "${WHY[$f]}"; then
		pass "$f via Roster.new: rejected with the reason logged: $(log_since a "$mark" | grep -Ei -- "${WHY[$f]}" | head -n 1 | cut -c1-160)"
	else
		fail "$f via Roster.new: no log line matching /${WHY[$f]}/; logged: $(log_since a "$mark" | tail -n 3 | tr '\n' ' ' | cut -c1-300)"
	fi
	sleep 0.3
	check "$f via Roster.new changes nothing (serial $running, roster file, pinned key, peers)" unchanged

	mark=$(log_mark a)
	code=$(gossip_post b a "$H/$f")
	if [ "$f" = lowerserial ]; then
		assert_match "$f via gossip POST: HTTP 204 (not newer) or 400" '^(204|400)$' "$code"
	else
		assert_eq "$f via gossip POST: HTTP status" 400 "$code"
	fi
	if [ "$code" = 400 ]; then
		assert_match "$f via gossip POST: the 400 answer gives the reason" "${WHY[$f]}" \
			"$(tr 'A-Z' 'a-z' <"$T/post.body")"
	fi
	if [ "$f" != lowerserial ]; then
		check "$f via gossip POST: the reason is logged" wait_until 5 logged_since "$mark" "${WHY[$f]}"
	fi
	sleep 0.3
	check "$f via gossip POST changes nothing" unchanged
done
check "a still running" pid_alive "${PID[a]}"
check "ping b -> a after the hostile rosters" ping_ok b "${OV4[a]}"

# The genuine next roster goes through the same door.
assert_eq "genuine next roster via gossip POST: HTTP status" 204 "$(gossip_post b a "$T/next.signed")"
check "a accepts serial $next" wait_until 10 all_at_serial "$next" a
check "b gets serial $next too" wait_until 10 all_at_serial "$next" b
check "a persisted exactly the published roster" cmp -s "${ROSTER_PATH[a]}" "$T/next.signed"
keys_admin revoke d >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand a
check "and one more via Roster.new: a, b at serial $SERIAL" wait_until 10 all_at_serial "$SERIAL" a b

finish
