#!/usr/bin/env bash
# Roster benchmark (called by bench.sh, or alone as root): how long a tunneld node takes to
# take in a signed roster of 1,000 and 10,000 nodes, and how much memory it then holds.
# Goal for 10,000 nodes: listed within 1 s (whole roster and a one-node change), under 64 MiB.  Measures and prints; never fails.
#
# One tunneld node (roster mode) starts from a roster that names only itself; the big roster
# (from roster_gen.c: real X25519 keys, one address and endpoint per node, signed with the
# admin key) is dropped at Roster.new.  Reported, medians of ROUNDS fresh starts:
#   parse, verify   in-process libkeys roster_load and roster_verify (roster_gen time)
#   persisted       drop -> the accepted roster is on disk (tunneld: read, parse, verify, save)
#   applied         drop -> peers installed: the first UAPI dump that answers after the
#                   persist (the event loop applies before it serves), minus one dump's time
#   listed          drop -> a `wg show peers` has listed every peer (end to end: the dump too)
#   CPU             tunneld's CPU time (all its threads, /proc/PID/task/*/schedstat) from the
#                   drop until listed, the listings polled meanwhile included: on a loaded
#                   machine the wall times above mostly measure the wait for a core, this not
#   RSS, peak       VmRSS / VmHWM of tunneld once applied
# and then a one-node change on the big roster (one node more, serial + 1): the same figures.
. "$(dirname "$0")/../integration/lib.sh"
set +E
trap - ERR

