#!/usr/bin/env bash
# Limits on refused requests (issue 8 item 5): an engineer (python3-asyncssh, her own valid
# key) floods the bastion with requests it refuses.  20,000 direct-tcpip opens to a port she
# may not reach, 100 at a time: the session is closed after REFUSAL_SESSION_MAX (32) refusals
# and the audit log gains at most 33 lines (each refusal under the limit, then one
# session_deny); the same for remote-forwarding requests and extra session channels.  Then ten
# sessions one after another: the engineer's budget (REFUSAL_ENGINEER_BURST, 128) bounds the
# lines of all of them together.  The log still verifies; she can still jump.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice web-1:22
bastion_up

PY=/usr/bin/python3
"$PY" -c 'import asyncssh' 2>/dev/null || { fail "python3-asyncssh not installed (make deps)"; exit 1; }
jump_ok() { [ "$(eng_ssh alice -J alice@bastion web-1 uname -n 2>/dev/null)" = web-1 ]; }
check "alice: ssh -J works" jump_ok

# flood MODE COUNT [TARGET]: one session's flood; prints the script's stats line.
flood() {
	timeout -k 2 90 ip netns exec "$ENG" "$PY" "$ROOT/tests/integration/refusal_flood.py" \
		"${PUB_ADDR[bastion]}" 22 alice "$T/ssh/alice" "$2" 60 "$1" ${3:+"$3"} 2>"$T/flood.err" ||
		log "flood $1: exit $?: $(grep -v Warning "$T/flood.err" | grep -v '^  from' | tail -n 3)"
}
field() { sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" <<<"$1"; }
denies() { echo $(( $(audit_count jump_deny) + $(audit_count session_deny) )); }

# ---- One session, 20,000 denied jumps (web-1 port 23: alice may reach only 22).
before=$(denies)
out=$(flood direct 20000 web-1:23 || true)
log "direct: $out"
assert_eq "direct: the bastion closed the session" 1 "$(field "$out" closed)"
assert_le "direct: within 60 s (ms)" 60000 "$(field "$out" ms)"
assert_le "direct: refused at most 32 + one window (100) before the close" 132 "$(field "$out" refused)"
assert_le "direct: at most 33 audit lines for the whole flood" 33 $(( $(denies) - before ))
assert_eq "direct: closed once, audited once (session limit)" 1 \
	"$(audit_count session_deny reason='refused requests: session limit')"

# ---- Remote forwarding requests, and session channels past the first.
before=$(denies)
out=$(flood forward 20000 || true)
log "forward: $out"
assert_eq "forward: the bastion closed the session" 1 "$(field "$out" closed)"
assert_le "forward: at most 33 audit lines" 33 $(( $(denies) - before ))
before=$(denies)
out=$(flood session 20000 || true)
log "session: $out"
assert_eq "session: the bastion closed the session" 1 "$(field "$out" closed)"
assert_le "session: at most 33 audit lines" 33 $(( $(denies) - before ))

# ---- Ten sessions in a row: the engineer's budget (128, one back a second) bounds them all.
before=$(denies)
t0=$(now_ms)
for i in $(seq 1 10); do
	out=$(flood direct 20000 web-1:23 || true)
	[ "$(field "$out" closed)" = 1 ] || fail "engineer flood, session $i: not closed ($out)"
done
secs=$(( ($(now_ms) - t0) / 1000 + 1 ))
n=$(( $(denies) - before ))
log "ten sessions: $n audit lines in $secs s"
# Without the engineer limit: 10 x 33 = 330.  With it: what was left of 128 after the floods
# above, one more a second, and one closing line per session.
assert_le "ten sessions: at most 128 + 1/s + 10 audit lines" $((128 + secs + 10)) "$n"
assert_ge "ten sessions: closed for the engineer limit" 1 \
	"$(audit_count session_deny reason='refused requests: engineer limit')"

check "bastion still running" pid_alive "$BASTION_PID"
check "alice: ssh -J still works (her jumps are not refusals)" jump_ok
bastion_stop || true
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "keys audit verify: the log verifies" '^OK: ' "$out"
finish
