#!/usr/bin/env bash
# Endpoints given as host names (issue 7, item 1): seven peers at localhost:5199N, resolved by
# tunneld's background resolver, must never crash it.  Config mode and roster mode start 10
# times each (every start must come up, resolve all seven names and stop with status 0); then a
# running node receives such a roster (Roster.new) and must take it.  Under the sanitizer build
# (BUILD=build-san) any ASan/UBSan report in a log fails the test.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "checks tunneld's resolver"
STARTS=${STARTS:-10}
NAMED=7

sanitizer_clean() { ! grep -Eq 'Sanitizer|runtime error:|free\(\):|double free|corrupted' "$1"; }

# named_endpoints NODE: how many of NODE's peers have an endpoint on 127.0.0.1/::1 port 5199N.
named_endpoints() {
	nsx "$1" wg show "${IFN[$1]}" endpoints 2>/dev/null |
		grep -Ec '	(127\.0\.0\.1|\[::1\]):5199[1-7]$' || true
}
all_named() { [ "$(named_endpoints "$1")" -eq "$NAMED" ]; }

# start_stop NODE WHAT I: one start of NODE's daemon (already configured), the seven names
# resolved, SIGTERM, exit status 0, nothing from the sanitizers.
start_stop() {
	local n=$1 what=$2 i=$3 rc=0 log=$T/$1.log
	: >"$log"
	ip netns exec "${NS[$n]}" "$TUNNELD" -c "$(conf_file "$n")" -i "${IFN[$n]}" -v >>"$log" 2>&1 &
	PID[$n]=$!
	if ! wait_until 20 node_ready "$n"; then
		fail "$what start $i: not up ($(tail -n 3 "$log" | tr '\n' ' '))"
		node_kill9 "$n"
		return 0
	fi
	wait_until 20 all_named "$n" ||
		fail "$what start $i: only $(named_endpoints "$n") of $NAMED names resolved"
	node_stop "$n" || rc=$?
	[ "$rc" -eq 0 ] || fail "$what start $i: exit status $rc ($(tail -n 3 "$log" | tr '\n' ' '))"
	sanitizer_clean "$log" || fail "$what start $i: sanitizer report: $(grep -Em 3 'Sanitizer|runtime error' "$log" | tr '\n' ' ')"
	[ "$rc" -eq 0 ] && sanitizer_clean "$log" && STARTS_OK=$((STARTS_OK + 1))
	return 0
}

# 1. Config mode: a wg-quick style file with seven [Peer]s at localhost:5199N.
node_add c 3
conf_write c
for i in $(seq "$NAMED"); do
	k=$(wg genkey | wg pubkey)
	printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.9.%s/32\nEndpoint = localhost:5199%s\n' \
		"$k" "$i" "$i" >>"$(conf_file c)"
done
STARTS_OK=0
for i in $(seq "$STARTS"); do start_stop c "config mode" "$i"; done
assert_eq "config mode: clean starts and stops with $NAMED named endpoints" "$STARTS" "$STARTS_OK"

# 2. Roster mode: a roster whose other seven nodes are at localhost:5199N.
roster_admin_init
rnode_add a 1
rnode_enroll a
roster_publish
for i in $(seq "$NAMED"); do
	k=$(wg genkey | wg pubkey)
	keys_admin enroll "n$i" --pubkey "$k" --address "100.64.0.$((100 + i))" \
		--endpoint "localhost:5199$i" >>"$T/keys.out" 2>>"$T/keys.err"
done
roster_publish
check "the roster names seven endpoints localhost:5199N" \
	test "$(grep -c 'endpoint localhost:5199' "$ADMIN/roster.signed")" -eq "$NAMED"
cp "$ADMIN/roster.signed" "$T/named.roster"
rnode_provision a "$T/named.roster"
rnode_conf a
STARTS_OK=0
for i in $(seq "$STARTS"); do start_stop a "roster mode" "$i"; done
assert_eq "roster mode: clean starts and stops with $NAMED named endpoints" "$STARTS" "$STARTS_OK"

# 3. A running node with no roster yet (none persisted) receives the roster with the names.
rm -f "${ROSTER_PATH[a]}"
: >"$T/a.log"
rnode_start a
check "a runs with no peers before the hand-over" test "$(named_endpoints a)" -eq 0
roster_hand a "$T/named.roster"
check "a took the roster with $NAMED named endpoints and resolved them" wait_until 30 all_named a
check "a still running after the hand-over" pid_alive "${PID[a]}"
check "no sanitizer report from the running node" sanitizer_clean "$T/a.log"

finish