ROUNDS=${ROUNDS:-3}
SIZES=${ROSTER_SIZES:-1000 10000}
[ -x "$KEYS_BIN" ] || { echo "bench_roster: $KEYS_BIN not built, skipping"; exit 0; }
[ -x "$TUNNELD" ] || { echo "bench_roster: $TUNNELD not built, skipping"; exit 0; }
# shellcheck disable=SC2046
if ! ${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -I"$ROOT" -o "$T/roster_gen" "$ROOT/tests/bench/roster_gen.c" \
	"$BUILD/libkeys.a" $(pkg-config --libs libsodium libb2 libcrypto) 2>"$T/gen.err"; then
	echo "bench_roster: cannot build roster_gen: $(head -n 3 "$T/gen.err")"
	exit 0
fi

roster_admin_init bench || { echo "bench_roster: keys init failed: $(cat "$T/keys.err")"; exit 0; }
rnode_add s 1
rnode_enroll s && roster_publish || { echo "bench_roster: keys enroll/publish failed: $(cat "$T/keys.err")"; exit 0; }
cp "$ADMIN/roster.signed" "$T/base.signed"

# kB of a /proc/PID/status field.
proc_kb() { awk -v f="$2:" '$1 == f { print $2 }' "/proc/$1/status" 2>/dev/null; }
peers_n() { nsx s wg show "${IFN[s]}" peers 2>/dev/null | wc -l; }
median() {
	printf '%s\n' "$@" | grep -v '^n/a$' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'
}

# hand_over NODE FILE PEERS KEY: hands FILE to NODE, waits until it persisted FILE's serial and
# until a UAPI dump lists PEERS peers; R[KEY:persist|apply|listed] in ms from the drop, n/a if
# that never happened (within 15 s).
cpu_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'; }
hand_over() {
	local n=$1 f=$2 want_peers=$3 k=$4 want t0 t1 dump persisted=n/a applied=n/a listed=n/a got c0
	want=$(roster_serial_of "$f")
	c0=$(cpu_ns "${PID[$n]}")
	t0=$(now_ms)
	roster_hand "$n" "$f"
	for _ in $(seq 3000); do
		[ "$(node_serial "$n")" = "$want" ] && { persisted=$(( $(now_ms) - t0 )); break; }
		sleep 0.005
	done
	if [ "$persisted" != n/a ]; then
		for _ in $(seq 300); do
			t1=$(now_ms)
			got=$(peers_n)
			[ "$got" -eq "$want_peers" ] && { listed=$(( $(now_ms) - t0 )); break; }
			sleep 0.05
		done
		if [ "$listed" != n/a ]; then
			dump=$(( t0 + listed - t1 ))
			applied=$(( listed - dump > persisted ? listed - dump : persisted ))
		fi
	fi
	R[$k:persist]=$persisted
	R[$k:apply]=$applied
	R[$k:listed]=$listed
	R[$k:cpu]=$(( ($(cpu_ns "${PID[$n]}") - c0) / 1000000 ))
}

declare -A R
for size in $SIZES; do
	t0=$(now_ms)
	if ! "$T/roster_gen" gen "$T/base.signed" "$ADMIN/admin.key" "$size" "$T/r$size" >"$T/gen.out" 2>&1 ||
		! "$T/roster_gen" gen "$T/r$size" "$ADMIN/admin.key" $((size + 1)) "$T/r${size}c" >"$T/gen.out" 2>&1; then
		echo "bench_roster: roster_gen $size failed: $(head -n 3 "$T/gen.out")"
		continue
	fi
	printf 'roster of %d nodes: %d KiB, generated in %d ms\n' "$size" \
		$(( $(stat -c %s "$T/r$size") / 1024 )) $(( $(now_ms) - t0 ))
	for r in $(seq "$ROUNDS"); do
		read -r "R[$size:parse:$r]" "R[$size:verify:$r]" < <("$T/roster_gen" time "$T/r$size" 2>/dev/null || echo "n/a n/a")
		rnode_provision s "$T/base.signed"
		rm -f "${ROSTER_PATH[s]}.new" "${ROSTER_PATH[s]}.admin"
		if ! rnode_start s; then echo "bench_roster: tunneld did not start: $(tail -n 3 "$T/s.log")"; break; fi
		R[$size:rss0:$r]=$(proc_kb "${PID[s]}" VmRSS)
		hand_over s "$T/r$size" $((size - 1)) "$size:$r"
		R[$size:rss:$r]=$(proc_kb "${PID[s]}" VmRSS)
		hand_over s "$T/r${size}c" "$size" "$size+1:$r"
		R[$size+1:rss:$r]=$(proc_kb "${PID[s]}" VmRSS)
		R[$size+1:hwm:$r]=$(proc_kb "${PID[s]}" VmHWM)
		for k in "$size" "$size+1"; do
			R[$k:persist:$r]=${R[$k:$r:persist]} R[$k:apply:$r]=${R[$k:$r:apply]}
			R[$k:listed:$r]=${R[$k:$r:listed]} R[$k:parse:$r]=${R[$size:parse:$r]}
			R[$k:cpu:$r]=${R[$k:$r:cpu]}
			R[$k:verify:$r]=${R[$size:verify:$r]} R[$size:hwm:$r]=${R[$size+1:hwm:$r]}
			printf 'round %d  %-6s nodes: parse %s ms, verify %s ms, persisted %s ms, applied %s ms, listed %s ms, tunneld CPU %s ms, RSS %s kB (peak %s, at start %s)\n' \
				"$r" "$k" "${R[$size:parse:$r]}" "${R[$size:verify:$r]}" "${R[$k:persist:$r]}" \
				"${R[$k:apply:$r]}" "${R[$k:listed:$r]}" "${R[$k:cpu:$r]}" "${R[$k:rss:$r]:-n/a}" \
				"${R[$size+1:hwm:$r]:-n/a}" "${R[$size:rss0:$r]:-n/a}"
		done
		node_stop s || true
	done
done

echo
echo "warren roster benchmark: $(nproc) CPU, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ); goal at 10,000 nodes: listed < 1000 ms (whole and one-node change), RSS < 64 MiB"
printf '%-7s %9s %10s %13s %11s %10s %8s %9s %10s\n' nodes "parse ms" "verify ms" "persisted ms" "applied ms" "listed ms" "CPU ms" "RSS MiB" "peak MiB"
for size in $SIZES; do
	for k in "$size" "$size+1"; do
		m() { local key=$1 v=() r; for r in $(seq "$ROUNDS"); do v+=("${R[$k:$key:$r]:-n/a}"); done; median "${v[@]}"; }
		mib() { awk -v k="$1" 'BEGIN { if (k == "n/a") print k; else printf "%.1f\n", k / 1024 }'; }
		printf '%-7s %9s %10s %13s %11s %10s %8s %9s %10s\n' "$k" "$(m parse)" "$(m verify)" "$(m persist)" \
			"$(m apply)" "$(m listed)" "$(m cpu)" "$(mib "$(m rss)")" "$(mib "$(m hwm)")"
	done
done
echo "N: a fresh node handed N nodes; N+1: then one node more (serial + 1).  applied = listed minus the listing dump's time; CPU: tunneld's, drop to listed"
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (wall times stretch with it)"
echo "medians of $ROUNDS fresh tunneld starts; reproduce: as root, BUILD=build ROUNDS=$ROUNDS tests/bench/bench_roster.sh"
exit 0
