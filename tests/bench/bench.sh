#!/usr/bin/env bash
# `make bench`: single-stream TCP throughput (iperf3 -t 5) and ping latency (200 pings at 10 ms,
# median rtt) over the bare veth, through tunneld and through wireguard-go, on this machine, in
# this run.  Two namespace pairs joined by direct veths: a-b carries tunneld (and is the bare
# veth path), c-d carries wireguard-go.  3 interleaved rounds (veth, tunneld, wireguard-go), the
# table shows medians of 3.  Measures and prints; never fails on the numbers.
TOPOLOGY=pair
. "$(dirname "$0")/../integration/lib.sh"
set +E
trap - ERR

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-5}
PINGS=${PINGS:-200}
command -v iperf3 >/dev/null || { echo "bench: iperf3 not installed (make deps)"; exit 1; }

paths=(veth)
node_add a 1 tunneld
node_add b 2 tunneld
node_peer a b
node_peer b a
if [ -x "$TUNNELD" ]; then node_start a && node_start b && paths+=(tunneld)
else echo "bench: $TUNNELD not built, skipping it"; fi
node_add c 3 wireguard-go
node_add d 4 wireguard-go
node_peer c d
node_peer d c
if command -v "$WGGO" >/dev/null; then node_start c && node_start d && paths+=(wireguard-go)
else echo "bench: $WGGO not installed, skipping it"; fi

for n in b d; do
	ip netns exec "${NS[$n]}" iperf3 -s -p 5201 >"$T/iperf-$n.log" 2>&1 &
	BG_PIDS+=($!)
done
for n in b d; do wait_until 10 listening "$n" 5201 || echo "bench: iperf3 server in $n not up"; done

# path -> client node, server address
target() {
	case $1 in
	veth) echo "a ${UL[b]}" ;;
	tunneld) echo "a ${OV4[b]}" ;;
	wireguard-go) echo "c ${OV4[d]}" ;;
	esac
}

declare -A G L
for r in $(seq "$ROUNDS"); do
	for p in "${paths[@]}"; do
		read -r node addr <<<"$(target "$p")"
		ip netns exec "${NS[$node]}" timeout 10 ping -n -q -c 3 -i 0.2 -w 5 "$addr" >/dev/null 2>&1 || true
		G[$p:$r]=$(iperf_gbps "$node" "$addr" "$SECS")
		L[$p:$r]=$(rtt_median "$node" "$addr" "$PINGS")
		printf 'round %d  %-13s %8s Gbit/s  %8s ms median rtt\n' "$r" "$p" "${G[$p:$r]}" "${L[$p:$r]}"
	done
done

echo
echo "warren benchmark: $(nproc) CPU, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ)"
echo "tunneld: $TUNNELD   wireguard-go: $($WGGO --version 2>/dev/null | head -n 1)"
printf '%-14s %18s %20s   %s\n' path "TCP Gbit/s" "ping rtt ms" "(rounds: Gbit/s | ms)"
for p in veth tunneld wireguard-go; do
	gs=() ls=()
	for r in $(seq "$ROUNDS"); do gs+=("${G[$p:$r]:-n/a}"); ls+=("${L[$p:$r]:-n/a}"); done
	printf '%-14s %18s %20s   %s | %s\n' "$p" "$(median "${gs[@]}")" "$(median "${ls[@]}")" \
		"${gs[*]}" "${ls[*]}"
done
echo "single-stream iperf3 -t $SECS, $PINGS pings at -i 0.01; medians of $ROUNDS interleaved rounds"
echo "reproduce: make bench   (or, as root: BUILD=build ROUNDS=$ROUNDS SECS=$SECS PINGS=$PINGS tests/bench/bench.sh)"
echo
# The roster: parse + verify + apply time and tunneld memory with 1,000 and 10,000 nodes.
ROUNDS=$ROUNDS bash "$(dirname "$0")/bench_roster.sh" </dev/null || true
echo
# The bastion vs OpenSSH's sshd as jump host: connect time, one jump's throughput, 500 jumps.
ROUNDS=$ROUNDS bash "$(dirname "$0")/bench_bastion.sh" </dev/null || true
echo
# A legitimate transfer under a forged-handshake flood (100,000 initiations in 10 s).
ROUNDS=$ROUNDS bash "$(dirname "$0")/bench_flood.sh" </dev/null || true
exit 0
