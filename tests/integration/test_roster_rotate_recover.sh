#!/usr/bin/env bash
# A rotation whose PrivateKeyFile.next tunneld refuses (mode 0644) does not strand the node
# (issue 7, item 15): c is handed the roster that rotates it while its .next is group/world
# readable.  c must name the cause (the file and the permission problem), must not declare
# itself REVOKED, keeps its old key and its addresses, and still passes the roster on (a and b
# reach the serial).  Once the operator fixes the mode (chmod 0600: no restart, no SIGHUP) c
# switches to the new key by itself and every node reaches every other under it.  Then a
# rotation whose .next is missing: REVOKED, saying so, until the file appears.
. "$(dirname "$0")/lib.sh"

roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_add c 3
for n in a b c; do rnode_enroll "$n"; done
roster_publish
for n in a b c; do rnode_provision "$n"; rnode_start "$n"; done
check "ping a -> c before the rotation" ping_ok a "${OV4[c]}"
check "ping b -> c before the rotation" ping_ok b "${OV4[c]}"
c_pid=${PID[c]}

old_pub=${PUB[c]}
new_priv=$(timeout 10 "$KEYS_BIN" genkey)
new_pub=$(printf '%s\n' "$new_priv" | timeout 10 "$KEYS_BIN" pubkey)
# The mistake: written without umask 077.
(umask 022; printf '%s\n' "$new_priv" >"$T/c.key.next")
keys_admin rotate c --pubkey "$new_pub" >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
mark=$(log_mark c)
roster_hand c

names_file() {
	log_since c "$mark" | grep -F 'c.key.next' | grep -Eqi 'permission|mode|group|other'
}
check "c names the refused key file" wait_until 10 names_file
log "c said: $(log_since c "$mark" | grep -F 'c.key.next' | head -n 1)"
check "the rotation still spreads from c: a, b, c at serial $SERIAL" \
	wait_until 15 all_at_serial "$SERIAL" a b c
sleep 2
assert_nomatch "c does not call itself REVOKED" 'REVOKED' "$(log_since c "$mark")"
assert_eq "c keeps its old key while .next is refused" "$old_pub" \
	"$(nsx c wg show "${IFN[c]}" public-key)"
check "c keeps its overlay address" has_addr c "${OV4[c]}"
check "c keeps a as a peer" has_peer c "${PUB[a]}"

# The fix: no restart, no SIGHUP.
t0=$(now_ms)
chmod 0600 "$T/c.key.next"
runs_key() { [ "$(nsx c wg show "${IFN[c]}" public-key)" = "$1" ]; }
check "c switches to the new key once .next is usable" wait_until 15 runs_key "$new_pub"
printf 'recovery: c runs the new key %d ms after chmod 0600\n' $(( $(now_ms) - t0 ))
assert_eq "c was not restarted" "$c_pid" "${PID[c]}"
check "c is the same process" pid_alive "$c_pid"
PRIV[c]=$new_priv
PUB[c]=$new_pub
check "c's key file holds the new key" wait_until 10 \
	bash -c "[ \"\$(tr -d '\n' <'$T/c.key')\" = '$new_priv' ]"
check "c.key.next was renamed away" wait_until 5 bash -c "[ ! -e '$T/c.key.next' ]"
check "ping a -> c after the recovery" ping_ok a "${OV4[c]}"
check "ping c -> b after the recovery" ping_ok c "${OV4[b]}"
check "a's handshake with c's new key done" wait_until 20 handshake_done a c
check "b's handshake with c's new key done" wait_until 20 handshake_done b c
assert_nomatch "c never called itself REVOKED" 'REVOKED' "$(cat "$T/c.log")"

# The operator forgot PrivateKeyFile.next altogether, and the roster reaches c through b: c
# cannot tell this from a take-over of its name, so it is revoked, but the log says why, and
# the file written afterwards brings c back, again without a restart.
new_priv=$(timeout 10 "$KEYS_BIN" genkey)
new_pub=$(printf '%s
' "$new_priv" | timeout 10 "$KEYS_BIN" pubkey)
keys_admin rotate c --pubkey "$new_pub" >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
mark=$(log_mark c)
roster_hand b
check "a, b, c at serial $SERIAL" wait_until 15 all_at_serial "$SERIAL" a b c
says_missing() {
	log_since c "$mark" |
		grep -q 'REVOKED.*node c has another key now, and PrivateKeyFile.next does not'
}
check "c says its node has another key and PrivateKeyFile.next does not exist" \
	wait_until 10 says_missing
(umask 077; printf '%s\n' "$new_priv" >"$T/c.key.next")
check "c switches to the key written after the roster" wait_until 15 runs_key "$new_pub"
PRIV[c]=$new_priv
PUB[c]=$new_pub
check "ping a -> c under c's second new key" ping_ok a "${OV4[c]}"
check "ping c -> b under c's second new key" ping_ok c "${OV4[b]}"
assert_eq "c was not restarted" "$c_pid" "${PID[c]}"

finish
