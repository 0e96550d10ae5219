#!/usr/bin/env bash
# The pinned admin key comes only from AdminKey and the endorsement chains verified from it,
# never from a file in the roster directory (where `keys push` drops rosters).
#  1. An admin rotation (rotate-admin, publish) is followed, and still followed after a
#     restart: the chain in the persisted roster is verified again from AdminKey; the old key
#     alone is refused.
#  2. An attacker who can write the roster directory plants Roster.admin (their key) and an
#     attacker-signed roster with a lower serial as Roster.new, or in place of the persisted
#     roster: after a restart tunneld refuses both.
#  3. A persisted roster that exists but cannot be read is fatal at start, with its cause.
. "$(dirname "$0")/lib.sh"

roster_two_up
logged_since() { log_since a "$1" | grep -Eq -- "$2"; }

# 1. Rotation.
keys_admin rotate-admin >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
rotated=$SERIAL
roster_hand a
check "a, b follow the rotated admin key (serial $rotated)" wait_until 10 all_at_serial "$rotated" a b
node_stop a
rnode_start a
check "a restarted on serial $rotated" wait_until 10 logged_since 0 "roster loaded: serial $rotated"
check "ping b -> a after the restart" ping_ok b "${OV4[a]}"
# The same roster re-signed by the old key alone (no endorse lines), a higher serial.
cp -a "$ADMIN" "$T/oldkey"
cp "$ADMIN/admin.key.old.1" "$T/oldkey/admin.key"
old_pub=$(timeout 10 "$KEYS_BIN" -C "$T/oldkey" admin-pubkey 2>/dev/null || true)
if [ -z "$old_pub" ]; then
	# admin-pubkey reads the roster's admin line; derive it from the secret instead.
	old_pub=$(python3 -c 'import base64,sys; print(base64.b64encode(base64.b64decode(open(sys.argv[1]).read())[32:]).decode())' "$T/oldkey/admin.key")
fi
sed -i -e "s|^admin .*|admin $old_pub|" -e '/^endorse /d' "$T/oldkey/roster" "$T/oldkey/roster.signed"
timeout 30 "$KEYS_BIN" -C "$T/oldkey" publish --force >>"$T/keys.out" 2>>"$T/keys.err"
oldsig=$(roster_serial_of "$T/oldkey/roster.signed")
assert_eq "the old-key roster is newer" "$((rotated + 1))" "$oldsig"
mark=$(log_mark a)
roster_hand a "$T/oldkey/roster.signed"
check "old key alone refused after the restart" wait_until 10 logged_since "$mark" 'rejected: signature'
assert_eq "a still at $rotated" "$rotated" "$(node_serial a)"

# 2. The planted anchor.
mkdir -m 0700 "$T/evil"
timeout 30 "$KEYS_BIN" -C "$T/evil" init --network "${RUN}net" --cidr 100.64.0.0/16 >/dev/null 2>&1
timeout 30 "$KEYS_BIN" -C "$T/evil" enroll x --pubkey "$(wg genkey | wg pubkey)" \
	--address 100.64.0.66 >/dev/null 2>&1
timeout 30 "$KEYS_BIN" -C "$T/evil" publish >/dev/null 2>&1
evil_pub=$(timeout 10 "$KEYS_BIN" -C "$T/evil" admin-pubkey)
evil_serial=$(roster_serial_of "$T/evil/roster.signed")
check "the attacker's roster has a lower serial ($evil_serial < $rotated)" test "$evil_serial" -lt "$rotated"
cp "${ROSTER_PATH[a]}" "$T/a.persisted"
peers_before=$(wg_peers a)
node_stop a
printf '%s\n' "$evil_pub" >"${ROSTER_PATH[a]}.admin"
cp "$T/evil/roster.signed" "${ROSTER_PATH[a]}.new"
mark=$(log_mark a)
rnode_start a
check "planted Roster.new refused after the restart" wait_until 10 logged_since "$mark" 'new rejected: (signature|serial)'
check "a keeps its roster file" cmp -s "${ROSTER_PATH[a]}" "$T/a.persisted"
assert_eq "a keeps serial $rotated" "$rotated" "$(node_serial a)"
assert_eq "a keeps its peers" "$peers_before" "$(wg_peers a)"
check "ping b -> a" ping_ok b "${OV4[a]}"

node_stop a
cp "$T/evil/roster.signed" "${ROSTER_PATH[a]}"
mark=$(log_mark a)
rnode_start a
check "planted persisted roster refused at start" wait_until 10 logged_since "$mark" 'persisted roster .* rejected: signature'
check "a has no peer from the attacker's roster" test -z "$(wg_peers a)"
node_stop a
cp "$T/a.persisted" "${ROSTER_PATH[a]}"
rm -f "${ROSTER_PATH[a]}.admin"

# 3. A persisted roster that cannot be read: a dangling symlink (refused: O_NOFOLLOW).
mv "${ROSTER_PATH[a]}" "$T/a.real"
ln -s "$T/nowhere" "${ROSTER_PATH[a]}"
mark=$(log_mark a)
ip netns exec "${NS[a]}" "$TUNNELD" -c "$(conf_file a)" -i "${IFN[a]}" -v >>"$T/a.log" 2>&1 &
PID[a]=$!
check "unreadable persisted roster: tunneld exits" wait_until 10 bash -c "! kill -0 ${PID[a]}"
check "unreadable persisted roster: the cause is named" logged_since "$mark" "cannot read the persisted roster ${ROSTER_PATH[a]}.*refusing to start"
node_stop a || true
rm -f "${ROSTER_PATH[a]}"
mv "$T/a.real" "${ROSTER_PATH[a]}"
rnode_start a
check "readable again: a starts on serial $rotated" wait_until 10 logged_since "$mark" "roster loaded: serial $rotated"
finish
