#!/usr/bin/env bash
# Roster benchmark (called by bench.sh, or alone as root): how long a tunneld node takes to
# take in a signed roster of 1,000 and 10,000 nodes, and how much memory it then holds.
# Goal for 10,000 nodes: under 100 ms and under 64 MiB.  Measures and prints; never fails.
#
# One tunneld node (roster mode) starts from a roster that names only itself; the big roster
# (from roster_gen.c: real X25519 keys, one address and endpoint per node, signed with the
# admin key) is dropped at Roster.new.  Reported, medians of ROUNDS fresh starts:
#   parse, verify   in-process libkeys roster_load and roster_verify (roster_gen time)
#   persisted       drop -> the accepted roster is on disk (tunneld: read, parse, verify, save)
#   applied         drop -> peers installed: the first UAPI dump that answers after the
#                   persist (the event loop applies before it serves), minus one dump's time
#   RSS, peak       VmRSS / VmHWM of tunneld once applied
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

declare -A R
for size in $SIZES; do
	t0=$(now_ms)
	if ! "$T/roster_gen" gen "$T/base.signed" "$ADMIN/admin.key" "$size" "$T/r$size" >"$T/gen.out" 2>&1; then
		echo "bench_roster: roster_gen $size failed: $(head -n 3 "$T/gen.out")"
		continue
	fi
	want=$(roster_serial_of "$T/r$size")
	printf 'roster of %d nodes: %d KiB, generated in %d ms\n' "$size" \
		$(( $(stat -c %s "$T/r$size") / 1024 )) $(( $(now_ms) - t0 ))
	for r in $(seq "$ROUNDS"); do
		read -r "R[$size:parse:$r]" "R[$size:verify:$r]" < <("$T/roster_gen" time "$T/r$size" 2>/dev/null || echo "n/a n/a")
		rnode_provision s "$T/base.signed"
		rm -f "${ROSTER_PATH[s]}.new" "${ROSTER_PATH[s]}.admin"
		if ! rnode_start s; then echo "bench_roster: tunneld did not start: $(tail -n 3 "$T/s.log")"; break; fi
		R[$size:rss0:$r]=$(proc_kb "${PID[s]}" VmRSS)
		t0=$(now_ms)
		roster_hand s "$T/r$size"
		persisted=n/a applied=n/a
		for _ in $(seq 3000); do
			[ "$(node_serial s)" = "$want" ] && { persisted=$(( $(now_ms) - t0 )); break; }
			sleep 0.005
		done
		if [ "$persisted" != n/a ]; then
			n=$(peers_n)
			t1=$(now_ms)
			applied=$(( t1 - t0 ))
			[ "$n" -eq $((size - 1)) ] || applied=n/a
			peers_n >/dev/null
			dump=$(( $(now_ms) - t1 ))
			[ "$applied" = n/a ] || applied=$(( applied - dump > persisted ? applied - dump : persisted ))
		fi
		R[$size:persist:$r]=$persisted
		R[$size:apply:$r]=$applied
		R[$size:rss:$r]=$(proc_kb "${PID[s]}" VmRSS)
		R[$size:hwm:$r]=$(proc_kb "${PID[s]}" VmHWM)
		printf 'round %d  %6d nodes: parse %s ms, verify %s ms, persisted %s ms, applied %s ms, RSS %s kB (peak %s, at start %s)\n' \
			"$r" "$size" "${R[$size:parse:$r]}" "${R[$size:verify:$r]}" "$persisted" "$applied" \
			"${R[$size:rss:$r]:-n/a}" "${R[$size:hwm:$r]:-n/a}" "${R[$size:rss0:$r]:-n/a}"
		node_stop s || true
	done
done

echo
echo "warren roster benchmark: $(nproc) CPU, kernel $(uname -r), $(date -u +%Y-%m-%dT%H:%MZ); goal at 10,000 nodes: applied < 100 ms, RSS < 64 MiB"
printf '%-7s %9s %10s %13s %11s %9s %10s\n' nodes "parse ms" "verify ms" "persisted ms" "applied ms" "RSS MiB" "peak MiB"
for size in $SIZES; do
	m() { local k=$1 v=() r; for r in $(seq "$ROUNDS"); do v+=("${R[$size:$k:$r]:-n/a}"); done; median "${v[@]}"; }
	mib() { awk -v k="$1" 'BEGIN { if (k == "n/a") print k; else printf "%.1f\n", k / 1024 }'; }
	printf '%-7s %9s %10s %13s %11s %9s %10s\n' "$size" "$(m parse)" "$(m verify)" "$(m persist)" \
		"$(m apply)" "$(mib "$(m rss)")" "$(mib "$(m hwm)")"
done
echo "medians of $ROUNDS fresh tunneld starts; reproduce: as root, BUILD=build ROUNDS=$ROUNDS tests/bench/bench_roster.sh"
exit 0
