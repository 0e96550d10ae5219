#!/usr/bin/env bash
# A/B of two tunneld builds on the hot path: TUNNELD_A and TUNNELD_B take turns on the same
# namespace pair (a-b, direct veth), ROUNDS interleaved rounds of A then B, each a single-stream
# iperf3 (SECS seconds, a -> b through the tunnel) and PINGS pings at 10 ms; prints every round
# and the medians.  For a change's cost, e.g. the metrics counters:
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

declare -A G L
for r in $(seq "$ROUNDS"); do
	for v in A B; do
		bin=TUNNELD_$v
		TUNNELD=${!bin}
		node_start a && node_start b || { echo "bench_ab: $TUNNELD did not start"; continue; }
		ip netns exec "${NS[a]}" timeout 10 ping -n -q -c 3 -i 0.2 -w 5 "${OV4[b]}" >/dev/null 2>&1 || true
		G[$v:$r]=$(iperf_gbps a "${OV4[b]}" "$SECS")
		L[$v:$r]=$(rtt_median a "${OV4[b]}" "$PINGS")
		printf 'round %d  %s %8s Gbit/s  %8s ms median rtt\n' "$r" "$v" "${G[$v:$r]}" "${L[$v:$r]}"
		node_stop a
		node_stop b
	done
done
echo
printf '%-3s %-40s %14s %16s   (rounds)\n' "" tunneld "Gbit/s median" "rtt ms median"
for v in A B; do
	bin=TUNNELD_$v
	gs=() ls=()
	for r in $(seq "$ROUNDS"); do gs+=("${G[$v:$r]:-n/a}"); ls+=("${L[$v:$r]:-n/a}"); done
	printf '%-3s %-40s %14s %16s   %s | %s\n' "$v" "${!bin}" "$(median "${gs[@]}")" \
		"$(median "${ls[@]}")" "${gs[*]}" "${ls[*]}"
done
echo "iperf3 -P ${IPERF_STREAMS:-1} -t $SECS, $PINGS pings at -i 0.01; medians of $ROUNDS interleaved rounds"
exit 0
