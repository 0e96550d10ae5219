#!/usr/bin/env bash
# A roster that expires (docs/roster.md, "Expiry"): machines fail open, humans fail closed.
# A roster published with `keys publish --valid 30s` reaches every node; alice opens a long
# jump to web-1 while it is valid.  Once it has expired:
#   - the tunnels stay: jump pings web-1 and db-1 over the overlay, and the open jump runs on;
#   - the bastion refuses every new jump (audited with reason "roster expired", counted in
#     bastion_jumps_total, bastion_roster_expired 1) and logs the expiry once;
#   - tunneld logs it once and exports tunneld_roster_expired 1;
#   - `keys authorized-keys` on web-1 prints no key and says why, so web-1's sshd refuses
#     alice directly too;
#   - `keys push` refuses to send the expired roster; `keys publish --valid 0` refuses to make one;
#   - the reason `keys authorized-keys` gives reaches syslog (sshd discards its stderr).
# `keys publish --renew` (a new serial of what is published, never an unpublished edit) brings
# every engineer back without a restart.
# run-all: early (60 s, half of it waiting for a roster to expire)
. "$(dirname "$0")/lib.sh"

# Long enough for the checks while it is valid (5 s alone, 3 s of them after the publish; under
# CI's load about three times that): the test logs the seconds left when they are done.
VALID_S=30
TPORT=9586
BPORT=9587
need_bastion
bastion_net_init
bastion_nodes_add web-1 db-1
eng_add alice '*:22'
for n in jump web-1; do
	rnode_conf "$n"
	printf 'MetricsListen = 127.0.0.1:%s\n' "$TPORT" >>"$(conf_file "$n")"
done
bastion_up "MetricsListen = $BPORT"
admin_pub=$(keys_admin admin-pubkey)

scrape() { nsx "$1" curl -sS --max-time 10 "http://127.0.0.1:$2/metrics"; }
metric() { scrape "$1" "$2" | awk -v s="$3" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }'; }
ak() { timeout 10 "$KEYS_BIN" authorized-keys "$1" --roster "${ROSTER_PATH[web-1]}" --node web-1 \
	--admin-key "$admin_pub" 2>&1; }
direct() {
	timeout -k 2 20 ip netns exec "${NS[db-1]}" ssh -F "$T/ssh/alice.config" -i "$T/ssh/alice.direct" \
		-o ProxyJump=none "alice@${OV4[web-1]}" "$@"
}
cp "$T/ssh/alice" "$T/ssh/alice.direct"

# The first roster carries the default validity (RosterValidity, 30 days).
exp=$(keys_admin status --node --roster "${ROSTER_PATH[web-1]}" --json | sed -n 's/.*"expires": "\([^"]*\)".*/\1/p')
assert_match "the first roster expires (default validity) [$exp]" '^20[0-9-]+T[0-9:]+Z$' "$exp"
e1=$(date -ud "$exp" +%s)
assert_le "... about 30 days after now" $(( $(date +%s) + 30 * 86400 + 60 )) $((e1 + 0))
assert_ge "... not less" $(( $(date +%s) + 30 * 86400 - 600 )) $((e1 + 0))

# keys publish refuses a roster expired as it is made.
rc=0; keys_admin publish --valid 0 >"$T/p0.out" 2>"$T/p0.err" || rc=$?
assert_eq "keys publish --valid 0 fails" 1 "$rc"
assert_match "... saying why" 'would be expired as it is published' "$(cat "$T/p0.err")"
rc=0; keys_admin publish --valid 1x >/dev/null 2>"$T/p1.err" || rc=$?
assert_eq "keys publish --valid 1x is a usage error" 2 "$rc"

roster_publish --valid "${VALID_S}s"
short=$SERIAL
t_pub=$(date +%s)
roster_hand db-1
check "every node at serial $short" wait_until 30 all_at_serial "$short" jump web-1 db-1
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "alice jumps to web-1 while the roster is valid" web-1 "$out"
# Released (jump_release) once the renewal is checked; the seconds only bound it.
jump_hold alice web-1 $((VALID_S + 60)) "$T/long.jump"
long_pid=$JUMP_PID
assert_eq "tunneld: tunneld_roster_expired 0 while valid" 0 "$(metric jump "$TPORT" tunneld_roster_expired)"

# Past the expiry (and one bastion tick / tunneld expiry tick more).
left=$(( t_pub + VALID_S + 1 - $(date +%s) ))
log "the checks while valid took $((VALID_S + 1 - left)) s of the roster's $VALID_S"
[ "$left" -le 0 ] || sleep "$left"
log "roster serial $short expired at $(date -ud @$((t_pub + VALID_S)) +%FT%TZ)"

check "tunnels stay: jump pings web-1" ping_ok jump "${OV4[web-1]}"
check "tunnels stay: jump pings db-1" ping_ok jump "${OV4[db-1]}"
check "tunnels stay: web-1 pings db-1" ping_ok web-1 "${OV4[db-1]}"
rc=0; out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1) || rc=$?
assert_eq "a new jump after the expiry fails (exit 255)" 255 "$rc"
assert_nomatch "... and never reaches web-1" '^web-1$' "$out"
out=$(eng_ssh alice -o LogLevel=INFO -W web-1:22 bastion 2>&1 </dev/null || true)
assert_match "... refused by the bastion after authentication" 'administratively prohibited' "$out"
assert_ge "audit: the jump denied for 'roster expired'" 1 \
	"$(grep -F '"event":"jump_deny"' "$AUDIT_LOG" | grep -cF '"reason":"roster expired"' || true)"
