#!/usr/bin/env bash
# `make bench`: tunneld next to the bare veth and the other userspace tunnels Debian ships, on this
# machine, in one run.  Each system has its own two namespaces joined by a direct veth (lib.sh,
# TOPOLOGY=pair; underlay 192.0.2.N/24, overlay 100.64.0.N/32; bench_systems.sh starts them):
#
#   veth          no tunnel: the underlay addresses (the limit)
#   tunneld       this build ($TUNNELD)
#   baseline      only with BASELINE=/path/to/an/older/tunneld: the same, that binary
#   wireguard-go  Debian's, through lib.sh's node_start
#   tinc, nebula, openvpn   Debian's, configured in bench_systems.sh (ciphers there)
#
# ROUNDS interleaved rounds (each round visits every system in turn), per system and round:
#   ping idle     PINGS pings at 10 ms, the average rtt (ping's own avg; 500 by default: with
#                 200 the averages of one system moved by up to 0.2 ms between rounds, a few
#                 wake-up outliers of this VM in the millisecond weighing on each)
#   tcp1          iperf3 single stream, SECS seconds, Gbit/s received; meanwhile, from 0.5 s in,
#                 PINGS pings at 10 ms: the average rtt under load
#   tcp4          iperf3 -P 4, SECS seconds, Gbit/s received
#   udp           iperf3 -u -l 64 at a fixed offered rate (UDP_PPS packets/s; by default the
#                 highest the bare veth sustains, found first), UDP_SECS seconds: packets/s
#                 delivered (received bytes / 64 / seconds) and loss %
#   cpu per GB    utime + stime of both daemons (/proc/PID/stat) over the tcp1 and tcp4 runs,
#                 divided by the gigabytes (1e9 bytes) those runs delivered
#   rss           the larger daemon's largest VmRSS sampled every 0.25 s during tcp1, tcp4, udp
#   tcp4 threads  threads of a daemon busy >= 10% of the tcp4 run, and its cores (CPU s / s)
# The table shows medians (bench_report.py: ratios, the issue's targets as met / not met, and
# OUT_DIR/performance.md with a gnuplot chart OUT_DIR/performance.png; OUT_DIR defaults to docs/).
# Then the roster, bastion and flood benchmarks, unless EXTRAS=0.
#
#   ROUNDS=3 SECS=8 UDP_SECS=4 PINGS=500 BASELINE= SYSTEMS="veth tunneld ..." EXTRAS=1
#   OUT_DIR=docs UDP_PPS= (unset: found on the veth, CAL_SECS=2 per try) KEEP= (raw results)
#   (as root; `make bench` sets BUILD; `make bench BASELINE=...` passes BASELINE)
# Measures and prints; never fails on the numbers (exit 1 only if nothing could run at all).
TOPOLOGY=pair
. "$(dirname "$0")/../integration/lib.sh"
set +eE
trap - ERR
. "$ROOT/tests/bench/bench_systems.sh"

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-8}
UDP_SECS=${UDP_SECS:-4}
PINGS=${PINGS:-500}
EXTRAS=${EXTRAS:-1}
OUT_DIR=${OUT_DIR:-$ROOT/docs}
UDP_PPS=${UDP_PPS:-}
UDP_LEN=64
BASELINE=${BASELINE:-}
SYSTEMS=${SYSTEMS:-veth tunneld baseline wireguard-go tinc nebula openvpn}
for v in ROUNDS SECS UDP_SECS PINGS; do
	case ${!v} in [1-9] | [1-9][0-9] | [1-9][0-9][0-9]) ;; *) echo "bench: $v must be 1..999"; exit 2 ;; esac
done
command -v iperf3 >/dev/null || { echo "bench: iperf3 not installed (make deps)"; exit 1; }
command -v python3 >/dev/null || { echo "bench: python3 not installed (make deps)"; exit 1; }	# the report
mkdir -p "$OUT_DIR"
RES=$T/results.tsv	# round system metric value
META=$T/meta.txt	# key<TAB>value for the report
: >"$RES"
: >"$META"
meta() { printf '%s\t%s\n' "$1" "$2" >>"$META"; }
result() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$RES"; }
HZ=$(getconf CLK_TCK)

# ---------------------------------------------------------------- the systems

