#!/usr/bin/env bash
# Bastion benchmark (called by bench.sh, or alone as root): the warren bastion side by side with
# Debian's OpenSSH sshd as the jump host, in the same run, same namespaces, same client:
#   connect      median of ROUNDS_CONNECT (20) `ssh -J alice@JUMP web-1 true`, interleaved
#   throughput   200 MiB through one jump: head -c 200M /dev/zero | ssh -J ... 'cat >/dev/null'
#                (end-to-end ssh to web-1 inside the jump's ssh; median of ROUNDS)
#   500 jumps    CONCURRENT `ssh -W web-1:22 JUMP` held open at once (each gets web-1's sshd
#                banner); time until all are established at web-1, and the jump host's memory:
#                PSS (shared pages counted once) and RSS summed over the bastion's two
#                processes (network, audit) and over OpenSSH's sshd processes
# Topology (tests/integration/lib.sh): engineer -- public switch -- {bastion "jump", sshd
# "ojump"} -- overlay -- web-1.  Measures and prints; never fails.
. "$(dirname "$0")/../integration/lib.sh"
set +eE
trap - ERR

ROUNDS=${ROUNDS:-3}
ROUNDS_CONNECT=${ROUNDS_CONNECT:-20}
CONCURRENT=${CONCURRENT:-500}
MB=${MB:-200}
[ -x "$BASTION_BIN" ] || { echo "bench_bastion: $BASTION_BIN not built, skipping"; exit 0; }
[ -x "$KEYS_BIN" ] || { echo "bench_bastion: $KEYS_BIN not built, skipping"; exit 0; }
[ -x "$TUNNELD" ] || { echo "bench_bastion: $TUNNELD not built, skipping"; exit 0; }
# 500 jumps: two sockets each at the bastion, one process (two, privsep) each at sshd.
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

bastion_net_init || { echo "bench_bastion: setup failed"; exit 0; }
bastion_nodes_add web-1 ojump
pub_link ojump 2 ojump
SSHD_EXTRA=("MaxStartups $((CONCURRENT * 2))" "LoginGraceTime 0" "MaxSessions 10")
SSHD_NODE_EXTRA[ojump]="ListenAddress ${PUB_OF[ojump]}:22"
eng_add alice '*:22'
bastion_up "MaxStartups = $((CONCURRENT + 100))" "PerSourceMaxStartups = none" "LoginGraceTime = 60" ||
	{ echo "bench_bastion: setup failed: $(tail -n 5 "$T/bastion.log" 2>/dev/null | tr '\n' ' ')"; dump_logs; exit 0; }
declare -A HOST=([bastion]=bastion [openssh]=ojump)
# Warm both paths (known_hosts, handshakes).
for j in bastion openssh; do
	out=$(eng_ssh alice -J "alice@${HOST[$j]}" web-1 uname -n 2>&1)
	[ "$out" = web-1 ] || echo "bench_bastion: $j: ssh -J ${HOST[$j]} web-1 said: $(printf '%s' "$out" | head -c 200)"
done

median() {
	printf '%s\n' "$@" | grep -v '^n/a$' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'
}

# Connect time.
declare -A C
for r in $(seq "$ROUNDS_CONNECT"); do
	for j in bastion openssh; do
		t0=$(now_ms)
		if eng_ssh alice -J "alice@${HOST[$j]}" web-1 true </dev/null >/dev/null 2>&1; then
			C[$j]="${C[$j]:-} $(( $(now_ms) - t0 ))"
		else C[$j]="${C[$j]:-} n/a"; fi
	done
done

# Throughput.
declare -A G
for r in $(seq "$ROUNDS"); do
	for j in bastion openssh; do
		t0=$(now_ms)
		if head -c "${MB}M" /dev/zero | SSH_TIMEOUT=300 eng_ssh alice -J "alice@${HOST[$j]}" web-1 'cat >/dev/null' 2>/dev/null; then
			ms=$(( $(now_ms) - t0 ))
			G[$j]="${G[$j]:-} $(awk -v mb="$MB" -v ms="$ms" 'BEGIN { printf "%.1f", mb * 1000 / ms }')"
		else G[$j]="${G[$j]:-} n/a"; fi
	done
done