assert_eq "bastion: bastion_roster_expired 1" 1 "$(metric jump "$BPORT" bastion_roster_expired)"
assert_ge "bastion: the refusal counted by reason" 1 \
	"$(metric jump "$BPORT" 'bastion_jumps_total{result="refused",reason="roster_expired"}' | sed 's/none/0/')"
check "bastion: the expiry logged" wait_until 10 grep -q "roster serial $short expired at .*every new jump is refused" "$T/bastion.log"
assert_eq "... once" 1 "$(grep -c "roster serial $short expired at" "$T/bastion.log")"
assert_eq "tunneld: tunneld_roster_expired 1" 1 "$(metric jump "$TPORT" tunneld_roster_expired)"
check "tunneld on web-1: the expiry logged" wait_until 15 grep -q "roster serial $short expired at .*tunnels stay up" "$T/web-1.log"
out=$(ak alice) && rc=0 || rc=$?
assert_eq "keys authorized-keys alice on web-1 fails" 1 "$rc"
assert_match "... saying the roster expired" "roster serial $short expired at .* engineer logins are refused" "$out"
assert_nomatch "... and prints no key" 'ssh-ed25519' "$out"
rc=0; out=$(direct uname -n 2>&1) || rc=$?
assert_match "web-1's sshd refuses alice directly (exit $rc)" 'Permission denied' "$out"
# sshd throws an AuthorizedKeysCommand's stderr away: the reason goes to syslog (authpriv) too.
# A private mount namespace gives keys a /dev/log that is this test's socket.
python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); s.settimeout(20)
try:
    d = s.recv(65536)
    sys.stdout.write(d.decode(errors="replace") + "\n")
except OSError:
    pass
' "$T/log.sock" >"$T/syslog.txt" 2>&1 &
syslog_pid=$!
BG_PIDS+=($syslog_pid)
wait_until 5 test -S "$T/log.sock" || true
mkdir -p "$T/dev"
touch "$T/dev/null" "$T/dev/urandom" "$T/dev/log"
unshare -m --propagation private bash -c '
	mount --bind /dev/null "$1/dev/null" && mount --bind /dev/urandom "$1/dev/urandom" &&
	mount --bind "$1/log.sock" "$1/dev/log" && mount --rbind "$1/dev" /dev &&
	timeout 10 "$2" authorized-keys alice --roster "$3" --node web-1 --admin-key "$4" \
		>/dev/null 2>&1' _ "$T" "$KEYS_BIN" "${ROSTER_PATH[web-1]}" "$admin_pub" || true
wait "$syslog_pid" 2>/dev/null || true
assert_match "... and to syslog as authpriv.err (<83>)" \
	"^<83>.*keys.*roster serial $short expired at" "$(cat "$T/syslog.txt")"
rc=0; keys_admin push -o "UserKnownHostsFile=/dev/null" 198.51.100.250 >"$T/push.out" 2>"$T/push.err" || rc=$?
assert_eq "keys push of the expired roster fails" 1 "$rc"
assert_match "... before any host, saying why" "serial $short\\) expired at .*renew it first" "$(cat "$T/push.err")"
out=$(keys_admin status --node --roster "${ROSTER_PATH[web-1]}")
assert_match "keys status --node shows it expired" '^expires .* \(expired\)$' "$out"
check "alice's jump opened before the expiry is still running" pid_alive "$long_pid"

# A renewal brings the engineers back, without a restart.  An edit nobody published yet (carol)
# stays unpublished: `keys publish --renew` re-signs what is published, never the working roster.
eng_add carol '*:22'
roster_publish --renew
fresh=$SERIAL
assert_eq "keys publish --renew: a new serial" $((short + 1)) "$fresh"
assert_nomatch "... without carol, who was never published" '^engineer carol$' "$(cat "$ADMIN/roster.signed")"
assert_match "... with a fresh expires" '^expires ' "$(cat "$ADMIN/roster.signed")"
assert_match "keys diff still shows carol pending" 'carol' "$(keys_admin diff 2>&1 || true)"
roster_hand web-1
check "every node at serial $fresh" wait_until 30 all_at_serial "$fresh" jump web-1 db-1
check "bastion: serial $fresh applied" wait_until 10 grep -q "roster serial $fresh applied" "$T/bastion.log"
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "alice jumps to web-1 again" web-1 "$out"
assert_eq "bastion: bastion_roster_expired 0" 0 "$(metric jump "$BPORT" bastion_roster_expired)"
assert_eq "tunneld: tunneld_roster_expired 0" 0 "$(metric jump "$TPORT" tunneld_roster_expired)"
assert_match "keys authorized-keys alice on web-1 prints her key again" 'ssh-ed25519' "$(ak alice || true)"
jump_release "$T/long.jump"
check "alice's open jump ran to its end" wait_until 20 grep -q '^done' "$T/long.jump"
check "bastion still running" pid_alive "$BASTION_PID"
bastion_stop || true
finish
