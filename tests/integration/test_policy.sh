#!/usr/bin/env bash
# Node-to-node policy (issue 11).  Three nodes start with no policy; a stream db pushes to ops
# on a connection ops opened to db:6000 runs.  Then README's block publishes `policy default
# deny` with web -> db tcp/5432 (and the bastion's jumps): the stream stops (conntrack first
# saw it by db's answer, and an answer alone does not make it db's own); web reaches db:5432, at
# its overlay address and at db's LAN address alike (a node is every address it has), not
# db:5433; node ops (not in group web) reaches neither; what db opens to web is refused by
# web's policy; the drops are counted by rule on db's metrics page.  In the middle of a
# transfer web -> db:5432 a new roster opens tcp/5433, denies ops' pings and denies web
# tcp/5434 by web's IPv4 address (which covers its IPv6 address too): the transfer goes on;
# and a third one takes tcp/5432 away: the transfer stops, a new connection is refused, the
# tunnel stays up without a new handshake; db learns that roster by gossip, which no policy
# can close.  keys: policy test answers as db enforces; unknown groups, edits that would block
# the bastion's jumps, and a revoke that empties a group a rule names are refused; keys diff
# and policy list show the policy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_readme.sh"

command -v nft >/dev/null || skip "nft (nftables) not installed"
nc -h 2>&1 | grep -q OpenBSD || skip "OpenBSD netcat (netcat-openbsd) not installed"

MPORT=9586
roster_admin_init
rnode_add db-1 1
rnode_add web-1 2
rnode_add ops 3
rnode_enroll db-1 --group db --subnet 10.20.0.0/24
rnode_enroll web-1 --group web
rnode_enroll ops --group ops

if keys_admin policy allow group:nope group:db tcp/5432 >/dev/null 2>"$T/nope.err"; then
	fail "keys took a rule naming an unknown group"
else
	pass "keys refuses a rule naming an unknown group"
fi
assert_match "the refusal names the group" "nope" "$(cat "$T/nope.err")"

# The bastion's node (group bastion; never started here) and an engineer allowed on db:22.
# A second bastion node, and bob, allowed on a host inside db's subnet: the guard checks
# every bastion node and the subnet's hosts too.
rnode_add jump 4
rnode_enroll jump --group bastion
rnode_add jump2 5
rnode_enroll jump2 --group bastion
mkdir -p "$T/ssh"
for e in alice bob; do ssh-keygen -q -t ed25519 -N '' -C "$e" -f "$T/ssh/$e" </dev/null; done
keys_admin engineer add alice --ssh-key "$T/ssh/alice.pub" --allow 'group:db:22' \
	>>"$T/keys.out" 2>>"$T/keys.err"
keys_admin engineer add bob --ssh-key "$T/ssh/bob.pub" --allow '10.20.0.5/32:22' \
	>>"$T/keys.out" 2>>"$T/keys.err"
cp "$ADMIN/roster" "$T/roster.before"
rc=0
keys_admin policy default deny >"$T/lockout.out" 2>&1 || rc=$?
assert_eq "keys refuses a default deny that would lock the bastion out" 1 "$rc"
assert_match "the refusal names the jump it would block" \
	"block the bastion's node jump from db-1 tcp/22, which alice's allow line 'group:db' grants" \
	"$(cat "$T/lockout.out")"
assert_match "and a jump to a host inside db's subnet" \
	"block the bastion's node jump from 10.20.0.5/32 tcp/22, which bob's allow line '10.20.0.5/32' grants" \
	"$(cat "$T/lockout.out")"
assert_match "and the second bastion node's jumps" "block the bastion's node jump2 from db-1 tcp/22" \
	"$(cat "$T/lockout.out")"
