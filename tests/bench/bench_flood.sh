#!/usr/bin/env bash
# `make bench`, part 4: a legitimate transfer under a forged-handshake flood.  Three namespaces on
# one switch: a sends to b through the tunnel (iperf3, single TCP stream), x floods b's port
# with handshake initiations that carry a valid mac1 (tests/bench/flood.c): FLOOD_COUNT in
# FLOOD_SECS (default 100,000 in 10 s), once ignoring b's cookie replies ("mac1") and once
# using them for a valid mac2 from its one address ("cookie", the stronger attacker).  Rounds
# are interleaved (unloaded, mac1, cookie) and the table shows medians; iperf3 runs SECS seconds
# starting 2 s into the flood.  For b it prints CPU (% of one core over the flood), RSS after
# and peak (VmHWM) and the cookie replies the attacker received.  Measures and prints; the
# target (>= 50% of unloaded throughput) is stated next to the figure, never enforced here
# (tests/integration/test_flood.sh is the test).
. "$(dirname "$0")/../integration/lib.sh"
set +E
trap - ERR

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-6}
FLOOD_COUNT=${FLOOD_COUNT:-100000}
FLOOD_SECS=${FLOOD_SECS:-10}
FLOOD=${FLOOD:-$BUILD/flood}
command -v iperf3 >/dev/null || { echo "bench_flood: iperf3 not installed (make deps)"; exit 1; }
[ -x "$FLOOD" ] || { echo "bench_flood: $FLOOD not built (make $FLOOD)"; exit 1; }
[ -x "$TUNNELD" ] || { echo "bench_flood: $TUNNELD not built"; exit 1; }
[ "$SECS" -le $((FLOOD_SECS - 3)) ] || { echo "bench_flood: SECS must be <= FLOOD_SECS - 3"; exit 1; }

node_add a 1 tunneld
node_add b 2 tunneld
node_add x 66		# the attacker
node_peer a b
node_peer b a
node_start a && node_start b || { echo "bench_flood: tunnel did not start"; exit 1; }
ip netns exec "${NS[b]}" iperf3 -s -p 5201 >"$T/iperf-b.log" 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening b 5201 || echo "bench_flood: iperf3 server in b not up"
ip netns exec "${NS[a]}" timeout 10 ping -n -q -c 3 -i 0.2 -w 5 "${OV4[b]}" >/dev/null 2>&1 || true

tput() { iperf_gbps a "${OV4[b]}" "$SECS"; }

cpu_ticks() { awk '{ print $14 + $15 }' "/proc/${PID[b]}/stat"; }
status_kb() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/${PID[b]}/status"; }

declare -A G RATE CPU RSS REPLIES
hz=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
	for mode in unloaded mac1 cookie; do
		if [ "$mode" = unloaded ]; then
			G[$mode:$r]=$(tput)
			printf 'round %d  %-9s %8s Gbit/s\n' "$r" "$mode" "${G[$mode:$r]}"
			continue
		fi
		opt=()
		[ "$mode" = cookie ] && opt=(--cookie)
		c0=$(cpu_ticks); t0=$(now_ms)
		ip netns exec "${NS[x]}" timeout -k 2 $((FLOOD_SECS + 10)) "$FLOOD" "${opt[@]}" \
			"${UL[b]}" "${PORT[b]}" "${PUB[b]}" "$FLOOD_COUNT" "$FLOOD_SECS" >"$T/flood.out" 2>&1 &
		fp=$!
		BG_PIDS+=($fp)
		sleep 2
		G[$mode:$r]=$(tput)
		wait "$fp"
		c1=$(cpu_ticks); t1=$(now_ms)
		out=$(cat "$T/flood.out")
		RATE[$mode:$r]=$(printf '%s' "$out" | sed -n 's/.*rate=\([0-9]*\).*/\1/p')
		REPLIES[$mode:$r]=$(printf '%s' "$out" | sed -n 's/.*cookie_replies=\([0-9]*\).*/\1/p')
		CPU[$mode:$r]=$(awk -v c=$((c1 - c0)) -v hz="$hz" -v ms=$((t1 - t0)) 'BEGIN { printf "%.0f", 100 * c / hz / (ms / 1000) }')
		RSS[$mode:$r]=$(status_kb VmRSS)
		printf 'round %d  %-9s %8s Gbit/s   flood %s/s, b: %s%% CPU, RSS %s kB, %s cookie replies\n' \
			"$r" "$mode" "${G[$mode:$r]}" "${RATE[$mode:$r]:-n/a}" "${CPU[$mode:$r]}" \
			"${RSS[$mode:$r]}" "${REPLIES[$mode:$r]:-n/a}"
	done
done

echo
echo "forged-handshake flood (valid mac1): $FLOOD_COUNT initiations in $FLOOD_SECS s from a third namespace"
printf '%-9s %12s %8s %14s %10s %12s %15s\n' flood "TCP Gbit/s" "ratio" "initiations/s" "b CPU %" "b RSS kB" "cookie replies"
base=$(median $(for r in $(seq "$ROUNDS"); do echo "${G[unloaded:$r]}"; done))
for mode in unloaded mac1 cookie; do
	g=$(median $(for r in $(seq "$ROUNDS"); do echo "${G[$mode:$r]}"; done))
	ratio=$(awk -v g="$g" -v b="$base" 'BEGIN { if (b + 0 > 0 && g != "n/a") printf "%.0f%%", 100 * g / b; else print "n/a" }')
	if [ "$mode" = unloaded ]; then
		printf '%-9s %12s %8s\n' "$mode" "$g" "$ratio"
		continue
	fi
	printf '%-9s %12s %8s %14s %10s %12s %15s\n' "$mode" "$g" "$ratio" \
		"$(median $(for r in $(seq "$ROUNDS"); do echo "${RATE[$mode:$r]:-n/a}"; done))" \
		"$(median $(for r in $(seq "$ROUNDS"); do echo "${CPU[$mode:$r]}"; done))" \
		"$(median $(for r in $(seq "$ROUNDS"); do echo "${RSS[$mode:$r]}"; done))" \
		"$(median $(for r in $(seq "$ROUNDS"); do echo "${REPLIES[$mode:$r]:-n/a}"; done))"
done
echo "b peak RSS (VmHWM) over the whole run: $(status_kb VmHWM) kB; cookie replies as the attacker received them"
echo "target: the legitimate transfer keeps >= 50% of its unloaded throughput; medians of $ROUNDS interleaved rounds"
echo "reproduce: BUILD=build ROUNDS=$ROUNDS SECS=$SECS FLOOD_COUNT=$FLOOD_COUNT FLOOD_SECS=$FLOOD_SECS tests/bench/bench_flood.sh"
exit 0
