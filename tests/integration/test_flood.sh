#!/usr/bin/env bash
# A forged-handshake flood does not take a node down.  An attacker namespace x on b's underlay
# segment sends b 20,000 handshake initiations in 5 s (valid mac1, garbage after it: what anyone
# who knows b's public key can send), first ignoring b's cookie replies, then using them for a
# valid mac2 (the stronger attacker, bound to one address).  Meanwhile:
#   - pings a -> b through the tunnel keep coming back, none slower than PING_MAX_MS;
#   - a new node c completes its first handshake with b (through the cookie exchange);
#   - b's resident memory grows by less than RSS_GROWTH_MAX_KB;
#   - b went under load and answered with cookie replies, as the protocol wants.
# run-all: alone (it loads the CPU on purpose: no other test runs beside it)
# run-all: no-sanitizer (CI time: alone, its ASan copy added 14 s to the run; the receive path
# of forged initiations runs under ASan in test_engine, test_cookie and fuzz_engine_receive)
. "$(dirname "$0")/lib.sh"

FLOOD=${FLOOD:-$BUILD/flood}
COUNT=${COUNT:-20000}
SECS=${SECS:-5}
PING_MAX_MS=${PING_MAX_MS:-500}
RSS_GROWTH_MAX_KB=${RSS_GROWTH_MAX_KB:-16384}
[ -x "$FLOOD" ] || { fail "$FLOOD not built (make $BUILD/flood)"; finish; }
[ "$IMPL" = tunneld ] || skip "tunneld's load handling only"

node_add a 1
node_add b 2
node_add c 3
node_add x 66		# the attacker: only its namespace and underlay address are used
node_peer a b
node_peer b a
node_peer b c noendpoint
node_peer c b
node_start a
node_start b
check "ping a -> b before the flood" ping_ok a "${OV4[b]}"

rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/${PID[b]}/status"; }
rss0=$(rss_kb)

# flood MODE...: the attacker's run in the background; its summary line goes to $T/flood.out.
flood() {
	ip netns exec "${NS[x]}" timeout -k 2 $((SECS + 10)) "$FLOOD" "$@" "${UL[b]}" "${PORT[b]}" \
		"${PUB[b]}" "$COUNT" "$SECS" >"$T/flood.out" 2>&1 &
	FLOOD_PID=$!
	BG_PIDS+=($FLOOD_PID)
}

# Pings through the flood: prints "received max_ms".
ping_stats() {
	local out
	out=$(ip netns exec "${NS[a]}" timeout -k 2 $((SECS + 15)) ping -n -q -c $((SECS * 4)) -i 0.25 -W 2 \
		"${OV4[b]}" 2>&1 || true)
	printf '%s %s\n' "$(printf '%s\n' "$out" | sed -n 's/.* \([0-9][0-9]*\) received.*/\1/p')" \
		"$(printf '%s\n' "$out" | sed -n 's|^rtt [^=]*= [0-9.]*/[0-9.]*/\([0-9.]*\)/.*|\1|p' | cut -d. -f1)"
}

for mode in mac1 cookie; do
	opt=()
	[ "$mode" = cookie ] && opt=(--cookie)
	flood "${opt[@]}"
	if [ "$mode" = mac1 ]; then
		# c's first handshake has to get through b's cookie exchange while b is flooded.
		sleep 1
		node_start c
	fi
	read -r got max <<<"$(ping_stats)"
	assert_ge "$mode flood: pings a -> b answered (of $((SECS * 4)))" $((SECS * 4 - 2)) "${got:-0}"
	assert_le "$mode flood: slowest ping a -> b (ms)" "$PING_MAX_MS" "${max:-99999}"
	if [ "$mode" = mac1 ]; then
		check "mac1 flood: c's first handshake with b completes" \
			wait_until 20 ping_ok c "${OV4[b]}"
	fi
	wait "$FLOOD_PID" || true
	out=$(cat "$T/flood.out")
	log "$mode flood: $out"
	sent=$(printf '%s' "$out" | sed -n 's/.*sent=\([0-9]*\).*/\1/p')
	replies=$(printf '%s' "$out" | sed -n 's/.*cookie_replies=\([0-9]*\).*/\1/p')
	assert_ge "$mode flood: initiations sent" "$COUNT" "${sent:-0}"
	assert_ge "$mode flood: cookie replies (b went under load)" 1 "${replies:-0}"
	if [ "$mode" = cookie ]; then
		used=$(printf '%s' "$out" | sed -n 's/.*cookies_used=\([0-9]*\).*/\1/p')
		assert_ge "cookie flood: the attacker opened b's cookies (the stronger attacker)" 1 "${used:-0}"
	fi
	check "b alive after the $mode flood" pid_alive "${PID[b]}"
	assert_le "$mode flood: b's RSS growth (kB, from $rss0)" "$RSS_GROWTH_MAX_KB" $(( $(rss_kb) - rss0 ))
done
check "ping a -> b after the floods" ping_ok a "${OV4[b]}"

finish