# system -> its two nodes (client side first) and overlay numbers; what it needs installed.
declare -A SYS_A SYS_B SYS_NEED SYS_VERSION
sys_def() { SYS_A[$1]=$2; SYS_B[$1]=$3; SYS_NEED[$1]=$4; }
sys_def veth va vb ip
sys_def tunneld ta tb "$TUNNELD"
sys_def baseline oa ob "${BASELINE:-/nonexistent}"
sys_def wireguard-go ga gb "$WGGO"
sys_def tinc ia ib tincd
sys_def nebula na nb nebula
sys_def openvpn pa pb openvpn
[ -z "$BASELINE" ] || BASELINE=$(realpath "$BASELINE")

version_of() {
	case $1 in
	veth) echo "kernel $(uname -r)" ;;
	tunneld) echo "$("$TUNNELD" --version 2>&1 | head -n 1) at $(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?')" ;;
	baseline) echo "$("$BASELINE" --version 2>&1 | head -n 1), $BASELINE" ;;
	wireguard-go) "$WGGO" --version 2>&1 | head -n 1 ;;
	tinc) tincd --version 2>&1 | head -n 1 ;;
	nebula) echo "nebula $(nebula -version 2>&1 | sed -n 's/^Version: //p')" ;;
	openvpn) openvpn --version 2>&1 | head -n 1 | cut -d' ' -f1-2 ;;
	esac
}

ACTIVE=()
num=1
for s in $SYSTEMS; do
	[ -n "${SYS_A[$s]:-}" ] || { echo "bench: unknown system '$s'"; exit 2; }
	if [ "$s" = baseline ] && [ -z "$BASELINE" ]; then continue; fi
	if ! command -v "${SYS_NEED[$s]}" >/dev/null; then
		echo "bench: $s skipped: ${SYS_NEED[$s]} not installed (make deps) or not built"
		continue
	fi
	a=${SYS_A[$s]} b=${SYS_B[$s]}
	node_add "$a" "$num" "$s"
	node_add "$b" $((num + 1)) "$s"
	num=$((num + 2))
	case $s in
	veth) ok=1 ;;
	tunneld) sys_start_wg "$a" "$b" && ok=1 || ok= ;;
	baseline) NODE_IMPL[$a]=tunneld NODE_IMPL[$b]=tunneld; sys_start_wg "$a" "$b" "$BASELINE" && ok=1 || ok= ;;
	wireguard-go) sys_start_wg "$a" "$b" && ok=1 || ok= ;;
	tinc) sys_start_tinc "$a" "$b" && ok=1 || ok= ;;
	nebula) sys_start_nebula "$a" "$b" && ok=1 || ok= ;;
	openvpn) sys_start_openvpn "$a" "$b" && ok=1 || ok= ;;
	esac
	if [ -z "$ok" ]; then echo "bench: $s did not come up, left out"; continue; fi
	ACTIVE+=("$s")
	SYS_VERSION[$s]=$(version_of "$s")
	meta "version:$s" "${SYS_VERSION[$s]}"
	echo "bench: $s up (${SYS_VERSION[$s]})"
done
[ "${#ACTIVE[@]}" -gt 0 ] || { echo "bench: no system could run"; exit 1; }
echo "bench: set up in $SECONDS s"

# target SYSTEM: the client node and the server's address (underlay for veth, overlay else).
target() {
	local s=$1
	if [ "$s" = veth ]; then echo "${SYS_A[$s]} ${UL[${SYS_B[$s]}]}"
	else echo "${SYS_A[$s]} ${OV4[${SYS_B[$s]}]}"; fi
}

# ---------------------------------------------------------------- measuring

# iperf_run SYSTEM SECONDS OUT ARGS...: a one-shot iperf3 server on the server node, the client
# on the client node with ARGS, JSON to OUT.  Bounded: the server and client by timeout.
iperf_run() {
	local s=$1 secs=$2 out=$3 node addr b=${SYS_B[$1]} srv; shift 3
	read -r node addr <<<"$(target "$s")"
	timeout -k 2 $((secs + 30)) ip netns exec "${NS[$b]}" iperf3 -s -1 -p 5201 >>"$T/iperf-$b.log" 2>&1 &
	srv=$!
	wait_until 10 listening "$b" 5201 || echo "bench: iperf3 server in $b not up"
	ip netns exec "${NS[$node]}" timeout -k 2 $((secs + 20)) iperf3 -c "$addr" -p 5201 -t "$secs" -J "$@" \
		>"$out" 2>>"$T/iperf-$node.log" || true
	wait "$srv" 2>/dev/null || true
}

