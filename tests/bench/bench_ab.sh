#!/usr/bin/env bash
# A/B of two tunneld builds on the hot path: TUNNELD_A and TUNNELD_B take turns on the same
# namespace pair (a-b, direct veth), ROUNDS interleaved rounds of A then B, each a single-stream
# iperf3 (SECS seconds, a -> b through the tunnel) and PINGS pings at 10 ms; prints every round
# and the medians, with the larger VmHWM of the two daemons (KiB, taken after the pings: the
# high-water mark of the whole round).  For a change's cost, e.g. the metrics counters:
#   TUNNELD_A=/tmp/before/build/tunneld TUNNELD_B=build/tunneld tests/bench/bench_ab.sh
# IPERF_STREAMS=4 runs 4 parallel streams instead of one.
# Measures and prints; never fails on the numbers.
TOPOLOGY=pair
. "$(dirname "$0")/../integration/lib.sh"
set +E
trap - ERR

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
PINGS=${PINGS:-200}
: "${TUNNELD_A:?TUNNELD_A=path of the first tunneld}" "${TUNNELD_B:?TUNNELD_B=path of the second}"
command -v iperf3 >/dev/null || { echo "bench_ab: iperf3 not installed (make deps)"; exit 1; }

bench_pair bench_ab

declare -A G L M
# hwm PID: the process's VmHWM in KiB.
hwm() { awk '/^VmHWM:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
for r in $(seq "$ROUNDS"); do
	for v in A B; do
		bin=TUNNELD_$v
		TUNNELD=${!bin}
		node_start a && node_start b || { echo "bench_ab: $TUNNELD did not start"; continue; }
		ip netns exec "${NS[a]}" timeout 10 ping -n -q -c 3 -i 0.2 -w 5 "${OV4[b]}" >/dev/null 2>&1 || true
		G[$v:$r]=$(iperf_gbps a "${OV4[b]}" "$SECS")
		L[$v:$r]=$(rtt_median a "${OV4[b]}" "$PINGS")
		ha=$(hwm "${PID[a]}") hb=$(hwm "${PID[b]}")
		M[$v:$r]=$(( ha > hb ? ha : hb ))
		printf 'round %d  %s %8s Gbit/s  %8s ms median rtt  %6s KiB VmHWM\n' "$r" "$v" "${G[$v:$r]}" \
			"${L[$v:$r]}" "${M[$v:$r]}"
		node_stop a
		node_stop b
	done
done
echo
printf '%-3s %-40s %14s %16s %16s   (rounds)\n' "" tunneld "Gbit/s median" "rtt ms median" \
	"VmHWM KiB median"
for v in A B; do
	bin=TUNNELD_$v
	gs=() ls=() ms=()
	for r in $(seq "$ROUNDS"); do
		gs+=("${G[$v:$r]:-n/a}") ls+=("${L[$v:$r]:-n/a}") ms+=("${M[$v:$r]:-n/a}")
	done
	printf '%-3s %-40s %14s %16s %16s   %s | %s | %s\n' "$v" "${!bin}" "$(median "${gs[@]}")" \
		"$(median "${ls[@]}")" "$(median "${ms[@]}")" "${gs[*]}" "${ls[*]}" "${ms[*]}"
done
echo "iperf3 -P ${IPERF_STREAMS:-1} -t $SECS, $PINGS pings at -i 0.01; medians of $ROUNDS interleaved rounds"
exit 0