# proc_kb PID FIELD: kB of a /proc/PID/status field.
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
# established NODE-ADDR: connections to web-1's sshd from the jump host at NODE-ADDR.
established() { ip netns exec "${NS[web-1]}" ss -Htn state established "( sport = :22 and dst $1 )" 2>/dev/null | wc -l; }
# pss_kb PID: the process's proportional set size in kB (shared pages divided among the
# processes that map them, so a sum over processes counts each page once).
pss_kb() { awk '$1 == "Pss:" { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null; }
# jump_procs J: the jump host's processes: the bastion's two (network, audit), or every sshd
# process in ojump's namespace (the listener, and the monitor + child of each connection).
jump_procs() {
	local p
	if [ "$1" = bastion ]; then
		echo "$BASTION_PID" $(pgrep -P "$BASTION_PID")
		return
	fi
	for p in $(ip netns pids "${NS[ojump]}"); do
		[ "$(cat "/proc/$p/comm" 2>/dev/null)" = sshd ] && echo "$p"
	done
}
# jump_mem J: "RSS PSS" of the jump host in kB, each summed over its processes.
jump_mem() {
	local p rss=0 pss=0
	for p in $(jump_procs "$1"); do
		rss=$((rss + $(proc_kb "$p" VmRSS || echo 0)))
		pss=$((pss + $(pss_kb "$p" || echo 0)))
	done
	echo "$rss $pss"
}

# Concurrent jumps, one jump host at a time.
declare -A N_UP T_UP RSS0 RSS1 PSS0 PSS1 NPROC
for j in bastion openssh; do
	[ "$j" = bastion ] && from=${OV4[jump]} || from=${OV4[ojump]}
	read -r "RSS0[$j]" "PSS0[$j]" < <(jump_mem "$j")
	: >"$T/conc.$j.pids"
	t0=$(now_ms)
	# One namespace entry for all clients; each client holds its jump for at most 90 s.
	# ConnectTimeout 60: 500 clients starting on 2 CPUs can take longer than the engineers'
	# 5 s to exchange banners; a client that gave up would never count as established.
	timeout -k 5 120 ip netns exec "$ENG" bash -c '
		for i in $(seq "$1"); do
			sleep 90 | timeout -k 2 100 ssh -F "$2" -i "$3" -o ConnectTimeout=60 \
				-W web-1:22 "$4" >/dev/null 2>&1 &
			echo $! >>"$5"
			[ $((i % 50)) -ne 0 ] || sleep 0.2
		done
		wait' sh "$CONCURRENT" "$T/ssh/alice.config" "$T/ssh/alice" "${HOST[$j]}" "$T/conc.$j.pids" &
	runner=$!
	BG_PIDS+=($runner)
	up=0
	for _ in $(seq 600); do
		up=$(established "$from")
		[ "$up" -lt "$CONCURRENT" ] || break
		sleep 0.1
	done
	T_UP[$j]=$(( $(now_ms) - t0 ))
	N_UP[$j]=$up
	sleep 1
	read -r "RSS1[$j]" "PSS1[$j]" < <(jump_mem "$j")
	[ "$j" = openssh ] && NPROC[$j]=$(for p in $(ip netns pids "${NS[ojump]}"); do cat "/proc/$p/comm" 2>/dev/null; done | grep -c '^sshd$') || NPROC[$j]=2
	# End the clients by their PIDs (the timeouts), then wait for the runner.
	while read -r p; do kill "$p" 2>/dev/null; done <"$T/conc.$j.pids"
	for _ in $(seq 200); do [ "$(established "$from")" -eq 0 ] && break; sleep 0.1; done
	kill "$runner" 2>/dev/null
	wait "$runner" 2>/dev/null
done
bastion_alive=yes
pid_alive "$BASTION_PID" || bastion_alive="NO (exited: $(tail -n 2 "$T/bastion.log" | tr '\n' ' '))"

mib() { [ -n "$1" ] && awk -v k="$1" 'BEGIN { printf "%.1f MiB", k / 1024 }' || echo n/a; }
echo
echo "warren bastion benchmark: $(nproc) CPU, $(date -u +%Y-%m-%dT%H:%MZ), $(ssh -V 2>&1)"
printf '%-44s %20s %20s\n' "" "warren bastion" "OpenSSH sshd"
# shellcheck disable=SC2086
printf '%-44s %17s ms %17s ms\n' "jump connect, median of $ROUNDS_CONNECT ssh -J .. true" \
	"$(median ${C[bastion]})" "$(median ${C[openssh]})"
# shellcheck disable=SC2086
printf '%-44s %15s MiB/s %15s MiB/s\n' "single jump, $MB MiB (median of $ROUNDS)" \
	"$(median ${G[bastion]})" "$(median ${G[openssh]})"
printf '%-44s %20s %20s\n' "$CONCURRENT concurrent jumps established" \
	"${N_UP[bastion]}/$CONCURRENT in ${T_UP[bastion]} ms" "${N_UP[openssh]}/$CONCURRENT in ${T_UP[openssh]} ms"
printf '%-44s %20s %20s\n' "jump host PSS idle" "$(mib "${PSS0[bastion]}")" "$(mib "${PSS0[openssh]}")"
printf '%-44s %20s %20s\n' "jump host PSS with $CONCURRENT jumps" "$(mib "${PSS1[bastion]}")" \
	"$(mib "${PSS1[openssh]}") (${NPROC[openssh]} procs)"
printf '%-44s %20s %20s\n' "jump host RSS idle (summed)" "$(mib "${RSS0[bastion]}")" "$(mib "${RSS0[openssh]}")"
printf '%-44s %20s %20s\n' "jump host RSS with $CONCURRENT jumps (summed)" "$(mib "${RSS1[bastion]}")" \
	"$(mib "${RSS1[openssh]}")"
echo "rounds connect: bastion${C[bastion]} | openssh${C[openssh]} (ms)"
echo "rounds throughput: bastion${G[bastion]} | openssh${G[openssh]} (MiB/s)"
echo "bastion still running after the benchmark: $bastion_alive"
echo "reproduce: as root, BUILD=build tests/bench/bench_bastion.sh (ROUNDS, ROUNDS_CONNECT, CONCURRENT, MB)"
exit 0