# iperf_field FILE tcp|udp: "Gbit/s bytes" (TCP) or "packets/s loss%" (UDP) from the receiver's
# side of iperf3's JSON (pretty-printed: one key per line; awk, as python3 takes seconds to
# start on a loaded machine); "n/a n/a" if the run failed.
iperf_field() {
	awk -v kind="$2" -v len="$UDP_LEN" '
	/"sum_received"/ { s = 1; next }
	s && /}/ { exit }
	s { gsub(/[",:]/, " "); v[$1] = $2 }
	END {
		if (!("bytes" in v) || v["seconds"] <= 0) print "n/a n/a"
		else if (kind == "tcp") printf "%.3f %d\n", v["bits_per_second"] / 1e9, v["bytes"]
		else if (!("lost_percent" in v)) print "n/a n/a"
		else printf "%.0f %.2f\n", v["bytes"] / len / v["seconds"], v["lost_percent"]
	}' "$1" 2>/dev/null || echo "n/a n/a"
}

# ping_avg NODE ADDR COUNT: ping's average rtt in ms over COUNT pings at 10 ms, "n/a" if none.
ping_avg() {
	ip netns exec "${NS[$1]}" timeout -k 2 $(($3 / 50 + 20)) ping -n -q -c "$3" -i 0.01 -W 1 "$2" 2>/dev/null |
		sed -n 's|^rtt [^=]*= [0-9.]*/\([0-9.]*\)/.*|\1|p' | grep . || echo n/a
}

# cpu_ticks PID...: utime + stime summed over PIDs (clock ticks).
cpu_ticks() {
	local p t=0 f
	for p in "$@"; do
		f=$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
		read -r -a f <<<"$f"
		t=$((t + f[11] + f[12]))
	done
	echo "$t"
}

# thread_ticks PID: "TID TICKS" per thread.
thread_ticks() {
	local d f
	for d in /proc/"$1"/task/*; do
		f=$(sed 's/.*) //' "$d/stat" 2>/dev/null) || continue
		read -r -a f <<<"$f"
		echo "${d##*/} $((f[11] + f[12]))"
	done
}

# busy_threads BEFORE AFTER WALL_TICKS: "N CORES": N threads whose ticks grew by >= 10% of
# WALL_TICKS, CORES the process's CPU time over the wall time.
busy_threads() {
	awk -v w="$3" 'NR == FNR { b[$1] = $2; next }
		{ d = $2 - b[$1]; t += d; if (d * 10 >= w) n++ }
		END { printf "%d %.2f\n", n, (w > 0 ? t / w : 0) }' "$1" "$2"
}

# rss_sampler OUT PID...: appends "PID VmRSS-kB" for each PID every 0.25 s, at most 4 minutes.
rss_sampler() {
	local out=$1 i p k v; shift
	for i in $(seq 960); do
		for p in "$@"; do
			while read -r k v _; do
				[ "$k" = VmRSS: ] && { echo "$p $v" >>"$out"; break; }
			done 2>/dev/null <"/proc/$p/status"
		done
		sleep 0.25
	done
}

# measure SYSTEM ROUND: one round of everything on SYSTEM, results appended to $RES.
measure() {
	local s=$1 r=$2 node addr a=${SYS_A[$1]} b=${SYS_B[$1]} pids=() j out t0 t1 c0 c1 sampler
	local g1 by1 g4 by4 pps loss pi pl cores=n/a threads=n/a rss="" cpu="" n c p pcount
	local ph=() t00
	t00=$(now_ms)
	read -r node addr <<<"$(target "$s")"
	[ "$s" = veth ] || pids=("${PID[$a]}" "${PID[$b]}")
	out=$T/r$r-$s
	# Warm up (a handshake may be due after the idle time while the others ran).
	ip netns exec "${NS[$node]}" timeout -k 2 10 ping -n -q -c 3 -i 0.2 -w 5 "$addr" >/dev/null 2>&1 || true
	pi=$(ping_avg "$node" "$addr" "$PINGS")
	ph+=($(( $(now_ms) - t00 )))
	if [ "${#pids[@]}" -gt 0 ]; then
		rss_sampler "$out.rss" "${pids[@]}" &
		sampler=$!
		BG_PIDS+=("$sampler")
	fi
	# TCP, one stream, with pings under load from 0.5 s in.
	c0=$(cpu_ticks "${pids[@]}")
	pcount=$(( SECS * 100 - 100 ))
	[ "$pcount" -ge 20 ] || pcount=20
	[ "$pcount" -le "$PINGS" ] || pcount=$PINGS
	(sleep 0.5; ping_avg "$node" "$addr" "$pcount" >"$out.pingload") &
	j=$!
	iperf_run "$s" "$SECS" "$out.tcp1.json"
	wait "$j" 2>/dev/null
	pl=$(cat "$out.pingload" 2>/dev/null || echo n/a)
	read -r g1 by1 <<<"$(iperf_field "$out.tcp1.json" tcp)"
	ph+=($(( $(now_ms) - t00 )))
	# TCP, four streams: also the threads and cores each daemon used.
	for p in "${pids[@]}"; do thread_ticks "$p" >"$out.thr0.$p"; done
	t0=$(now_ms)
	iperf_run "$s" "$SECS" "$out.tcp4.json" -P 4
	t1=$(now_ms)
	c1=$(cpu_ticks "${pids[@]}")
	read -r g4 by4 <<<"$(iperf_field "$out.tcp4.json" tcp)"
	ph+=($(( $(now_ms) - t00 )))
	for p in "${pids[@]}"; do
		thread_ticks "$p" >"$out.thr1.$p"
		read -r n c <<<"$(busy_threads "$out.thr0.$p" "$out.thr1.$p" $(( (t1 - t0) * HZ / 1000 )))"
		[ "$threads" != n/a ] && [ "$threads" -ge "$n" ] || threads=$n
		[ "$cores" != n/a ] && awk -v a="$cores" -v b="$c" 'BEGIN { exit !(a >= b) }' || cores=$c
	done
	# UDP, small packets at the fixed offered rate.
	iperf_run "$s" "$UDP_SECS" "$out.udp.json" -u -l "$UDP_LEN" -b "$UDP_BPS"
	read -r pps loss <<<"$(iperf_field "$out.udp.json" udp)"
	ph+=($(( $(now_ms) - t00 )))
	result "$r" "$s" tcp1 "$g1"
	result "$r" "$s" tcp4 "$g4"
	result "$r" "$s" udp_pps "$pps"
	result "$r" "$s" udp_loss "$loss"
	result "$r" "$s" ping_idle "$pi"
	result "$r" "$s" ping_load "$pl"
	if [ "${#pids[@]}" -gt 0 ]; then
		kill "$sampler" 2>/dev/null
		wait "$sampler" 2>/dev/null
		rss=$(awk '$2 > m { m = $2 } END { if (m) printf "%.1f\n", m / 1024; else print "n/a" }' "$out.rss" 2>/dev/null)
		# CPU seconds per 1e9 bytes over both TCP runs.
		cpu=$(awk -v c=$((c1 - c0)) -v hz="$HZ" -v b1="$by1" -v b4="$by4" 'BEGIN {
			b = (b1 ~ /^[0-9]+$/ ? b1 : 0) + (b4 ~ /^[0-9]+$/ ? b4 : 0)
			if (b > 0) printf "%.2f\n", c / hz / (b / 1e9); else print "n/a" }')
		result "$r" "$s" cpu_gb "$cpu"
		result "$r" "$s" rss "${rss:-n/a}"
		result "$r" "$s" threads4 "$threads"
		result "$r" "$s" cores4 "$cores"
	fi
	printf 'round %d  %-12s tcp1 %6s  tcp4 %6s Gbit/s  udp %7s pkt/s %6s%% loss  ping %6s / %6s ms  cpu %6s s/GB  rss %5s MiB  tcp4 threads %s cores %s  (at ms %s)\n' \
		"$r" "$s" "$g1" "$g4" "$pps" "$loss" "$pi" "$pl" "${cpu:-n/a}" "${rss:-n/a}" "$threads" "$cores" "${ph[*]} $(( $(now_ms) - t00 ))"
}

# The offered UDP rate: the highest the bare veth sustains (loss <= 1%), found by offering it
# 90%, 80%, ... 50% of what it delivered unthrottled (best of 2), CAL_SECS seconds each.
CAL_SECS=${CAL_SECS:-2}
if [ -z "$UDP_PPS" ]; then
	UDP_PPS=50000
	if printf '%s\n' "${ACTIVE[@]}" | grep -qx veth; then
		best=0
		for i in 1 2; do
			iperf_run veth "$CAL_SECS" "$T/cal$i.json" -u -l "$UDP_LEN" -b 0
			read -r pps _ <<<"$(iperf_field "$T/cal$i.json" udp)"
			[ "$pps" = n/a ] || [ "${pps%.*}" -le "$best" ] || best=${pps%.*}
		done
		UDP_PPS=$(( best / 2 / 1000 * 1000 ))
		for f in 90 80 70 60; do
			rate=$(( best * f / 100 / 1000 * 1000 ))
			iperf_run veth "$CAL_SECS" "$T/cal$f.json" -u -l "$UDP_LEN" -b $((rate * UDP_LEN * 8))
			read -r pps loss <<<"$(iperf_field "$T/cal$f.json" udp)"
			echo "bench: bare veth offered $rate pkt/s: delivered $pps pkt/s, loss $loss%"
			[ "$loss" != n/a ] && awk -v l="$loss" 'BEGIN { exit !(l <= 1.0) }' && { UDP_PPS=$rate; break; }
		done
		[ "$UDP_PPS" -ge 1000 ] || UDP_PPS=1000
		echo "bench: bare veth delivered up to $best pkt/s of $UDP_LEN bytes unthrottled; offered rate $UDP_PPS pkt/s"
	fi
fi
UDP_BPS=$((UDP_PPS * UDP_LEN * 8))

meta date "$(date -u +%Y-%m-%dT%H:%MZ)"
meta nproc "$(nproc)"
meta cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)"
meta kernel "$(uname -r)"
meta os "$(. /etc/os-release && echo "$PRETTY_NAME")"
meta iperf3 "$(iperf3 --version | head -n 1)"
meta load_start "$(cut -d' ' -f1-3 /proc/loadavg)"
meta rounds "$ROUNDS"
meta tunneld_workers "${TUNNELD_CRYPTO_WORKERS:-unset}"
meta secs "$SECS"
meta udp_secs "$UDP_SECS"
meta pings "$PINGS"
meta udp_pps "$UDP_PPS"
meta udp_len "$UDP_LEN"
meta baseline "$BASELINE"
meta systems "${ACTIVE[*]}"
START=$SECONDS
for r in $(seq "$ROUNDS"); do
	for s in "${ACTIVE[@]}"; do measure "$s" "$r"; done
