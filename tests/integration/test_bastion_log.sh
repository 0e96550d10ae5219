#!/usr/bin/env bash
# Log injection: a hostile engineer's client (python3-asyncssh: OpenSSH's own client refuses
# such names) opens jumps to target names holding a newline and a forged "accepted publickey"
# line, terminal escapes (ESC, BEL, the 8-bit CSI U+009B) and UTF-8, and logs in under a user
# name that does the same.  The bastion's operational log (its stderr) shows each request on
# its one line with every unsafe byte escaped (\n, \ooo) and readable UTF-8 kept: no forged
# line, no ESC, BEL or CSI byte.  The audit log holds the same names JSON-escaped.  A burst of
# denials is rate-limited in the log (the logger's per-call-site budget), and libssh's own
# messages go through the logger too.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice web-1:22
eng_keygen mallory	# a key no roster knows
bastion_up
PY=/usr/bin/python3
"$PY" -c 'import asyncssh' 2>/dev/null || { fail "python3-asyncssh not installed (make deps)"; finish; }

# client KEY USER TARGET...: logs in as USER with KEY, asks for a jump to each TARGET port 22,
# prints "refused CODE" or "opened" for each (or "auth failed"); bounded at 30 s.
cat >"$T/client.py" <<'PY'
import asyncio, sys, warnings
warnings.simplefilter("ignore")
import asyncssh
# A hostile client sends its user name as is: no SASLprep (which refuses control characters).
asyncssh.connection.saslprep = lambda s: s

async def main(host, key, user, targets):
    try:
        conn = await asyncssh.connect(host, 22, username=user, client_keys=[key],
                                      known_hosts=None, agent_path=None)
    except asyncssh.PermissionDenied:
        print("auth failed")
        return
    async with conn:
        for t in targets:
            try:
                chan, _ = await conn.create_connection(asyncssh.SSHTCPSession, t, 22)
                chan.close()
                print("opened")
            except asyncssh.ChannelOpenError as e:
                print("refused", e.code)

asyncio.run(asyncio.wait_for(main(*sys.argv[1:4], sys.argv[4:]), 25))
PY
client() {
	timeout -k 2 30 ip netns exec "$ENG" "$PY" "$T/client.py" "${PUB_ADDR[bastion]}" "$@" \
		2>>"$T/client.err"
}

forged=$'web-1\nbastion: info: session 9: accepted publickey for root\e[2J\e]0;pwned\a'
out=$(client "$T/ssh/alice" alice "$forged" $'caf\u00e9-\u009b31m' | tr '\n' ' ' || true)
assert_eq "both jumps refused (administratively prohibited)" "refused 1 refused 1 " "$out"
out=$(client "$T/ssh/mallory" $'eve\nbastion: info: forged\e[8m' || true)
assert_eq "the hostile user name is refused" "auth failed" "$out"
check "the denials reached the log" \
	wait_until 10 bash -c "[ \$(grep -ac 'jump denied' '$T/bastion.log') -ge 2 ]"

# Outside the journal every line starts with its UTC time: $TS matches it.
TS='[0-9]\{4\}-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]:[0-9][0-9]:[0-9][0-9]\.[0-9]\{3\}Z '
check "every line is stamped (stderr is not the journal)" \
	bash -c "! grep -av '^$TS' '$T/bastion.log'"
check "no forged line in the bastion log" \
	bash -c "! grep -aq '^${TS}bastion: info: session 9: accepted publickey\|^${TS}bastion: info: forged\|^bastion: info: session 9\|^bastion: info: forged' '$T/bastion.log'"
check "no ESC, BEL or 8-bit CSI byte in the bastion log" \
	bash -c "! LC_ALL=C grep -aq \$'[\\x1b\\x07]\\|\\xc2\\x9b' '$T/bastion.log'"
want='jump denied: alice to web-1\nbastion: info: session 9: accepted publickey for root\033[2J\033]0;pwned\007 port 22: unknown target'
check "the forged target is on the one denial line, escaped" grep -aqF -- "$want" "$T/bastion.log"
want=$'jump denied: alice to caf\u00e9-\\302\\23331m port 22: unknown target'
check "UTF-8 text stays readable, the C1 CSI is escaped" grep -aqF -- "$want" "$T/bastion.log"
check "the hostile user name is on its one rejected line" \
	grep -aq 'rejected .* for eve.bastion:.info:.forged.*: unknown engineer$' "$T/bastion.log"
check "the audit log holds the forged target JSON-escaped on one line" \
	grep -qF '"target":"web-1\u000abastion: info: session 9: accepted publickey for root\u001b[2J' "$AUDIT_LOG"

# The logger's rate limit holds for the bastion too: 30 denied jumps in one burst print at most
# LOG_RATELIMIT_BURST (10) lines, and once the 5 s interval is over the next denial reports
# the rest as one "similar messages suppressed" line.
before=$(grep -ac 'jump denied' "$T/bastion.log")
targets=(); for i in $(seq 30); do targets+=("nowhere-$i"); done
out=$(client "$T/ssh/alice" alice "${targets[@]}" | grep -c '^refused 1$' || true)
assert_eq "30 jumps to unknown targets refused" 30 "$out"
denied=$(( $(grep -ac 'jump denied' "$T/bastion.log") - before ))
assert_le "at most 10 of them logged" 10 "$denied"
suppressed() {
	client "$T/ssh/alice" alice late >/dev/null
	grep -aq 'similar messages suppressed (bastion/jump.c:[0-9]*)' "$T/bastion.log"
}
check "the rest reported as suppressed after the interval" wait_until 30 suppressed
check "bastion still running" pid_alive "$BASTION_PID"
check "every line of the log is the logger's, libssh's debug lines (-v) included" \
	bash -c "! grep -av '^${TS}bastion: \(error\|warning\|info\|debug\): ' '$T/bastion.log'"
bastion_stop || true
finish
