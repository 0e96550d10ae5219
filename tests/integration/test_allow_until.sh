#!/usr/bin/env bash
# Time-limited access: `keys engineer set bob --allow web-1:22 --until +30s` (docs/roster.md,
# "Engineers").  While the line is in force bob jumps to web-1 and web-1's sshd takes his key
# (keys authorized-keys); when its until passes, the bastion closes bob's open jump ("access
# expired", audited) within 2 s, refuses his next jump with that reason, and keys
# authorized-keys on web-1 no longer prints his key, all without a new roster.  alice, whose
# line has no until, is untouched.  `--until` in the past or misspelled changes nothing.
# run-all: early (50 s, half of it waiting for an allow line to end)
. "$(dirname "$0")/lib.sh"

# Long enough for the checks while the line is in force (3 s alone; under CI's load about three
# times that): the test logs the seconds they took.
VALID_S=30
need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice '*:22'
eng_add bob 'web-1:80'
bastion_up
admin_pub=$(keys_admin admin-pubkey)
ak() { timeout 10 "$KEYS_BIN" authorized-keys "$1" --roster "${ROSTER_PATH[web-1]}" --node web-1 \
	--admin-key "$admin_pub" 2>&1; }
re_quote() { printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'; }
bob_blob=$(re_quote "$(awk '{ print $2 }' "$T/ssh/bob.pub")")

rc=0; keys_admin engineer set bob --allow web-1:22 --until 2020-01-01T00:00Z >/dev/null 2>"$T/e1" || rc=$?
assert_eq "--until in the past is refused" 1 "$rc"
assert_match "... saying why" 'not in the future' "$(cat "$T/e1")"
rc=0; keys_admin engineer set bob --allow web-1:22 --until tomorrow >/dev/null 2>"$T/e2" || rc=$?
assert_eq "--until tomorrow is refused" 1 "$rc"
assert_match "... naming the forms it takes" 'YYYY-MM-DDTHH:MMZ.*\+DURATION' "$(cat "$T/e2")"
assert_match "... and nothing changed (keys diff)" 'no changes|nothing' "$(keys_admin diff 2>&1 || true)"

keys_admin engineer set bob --allow web-1:22 --until "+${VALID_S}s" >>"$T/keys.out" 2>>"$T/keys.err"
t_set=$(date +%s)
out=$(keys_admin show bob)
assert_match "keys show bob: the line with its until" 'allow web-1:22 until 20[0-9-]+T[0-9:]+Z' "$out"
out=$(keys_admin show bob --json)
assert_match "keys show bob --json: until" '"target": "web-1", "ports": \[22, 22\], "until": "20' "$out"
roster_publish
roster_hand web-1
check "web-1 and jump at serial $SERIAL" wait_until 30 all_at_serial "$SERIAL" web-1 jump

out=$(eng_ssh bob -J bob@bastion web-1 uname -n 2>&1 || true)
assert_eq "bob jumps to web-1 while his line is in force" web-1 "$out"
assert_match "keys authorized-keys bob on web-1 prints his key" "$bob_blob" "$(ak bob || true)"
jump_hold bob web-1 $((VALID_S + 40)) "$T/bob.jump"
bob_pid=$JUMP_PID
# Released (jump_release) once bob's line has ended; the seconds only bound it.
jump_hold alice web-1 $((VALID_S + 60)) "$T/alice.jump"

# The line's until passes: no new roster, no restart.
until_s=$((t_set + VALID_S))
log "the checks while bob's line was in force took $(( $(date +%s) - t_set )) s of its $VALID_S"
while [ "$(date +%s)" -lt "$until_s" ]; do sleep 0.2; done
closed=$(exit_ms "$bob_pid" 5)
log "bob's open jump closed $closed ms after his line's until"
assert_le "bob's open jump closed within 2 s of the until" 2000 "${closed/timeout/999999}"
check "audit: bob's jump closed as 'access expired'" wait_until 5 \
	bash -c "grep -F '\"event\":\"jump_close\"' '$AUDIT_LOG' | grep -F '\"engineer\":\"bob\"' | grep -qF 'access expired'"
rc=0; out=$(eng_ssh bob -J bob@bastion web-1 uname -n 2>&1) || rc=$?
assert_eq "bob's next jump fails (exit 255)" 255 "$rc"
assert_nomatch "... and never reaches web-1" '^web-1$' "$out"
assert_ge "audit: the jump denied for 'access expired'" 1 \
	"$(grep -F '"event":"jump_deny"' "$AUDIT_LOG" | grep -F '"engineer":"bob"' | grep -cF '"reason":"access expired"' || true)"
out=$(ak bob) && rc=0 || rc=$?
assert_eq "keys authorized-keys bob on web-1 exits 0 (an engineer with no access)" 0 "$rc"
assert_nomatch "... and no longer prints his key" "$bob_blob" "$out"
jump_release "$T/alice.jump"
check "alice's open jump is untouched and runs to its end" wait_until 20 grep -q '^done' "$T/alice.jump"
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "alice still jumps to web-1" web-1 "$out"
check "bastion still running" pid_alive "$BASTION_PID"
bastion_stop || true
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "keys audit verify: the run's log verifies" '^OK: ' "$out"
finish
