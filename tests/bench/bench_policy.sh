#!/usr/bin/env bash
# Policy benchmark (called by bench.sh, or alone as root): what the roster's node-to-node policy
# costs on the data path (issue 11's goal: throughput with 100 rules within 5% of without).
# Two tunneld nodes a and b in roster mode; three rosters, switched live on both nodes (the
# policy applies without a restart or a new session), in interleaved rounds:
#   none      no policy at all (no chain)
#   100-last  policy default deny and 100 allow rules web -> b, the iperf3 port matched by the
#             last one: a connection's first packet walks them all, the rest take the
#             conntrack fast path
#   100-deny  the same 100 rules, plus 99 deny rules from other groups checked before any allow
# Single-stream iperf3 a -> b (SECS s), median ping rtt a -> b; medians of ROUNDS.  Measures
# and prints; never fails on the numbers.
. "$(dirname "$0")/../integration/lib.sh"
set +E
trap - ERR

ROUNDS=${ROUNDS:-3}
SECS=${SECS:-6}
command -v iperf3 >/dev/null || { echo "bench_policy: iperf3 not installed (make deps)"; exit 0; }
[ -x "$KEYS_BIN" ] || { echo "bench_policy: $KEYS_BIN not built, skipping"; exit 0; }
[ -x "$TUNNELD" ] || { echo "bench_policy: $TUNNELD not built, skipping"; exit 0; }

roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_enroll a --group web
rnode_enroll b --group db
# 99 more nodes, never started: the groups of the deny rules.
for k in $(seq 1 99); do
	keys_admin enroll "x$k" --pubkey "$(wg genkey | wg pubkey)" --group "g$k" \
		>>"$T/keys.out" 2>>"$T/keys.err"
done
cp "$ADMIN/roster" "$T/none.work"
keys_admin policy default deny --force >>"$T/keys.out" 2>>"$T/keys.err"
keys_admin policy allow '*' '*' icmp >>"$T/keys.out" 2>>"$T/keys.err"
for k in $(seq 1 99); do
	keys_admin policy allow group:web b "tcp/$((10000 + k))" >>"$T/keys.out" 2>>"$T/keys.err"
done
keys_admin policy allow group:web group:db tcp/5201 >>"$T/keys.out" 2>>"$T/keys.err"
cp "$ADMIN/roster" "$T/100-last.work"
for k in $(seq 1 99); do
	keys_admin policy deny "group:g$k" b any >>"$T/keys.out" 2>>"$T/keys.err"
done
cp "$ADMIN/roster" "$T/100-deny.work"

# use VARIANT: publishes that working roster as the newest serial and hands it to both nodes.
use() {
	cp "$T/$1.work" "$ADMIN/roster"
	roster_publish --force
	roster_hand a
	roster_hand b
	# Persisted comes before applied: wait for the line tunneld logs once it applied.
	wait_until 20 grep -q "roster serial $SERIAL, " "$T/a.log" &&
		wait_until 20 grep -q "roster serial $SERIAL, " "$T/b.log"
}
cp "$T/none.work" "$ADMIN/roster"
roster_publish --force
for n in a b; do
	rnode_provision "$n"
	rnode_start "$n"
done
ip netns exec "${NS[b]}" timeout -k 2 "$(time_left)" iperf3 -s -p 5201 >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening b 5201
ping_ok a "${OV4[b]}" || { echo "bench_policy: no tunnel a -> b"; exit 0; }

declare -A G L
variants="none 100-last 100-deny"
for r in $(seq "$ROUNDS"); do
	for v in $variants; do
		use "$v" || { echo "bench_policy: $v not taken by both nodes"; continue; }
		if grep -q "cannot enforce" "$T/b.log"; then
			echo "bench_policy: b could not enforce a policy: $(grep "cannot enforce" "$T/b.log" | tail -n 1)"
			exit 0
		fi
		nft_rules=$(ip netns exec "${NS[b]}" nft list table inet "warren-${IFN[b]}" 2>/dev/null |
			grep -c 'comment "' || true)
		g=$(iperf_gbps a "${OV4[b]}" "$SECS")
		l=$(rtt_median a "${OV4[b]}" 100)
		G[$v]="${G[$v]:-} $g"
		L[$v]="${L[$v]:-} $l"
		printf 'round %d %-9s %3s policy rules in b'"'"'s chain  %6s Gbit/s  rtt %6s ms\n' \
			"$r" "$v" "$nft_rules" "$g" "$l"
	done
done
median() { tr ' ' '\n' | grep -E '^[0-9.]+$' | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'; }
base=$(printf "%s" "${G[none]:-}" | median)
echo "bench_policy: medians of $ROUNDS rounds, single-stream iperf3 a -> b, $SECS s each:"
for v in $variants; do
	g=$(printf "%s" "${G[$v]:-}" | median)
	pct=$(awk -v g="$g" -v b="$base" 'BEGIN { if (b + 0 > 0 && g + 0 > 0) printf "%+.1f%%", (g - b) / b * 100; else print "n/a" }')
	printf '  %-9s %6s Gbit/s (%s against none)  rtt %s ms\n' "$v" "$g" "$pct" \
		"$(printf "%s" "${L[$v]:-}" | median)"
done
exit 0