keys_admin policy allow jump '*' tcp/22 >>"$T/keys.out" 2>>"$T/keys.err"
rc=0
keys_admin policy default deny >"$T/lockout2.out" 2>&1 || rc=$?
assert_eq "with only the first bastion node allowed, default deny is still refused" 1 "$rc"
assert_match "naming jump2" "jump2 from db-1 tcp/22" "$(cat "$T/lockout2.out")"
keys_admin policy remove allow jump '*' tcp/22 >>"$T/keys.out" 2>>"$T/keys.err"
check "the refused edit left the working roster as it was" cmp -s "$ADMIN/roster" "$T/roster.before"
# reaches FROM TO PORT [SECONDS]: a TCP connection to TO's overlay address is accepted.
reaches() {
	timeout -k 2 10 ip netns exec "${NS[$1]}" nc -n -z -w "${4:-4}" "${OV4[$2]}" "$3" \
		>/dev/null 2>&1
}
# reaches_addr FROM ADDR PORT [SECONDS]: the same to an address ([v6] as nc takes it: bare).
reaches_addr() {
	timeout -k 2 10 ip netns exec "${NS[$1]}" nc -n -z -w "${4:-4}" "$2" "$3" >/dev/null 2>&1
}
blocked_addr() { ! reaches_addr "$1" "$2" "$3" 2; }
# blocked FROM TO PORT: no connection within 2 s (a dropped SYN gets no answer at all; each
# blocked check is paired with one that reaches the same listener from elsewhere or later).
blocked() { ! reaches "$1" "$2" "$3" 2; }
listen() {
	ip netns exec "${NS[$1]}" timeout -k 2 "$(time_left)" nc -4 -n -l -k "$2" >>"$T/recv.$1.$2" 2>/dev/null &
	BG_PIDS+=($!)
	wait_until 10 listening "$1" "$2"
}
scrape() { nsx "$1" curl -sS --max-time 10 "http://127.0.0.1:$MPORT/metrics" 2>&1; }

roster_publish		# no policy yet
for n in db-1 web-1 ops; do
	rnode_provision "$n"
	rnode_conf "$n"
	printf 'MetricsListen = 127.0.0.1:%s\n' "$MPORT" >>"$(conf_file "$n")"
	# ops runs without the overlay firewall's address rules: its policy must hold anyway.
	[ "$n" = ops ] && printf 'OverlayFirewall = off\n' >>"$(conf_file "$n")"
	rnode_start "$n"
done
listen db-1 5432
listen db-1 5433
listen web-1 8080
listen ops 8080
ip netns exec "${NS[db-1]}" timeout -k 2 "$(time_left)" nc -6 -n -l -k 5434 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening db-1 5434
# db's LAN address, inside its routed subnet: local to db like its overlay address (on lo: this
# kernel has no dummy interfaces, and where it sits does not matter to Linux).
ip -n "${NS[db-1]}" addr add 10.20.0.1/32 dev lo

# The stream: db pushes a line every 0.1 s on a connection ops opened to db:6000.  ops' own
# policy will let db's packets in (allow db-1 -> ops tcp); only db's can stop the stream.
ip netns exec "${NS[db-1]}" timeout -k 2 "$(time_left)" bash -c \
	"while sleep 0.1; do echo push; done | nc -4 -n -l 6000" >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening db-1 6000
ip netns exec "${NS[ops]}" timeout -k 2 "$(time_left)" nc -4 -n -d "${OV4[db-1]}" 6000 \
	>"$T/push.recv" 2>/dev/null &
BG_PIDS+=($!)
size_of() { stat -c %s "$1" 2>/dev/null || echo 0; }
grows_file() { local s; s=$(size_of "$1"); sleep 1.5; [ "$(size_of "$1")" -gt "$s" ]; }
stopped_file() { local s; s=$(size_of "$1"); sleep 2; [ "$(size_of "$1")" = "$s" ]; }
check "db's stream to ops on ops' connection to db:6000 runs (no policy yet)" \
	wait_until 10 grows_file "$T/push.recv"


keys_admin policy allow db-1 ops tcp >>"$T/keys.out" 2>>"$T/keys.err"
# README's block, as written (the admin directory is ~/warren there), publishes the policy.
mkdir -p "$T/home"
ln -s "$ADMIN" "$T/home/warren"
readme_block policy | strict >"$T/readme-policy.sh"
if (cd "$T/home" && HOME=$T/home PATH=$(dirname "$KEYS_BIN"):$PATH timeout 60 sh "$T/readme-policy.sh") \
	>"$T/readme-policy.out" 2>&1; then
	pass "README's policy block runs as written"
else
	fail "README's policy block: $(tail -n 3 "$T/readme-policy.out")"
fi
readme_out=$(cat "$T/readme-policy.out")
assert_match "its keys policy test says allowed" \
	"^allowed: web-1 -> db-1 tcp/5432, by 'policy allow group:web -> group:db tcp/5432'$" "$readme_out"
assert_match "its keys diff shows an added rule" "^\+ policy allow group:web -> group:db tcp/5432$" "$readme_out"
assert_match "its keys diff shows the new default" "^~ policy default deny \(was allow\)$" "$readme_out"
SERIAL=$(roster_serial_of "$ADMIN/roster.signed")
assert_match "it published the policy" "^policy default deny$" "$(cat "$ADMIN/roster.signed")"

for n in db-1 web-1 ops; do roster_hand "$n"; done
check "every node runs the policy's serial $SERIAL" wait_until 15 all_at_serial "$SERIAL" db-1 web-1 ops
check "the stream on ops' connection to db:6000 stops: db's policy does not allow it" \
	wait_until 10 stopped_file "$T/push.recv"