done
meta load_end "$(cut -d' ' -f1-3 /proc/loadavg)"
meta duration_s $((SECONDS - START))
echo "bench: measured in $((SECONDS - START)) s"
# KEEP=DIR: the raw results too (bench_report.py RESULTS META OUT_DIR redoes the report).
[ -z "${KEEP:-}" ] || { mkdir -p "$KEEP" && cp "$RES" "$META" "$KEEP/"; }
echo
python3 "$ROOT/tests/bench/bench_report.py" "$RES" "$META" "$OUT_DIR" || echo "bench: the report failed"
echo
[ "$EXTRAS" = 0 ] && exit 0
# The roster: parse + verify + apply time and tunneld memory with 1,000 and 10,000 nodes.
ROUNDS=$ROUNDS bash "$(dirname "$0")/bench_roster.sh" </dev/null || true
echo
# The node-to-node policy: throughput with 100 and 200 rules against none.
ROUNDS=$ROUNDS bash "$(dirname "$0")/bench_policy.sh" </dev/null || true
echo
# The bastion vs OpenSSH's sshd as jump host: connect time, one jump's throughput, 500 jumps.
ROUNDS=$ROUNDS bash "$(dirname "$0")/bench_bastion.sh" </dev/null || true
echo
# A legitimate transfer under a forged-handshake flood (100,000 initiations in 10 s).
ROUNDS=$ROUNDS bash "$(dirname "$0")/bench_flood.sh" </dev/null || true
echo
# Handshakes per second on one core, in process, with 1,000 and 10,000 peers.
"$BUILD/bench_handshake" "$ROUNDS" 1000 10000 </dev/null || true
exit 0
