#!/usr/bin/env bash
# Where tunneld's time goes per packet: a tunneld pair (TUNNELD, default this build) on a direct
# veth, a single-stream iperf3 a -> b through the tunnel for SECS seconds, and meanwhile
#   perf record -e cpu-clock -g  on each daemon (a: TUN read, encrypt, UDP send; b: UDP receive,
#                                decrypt, TUN write)
# (cpu-clock: this VM has no hardware counters).  Prints the throughput, each daemon's CPU
# seconds, and per daemon the top of `perf report --no-children` (self time by symbol, kernel
# and user) and of `perf report --children` (what each call costs with what it calls: the
# system calls' kernel work lands under them).  PERF_DIR keeps perf.data files (default: a
# temporary directory, removed).
#   TUNNELD=/work/baseline/build/tunneld SECS=10 tests/bench/bench_profile.sh
TOPOLOGY=pair
. "$(dirname "$0")/../integration/lib.sh"
set +eE
trap - ERR

SECS=${SECS:-10}
TOP=${TOP:-40}
command -v perf >/dev/null || { echo "bench_profile: perf not installed (linux-perf)"; exit 1; }
command -v iperf3 >/dev/null || { echo "bench_profile: iperf3 not installed (make deps)"; exit 1; }
PERF_DIR=${PERF_DIR:-$T}
mkdir -p "$PERF_DIR"

node_add a 1 tunneld
node_add b 2 tunneld
node_peer a b
node_peer b a
node_start a && node_start b || { echo "bench_profile: $TUNNELD did not start"; exit 1; }
ip netns exec "${NS[b]}" iperf3 -s -p 5201 >"$T/iperf-b.log" 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening b 5201 || echo "bench_profile: iperf3 server not up"
ping_ok a "${OV4[b]}" || echo "bench_profile: no ping through the tunnel"

declare -A PERF_PID C0 C1
ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'; }
for n in a b; do
	timeout -k 2 $((SECS + 20)) perf record -q -e cpu-clock -g -p "${PID[$n]}" -o "$PERF_DIR/perf-$n.data" \
		-- sleep $((SECS + 1)) >"$T/perf-$n.log" 2>&1 &
	BG_PIDS+=($!)
	PERF_PID[$n]=$!
	C0[$n]=$(ticks "${PID[$n]}")
done
sleep 0.5
gbps=$(iperf_gbps a "${OV4[b]}" "$SECS")
for n in a b; do C1[$n]=$(ticks "${PID[$n]}"); done
for n in a b; do wait "${PERF_PID[$n]}"; done
hz=$(getconf CLK_TCK)
echo "tunneld: $TUNNELD ($("$TUNNELD" --version 2>&1 | head -n 1))"
echo "single-stream iperf3 -t $SECS a -> b: $gbps Gbit/s"
for n in a b; do
	case $n in a) role="sender (TUN read, encrypt, UDP send)" ;; b) role="receiver (UDP receive, decrypt, TUN write)" ;; esac
	echo
	echo "==== $n, the $role: $(awk -v t=$((C1[$n] - C0[$n])) -v hz="$hz" 'BEGIN { printf "%.2f", t / hz }') CPU s in the run"
	echo "---- self time by symbol (perf report --no-children --sort sym)"
	perf report -i "$PERF_DIR/perf-$n.data" --no-children --sort sym --stdio -g none --percent-limit 0.5 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -n "$TOP"
	echo "---- with callees (perf report --children --sort sym)"
	perf report -i "$PERF_DIR/perf-$n.data" --children --sort sym --stdio -g none --percent-limit 2 2>/dev/null |
		grep -v '^#' | grep -v '^$' | head -n "$TOP"
done
exit 0
