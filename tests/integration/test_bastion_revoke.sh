#!/usr/bin/env bash
# One `keys engineer remove` revokes at both layers.  carol has an open jump to web-1 (a remote
# command streaming ticks); `keys engineer remove carol` + publish, handed to db-1 only: the
# roster reaches the bastion host by gossip, the bastion applies it without restart and closes
# carol's open jump within 5 s; her next jump is refused; alice's open jump is untouched; and
# carol's key stops working on web-1's sshd directly too (keys authorized-keys no longer prints
# it), tried from db-1 over the overlay, without the bastion.
. "$(dirname "$0")/lib.sh"

BOUND_S=5
need_bastion
bastion_net_init
bastion_nodes_add web-1 db-1
eng_add alice '*:22'
eng_add carol '*:22'
bastion_up
# carol's key also on db-1, for the direct login (sshd's client side is root in db-1's namespace).
cp "$T/ssh/carol" "$T/ssh/carol.direct"

direct() {
	timeout -k 2 20 ip netns exec "${NS[db-1]}" ssh -F "$T/ssh/carol.config" -i "$T/ssh/carol.direct" \
		-o ProxyJump=none "carol@${OV4[web-1]}" "$@"
}
ak() { timeout 10 "$KEYS_BIN" authorized-keys "$1" --roster "${ROSTER_PATH[web-1]}" --node web-1 --admin-key "$(keys_admin admin-pubkey)" 2>&1; }
# Key blobs hold '+' and '/': quote them for the grep -E in assert_match.
re_quote() { printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'; }
carol_blob=$(re_quote "$(awk '{ print $2 }' "$T/ssh/carol.pub")")

out=$(eng_ssh carol -J carol@bastion web-1 uname -n 2>&1 || true)
assert_eq "carol jumps to web-1 before removal" web-1 "$out"
assert_eq "carol logs in to web-1 directly (from db-1) before removal" web-1 "$(direct uname -n 2>&1 || true)"
assert_match "keys authorized-keys carol on web-1 prints her key" "$carol_blob" "$(ak carol || true)"

# Long jumps: each prints "up", then a tick a second (up to 60 s; alice's is released once
# carol's revocation is checked).
jump_hold carol web-1 60 "$T/carol.jump"
carol_pid=$JUMP_PID
jump_hold alice web-1 60 "$T/alice.jump"
alice_pid=$JUMP_PID

keys_admin engineer remove carol >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
latest=$SERIAL
t0=$(now_ms)
roster_hand db-1
ms=$(converge_ms "$t0" 15 "$latest" jump) || true
log "the bastion host has serial $latest after $ms ms (gossip from db-1)"
t1=$(now_ms)
closed=timeout
for _ in $(seq 200); do
	if ! pid_alive "$carol_pid"; then closed=$(( $(now_ms) - t1 )); break; fi
	sleep 0.05
done
printf 'revocation: carol'"'"'s open jump closed %s ms after the bastion host got the roster (%s ms after the hand-off)\n' \
	"$closed" "$(( $(now_ms) - t0 ))"
assert_le "carol's open jump closed within ${BOUND_S} s of the new roster" $((BOUND_S * 1000)) "${closed/timeout/999999}"
wait "$carol_pid" 2>/dev/null || true
assert_le "carol's jump did not run to its end (ticks seen)" 50 "$(grep -c '^tick' "$T/carol.jump" || true)"

rc=0; out=$(eng_ssh carol -J carol@bastion web-1 uname -n 2>&1) || rc=$?
assert_eq "carol's next jump fails (exit 255)" 255 "$rc"
assert_nomatch "carol's next jump never reaches web-1" '^web-1$' "$out"
rc=0; out=$(eng_ssh carol -W web-1:22 bastion </dev/null 2>&1) || rc=$?
assert_match "carol is refused at the bastion's authentication" 'Permission denied' "$out"

# The nodes: web-1 gets the roster by gossip too; then sshd no longer accepts her key.
check "web-1 and db-1 at serial $latest" wait_until 15 all_at_serial "$latest" web-1 db-1
assert_nomatch "keys authorized-keys carol on web-1 no longer prints her key" "$carol_blob" "$(ak carol || true)"
assert_match "keys authorized-keys alice on web-1 still prints alice's key" \
	"$(re_quote "$(awk '{ print $2 }' "$T/ssh/alice.pub")")" "$(ak alice || true)"
rc=0; out=$(direct uname -n 2>&1) || rc=$?
assert_match "carol's key refused by web-1's sshd directly (exit $rc)" 'Permission denied' "$out"

# alice was not touched.
jump_release "$T/alice.jump"
check "alice's open jump ran to its end" wait_until 20 grep -q '^done' "$T/alice.jump"
wait "$alice_pid" 2>/dev/null || true
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "alice still jumps to web-1" web-1 "$out"

assert_ge "audit: config_reload with serial $latest" 1 \
	"$(grep -F '"event":"config_reload"' "$AUDIT_LOG" | grep -c "\"serial\":$latest[,}]" || true)"
assert_ge "audit: carol's jump closed" 1 "$(audit_count jump_close engineer=carol)"
check "bastion still running" pid_alive "$BASTION_PID"
bastion_stop || true
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "keys audit verify: the run's log verifies" '^OK: ' "$out"

finish
