#!/usr/bin/env bash
# The TUN offload measurement (docs/performance-design.md, "TUN offloads"): TUNNELD_A (a build
# before), TUNNELD_B with offloads (B) and with Offload = off (C), interleaved rounds on the
# a-b namespace pair; single-stream and 4-stream iperf3 (SECS s each, a -> b), median ping rtt,
# CPU seconds of both daemons per GB delivered and their VmHWM.  Measures and prints; never
# fails on the numbers:
#   TUNNELD_A=/tmp/before/build/tunneld TUNNELD_B=build/tunneld tests/bench/bench_offload.sh
TOPOLOGY=pair
. "$(dirname "$0")/../integration/lib.sh"
set +E
trap - ERR
ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
: "${TUNNELD_A:?TUNNELD_A=path of the tunneld before}" "${TUNNELD_B:?TUNNELD_B=path of the one with offloads}"
command -v iperf3 >/dev/null || { echo "bench_offload: iperf3 not installed (make deps)"; exit 1; }
bench_pair bench_offload
cpu() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
hwm() { awk '/VmHWM/ { print $2 }' "/proc/$1/status"; }
tk=$(getconf CLK_TCK)
for r in $(seq "$ROUNDS"); do
	for v in A B C; do
		case $v in
		A) TUNNELD=$TUNNELD_A; IFACE_EXTRA[a]=; IFACE_EXTRA[b]= ;;
		B) TUNNELD=$TUNNELD_B; IFACE_EXTRA[a]=; IFACE_EXTRA[b]= ;;
		C) TUNNELD=$TUNNELD_B; IFACE_EXTRA[a]=$'Offload = off\n'; IFACE_EXTRA[b]=$'Offload = off\n' ;;
		esac
		node_start a && node_start b || { echo "bench_offload: $TUNNELD did not start"; continue; }
		ip netns exec "${NS[a]}" timeout 10 ping -n -q -c 3 -i 0.2 -w 5 "${OV4[b]}" >/dev/null 2>&1 || true
		c0=$(( $(cpu "${PID[a]}") + $(cpu "${PID[b]}") ))
		rx0=$(ip netns exec "${NS[b]}" cat /sys/class/net/"${IFN[b]}"/statistics/rx_bytes)
		g1=$(iperf_gbps a "${OV4[b]}" "$SECS")
		json=$(ip netns exec "${NS[a]}" timeout -k 2 $((SECS + 20)) iperf3 -c "${OV4[b]}" -p 5201 -t "$SECS" -P 4 -J 2>/dev/null)
		g4=$(printf '%s\n' "$json" | awk '/"sum_received"/ { s = 1 } s && /"bits_per_second"/ { gsub(/[^0-9.eE+-]/, "", $2); printf "%.3f\n", $2 / 1e9; exit }')
		rx1=$(ip netns exec "${NS[b]}" cat /sys/class/net/"${IFN[b]}"/statistics/rx_bytes)
		c1=$(( $(cpu "${PID[a]}") + $(cpu "${PID[b]}") ))
		lat=$(rtt_median a "${OV4[b]}" 200)
		cpg=$(awk -v c=$((c1 - c0)) -v tk="$tk" -v b=$((rx1 - rx0)) 'BEGIN { printf "%.2f", (c / tk) / (b / 1e9) }')
		printf 'round %d %s 1-stream %6s Gbit/s  4-stream %6s  rtt %6s ms  cpu/GB %6s s  VmHWM a %s b %s KiB\n' \
			"$r" "$v" "$g1" "$g4" "$lat" "$cpg" "$(hwm "${PID[a]}")" "$(hwm "${PID[b]}")"
		node_stop a; node_stop b
	done
done
exit 0