rc=0
keys_admin policy remove allow group:bastion '*' tcp/22 >"$T/lockout.out" 2>&1 || rc=$?
assert_eq "keys refuses to remove the rule the jumps need" 1 "$rc"
check "with --force it does" keys_admin policy remove allow group:bastion '*' tcp/22 --force
keys_admin policy allow group:bastion '*' tcp/22 >>"$T/keys.out" 2>>"$T/keys.err"
keys_admin policy allow '*' '*' icmp >>"$T/keys.out" 2>>"$T/keys.err"
diff_out=$(keys_admin diff 2>&1)
assert_match "keys diff shows only the icmp rule as added" "^\+ policy allow \* -> \* icmp$" "$diff_out"
assert_nomatch "keys diff: the removed and re-added rule is no change" "group:bastion" "$diff_out"
assert_match "keys diff --json lists the added rules" \
	'"policy_added": \["allow \* -> \* icmp"\]' "$(keys_admin diff --json 2>&1)"
for cmd in "diff --json" "policy list --json"; do
	# shellcheck disable=SC2086
	if keys_admin $cmd 2>/dev/null | python3 -c 'import json, sys; json.load(sys.stdin)'; then
		pass "keys $cmd is JSON (python3 json)"
	else
		fail "keys $cmd is not JSON"
	fi
done
assert_eq "keys policy list --json" \
	'{"default": "deny", "rules": ["allow * -> * icmp", "allow db-1 -> ops tcp", "allow group:bastion -> * tcp/22", "allow group:web -> group:db tcp/5432"]}' \
	"$(keys_admin policy list --json 2>&1)"
roster_publish
for n in db-1 web-1 ops; do roster_hand "$n"; done
check "every node runs serial $SERIAL (icmp allowed)" wait_until 15 all_at_serial "$SERIAL" db-1 web-1 ops

check "keys policy test: web -> db tcp/5432 allowed (exit 0)" \
	keys_admin policy test web-1 db-1 tcp/5432
rc=0
keys_admin policy test web-1 db-1 tcp/5433 >"$T/test.out" 2>&1 || rc=$?
assert_eq "keys policy test: web -> db tcp/5433 denied (exit 1)" 1 "$rc"
assert_match "keys policy test names the deciding default" "by the default" "$(cat "$T/test.out")"

check "web pings db (icmp allowed)" ping_ok web-1 "${OV4[db-1]}"
check "web reaches db:5432 (allowed)" wait_until 15 reaches web-1 db-1 5432
# The connections that must not get through, each waiting out its 2 s, at once.
check_bg "web cannot reach db:5433 (default deny)" blocked web-1 db-1 5433
check_bg "web cannot reach db's LAN address 10.20.0.1:5433" blocked_addr web-1 10.20.0.1 5433
check_bg "ops cannot reach db:5432 (not in group web)" blocked ops db-1 5432
# web's own default deny: what db opens to web is refused there, and what web opened to db
# had its answers come back (the accepted connection above) by conntrack.
check_bg "db cannot reach web:8080 (web's policy: default deny)" blocked db-1 web-1 8080
check_bg "web cannot reach ops:8080: ops' policy holds under OverlayFirewall = off" \
	blocked web-1 ops 8080
check "web reaches db's LAN address 10.20.0.1:5432 too: a node is every address it has" \
	reaches_addr web-1 10.20.0.1 5432
check "ops pings db" ping_ok ops "${OV4[db-1]}"
checks_wait
ops_table=$(ip netns exec "${NS[ops]}" nft list table inet "warren-${IFN[ops]}" 2>&1)
assert_match "ops' table holds the policy chain" "chain node_policy" "$ops_table"
assert_nomatch "and no address rule (OverlayFirewall = off)" "daddr [0-9a-f.:]+ drop" "$ops_table"
listing=$(ip netns exec "${NS[db-1]}" nft list table inet "warren-${IFN[db-1]}" 2>&1)
assert_match "db's table has the policy chain" "hook prerouting" "$listing"
assert_match "db's allow rule carries its roster text" \
	'comment "allow group:web -> group:db tcp/5432"' "$listing"
page=$(scrape db-1)
assert_match "db counts the default's drops" \
	'tunneld_policy_dropped_packets_total\{rule="default deny"\} [1-9]' "$page"
assert_match "db says its policy is in force" '^tunneld_policy_applied 1' "$page"

# The transfer: a line every 0.1 s from web to db:5432, for as long as the test may run.
ip netns exec "${NS[web-1]}" timeout -k 2 "$(time_left)" bash -c \
	"while sleep 0.1; do echo data; done | nc -4 -n ${OV4[db-1]} 5432" >/dev/null 2>&1 &
BG_PIDS+=($!)
size() { stat -c %s "$T/recv.db-1.5432" 2>/dev/null || echo 0; }
grows() { local s; s=$(size); sleep 1.5; [ "$(size)" -gt "$s" ]; }
check "the transfer web -> db:5432 runs" wait_until 10 grows
handshakes() { scrape "$1" | sed -n 's/^tunneld_handshakes_completed_total //p'; }
hs_before=$(handshakes db-1)

keys_admin policy allow group:web group:db tcp/5433 >>"$T/keys.out" 2>>"$T/keys.err"
keys_admin policy deny ops db-1 icmp >>"$T/keys.out" 2>>"$T/keys.err"
keys_admin policy allow group:web group:db tcp/5434 >>"$T/keys.out" 2>>"$T/keys.err"
keys_admin policy deny 100.64.0.2/32 db-1 tcp/5434 >>"$T/keys.out" 2>>"$T/keys.err"
rc=0
keys_admin policy test web-1 db-1 tcp/5434 >/dev/null 2>&1 || rc=$?
assert_eq "keys policy test: web's IPv4 address denies web (the node) tcp/5434" 1 "$rc"
roster_publish
roster_hand db-1
roster_hand web-1
check "db and web run serial $SERIAL (5433 allowed too; ops may not ping db)" \
	wait_until 15 all_at_serial "$SERIAL" db-1 web-1
check "web reaches db:5433 under the new policy" wait_until 15 reaches web-1 db-1 5433
check "the transfer to 5432 goes on across the change" grows
no_ping() { ! timeout -k 2 10 ip netns exec "${NS[$1]}" ping -n -q -c 2 -i 0.2 -w 2 "$2" >/dev/null 2>&1; }
check_bg "ops cannot ping db: the deny wins over 'allow * -> * icmp'" no_ping ops "${OV4[db-1]}"
check_bg "ops cannot ping db's LAN address either" no_ping ops 10.20.0.1
check_bg "web cannot reach db:5434 over IPv6: a deny by web's IPv4 address covers web" \
	blocked_addr web-1 "${OV6[db-1]}" 5434
check "web still pings db" ping_ok web-1 "${OV4[db-1]}"
checks_wait
assert_match "db counts it by that rule" \
	'tunneld_policy_dropped_packets_total\{rule="deny 100.64.0.2/32 -> db-1 tcp/5434"\} [1-9]' "$(scrape db-1)"
assert_match "db counts the deny rule's drops by its text" \
	'tunneld_policy_dropped_packets_total\{rule="deny ops -> db-1 icmp"\} [1-9]' "$(scrape db-1)"

# This one is handed to web only: db learns it by gossip, which default deny leaves open.
keys_admin policy remove allow group:web group:db tcp/5432 >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand web-1
check "db and web run serial $SERIAL (5432 taken away; db's by gossip)" \
	wait_until 40 all_at_serial "$SERIAL" db-1 web-1
stopped() { local s; s=$(size); sleep 2; [ "$(size)" = "$s" ]; }
check "the transfer to 5432 stops under the new policy" wait_until 10 stopped
check "web cannot open db:5432 any more" blocked web-1 db-1 5432
check "web still reaches db:5433" reaches web-1 db-1 5433
check "the tunnel itself stays: web pings db" ping_ok web-1 "${OV4[db-1]}"
assert_eq "no session was touched: db completed no handshake across the two changes" \
	"$hs_before" "$(handshakes db-1)"
page=$(scrape db-1)
assert_match "db counts the drops of the cut transfer under the default" \
	'tunneld_policy_dropped_packets_total\{rule="default deny"\} [1-9]' "$page"

# Revoking: the rules naming the node go with it; emptying a group a rule names needs --force.
keys_admin policy deny group:ops group:db tcp/9 >>"$T/keys.out" 2>>"$T/keys.err"
rc=0
keys_admin revoke ops >"$T/revoke.out" 2>&1 || rc=$?
assert_eq "revoking the last node of group ops (named by a deny rule) needs --force" 1 "$rc"
assert_match "and says which rule" "'policy deny group:ops -> group:db tcp/9' would be dropped" \
	"$(cat "$T/revoke.out")"
keys_admin revoke ops --force >"$T/revoke.out" 2>&1
assert_match "revoke --force drops the rule naming the node" \
	"^dropped 'policy deny ops -> db-1 icmp'$" "$(cat "$T/revoke.out")"
assert_nomatch "no rule names ops any more" "ops" "$(keys_admin policy list 2>&1)"

finish
