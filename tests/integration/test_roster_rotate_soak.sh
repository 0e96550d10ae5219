#!/usr/bin/env bash
# Rotation soak (issue 7, item 15): SOAK_NODES tunneld nodes (default 8) on one switch; for
# SOAK_SECONDS (default 60) the admin publishes every SOAK_INTERVAL seconds (default 2.5), and
# every fourth publish is a key rotation of the next node in turn, handed to that rotated node
# itself (the hardest case: it is the only one that has the roster when it switches keys).
# The other publishes are handed to another node in turn.  Afterwards every node must reach
# the final serial, no node may have logged REVOKED, every rotated node must run its new key,
# and every node must ping every other node.
#
# The long soak (20 nodes, 10 minutes, a publish every 10 s) is this script with other
# settings: `make soak` (tests/bench/soak_rotate.sh).
# run-all: early (80 s of rotations and restarts)
. "$(dirname "$0")/lib.sh"

NODES=${SOAK_NODES:-8}
SECONDS_RUN=${SOAK_SECONDS:-50}
INTERVAL=${SOAK_INTERVAL:-2.5}
CONVERGE_S=${SOAK_CONVERGE:-30}
SPREAD_S=${SOAK_SPREAD:-15}
RESTART=${SOAK_RESTART:-1}	# 1: restart each rotated node first, 0: never, alt: every other
[ "$NODES" -ge 3 ] && [ "$NODES" -le 60 ] || { fail "SOAK_NODES must be 3..60"; finish; }

roster_admin_init
nodes=()
for i in $(seq 1 "$NODES"); do
	rnode_add "n$i" "$i"
	rnode_enroll "n$i"
	nodes+=("n$i")
done
roster_publish
for n in "${nodes[@]}"; do rnode_provision "$n"; done
for n in "${nodes[@]}"; do rnode_start "$n"; done
check "n1 reaches n$NODES before the soak" ping_ok n1 "${OV4[n$NODES]}"

# A publish every INTERVAL seconds for SECONDS_RUN seconds (bounded by count as well).
max=$(awk -v s="$SECONDS_RUN" -v i="$INTERVAL" 'BEGIN { printf "%d", s / i }')
rot=0 other=0 rotations=0
declare -A ROTATED
stranded=()
t_end=$((SECONDS + SECONDS_RUN + 5))
for k in $(seq 1 "$max"); do
	[ "$SECONDS" -lt "$t_end" ] || break
	if [ $((k % 4)) -eq 0 ]; then
		r=${nodes[$((rot % NODES))]}
		rot=$((rot + 1))
		new_priv=$(timeout 10 "$KEYS_BIN" genkey)
		new_pub=$(printf '%s\n' "$new_priv" | timeout 10 "$KEYS_BIN" pubkey)
		# The rotated node holds no session when the roster reaches it: it restarts and
		# finds Roster.new at start, as after a reboot, or as any node whose peers were
		# idle for longer than REJECT_AFTER_TIME (180 s).  Only handshakes can carry its
		# gossip then.
		restart=$RESTART
		[ "$RESTART" != alt ] || restart=$((rot % 2))
		[ "$restart" = 1 ] && node_stop "$r"
		(umask 077; printf '%s\n' "$new_priv" >"$T/$r.key.next")
		keys_admin rotate "$r" --pubkey "$new_pub" >>"$T/keys.out" 2>>"$T/keys.err"
		roster_publish >/dev/null
		roster_hand "$r"
		[ "$restart" = 1 ] && rnode_start "$r"
		PRIV[$r]=$new_priv
		PUB[$r]=$new_pub
		ROTATED[$r]=1
		rotations=$((rotations + 1))
		how="handed to $r"
		[ "$restart" != 1 ] || how="$how (restarted)"
		log "publish $k: serial $SERIAL rotates $r, $how"
		# The rotation must spread from the rotated node before the next publish (which
		# would also tell every node the new key, hiding the fault).
		t0=$(now_ms)
		ms=$(converge_ms "$t0" "$SPREAD_S" "$SERIAL" "${nodes[@]}") || true
		reached=0
		for n in "${nodes[@]}"; do
			[ "$(node_serial "$n")" -lt "$SERIAL" ] || reached=$((reached + 1))
		done
		log "  rotation of $r (serial $SERIAL) reached $reached of $NODES nodes ($ms ms)"
		[ "$reached" -eq "$NODES" ] || stranded+=("$r@$SERIAL:$reached/$NODES")
		continue
	else
		h=${nodes[$((other % NODES))]}
		other=$((other + 1))
		roster_publish --force >/dev/null	# nothing changed: a new serial all the same
		roster_hand "$h"
	fi
	sleep "$INTERVAL"
done
final=$SERIAL
log "$k publishes, $rotations rotations; final serial $final; now: $(serials "${nodes[@]}")"

assert_eq "rotations that did not spread from the rotated node within ${SPREAD_S} s" "" \
	"${stranded[*]}"
t0=$(now_ms)
ms=$(converge_ms "$t0" "$CONVERGE_S" "$final" "${nodes[@]}") || true
printf 'soak: %d nodes, %d publishes, %d rotations: final serial %s everywhere %s ms %s\n' \
	"$NODES" "$k" "$rotations" "$final" "$ms" "after the last publish"
behind=()
for n in "${nodes[@]}"; do
	[ "$(node_serial "$n")" = "$final" ] || behind+=("$n=$(node_serial "$n")")
done
assert_eq "nodes not at the final serial $final within ${CONVERGE_S} s" "" "${behind[*]}"

for n in "${nodes[@]}"; do
	if grep -q 'REVOKED' "$T/$n.log"; then
		fail "$n logged REVOKED: $(grep -m1 REVOKED "$T/$n.log")"
	else
		pass "$n never logged REVOKED"
	fi
done
for n in "${!ROTATED[@]}"; do
	assert_eq "$n runs its rotated key" "${PUB[$n]}" \
		"$(nsx "$n" wg show "${IFN[$n]}" public-key)"
done

# Every node pings every other node (one prober per node, in parallel, bounded).
pids=()
for n in "${nodes[@]}"; do
	(
		for p in "${nodes[@]}"; do
			[ "$p" = "$n" ] && continue
			if timeout -k 2 25 ip netns exec "${NS[$n]}" ping -n -q -c 3 -i 0.3 -w 20 \
				"${OV4[$p]}" >/dev/null 2>&1; then
				echo "ok $p"
			else
				echo "FAIL $p"
			fi
		done >"$T/reach.$n"
	) &
	pids+=($!)
done
BG_PIDS+=("${pids[@]}")
for p in "${pids[@]}"; do wait "$p" || true; done
unreached=0
for n in "${nodes[@]}"; do
	bad=$(grep -c '^FAIL' "$T/reach.$n" || true)
	unreached=$((unreached + bad))
	[ "$bad" -eq 0 ] ||
		log "$n cannot reach: $(sed -n 's/^FAIL //p' "$T/reach.$n" | tr '\n' ' ')"
done
assert_eq "node pairs that cannot ping each other (of $((NODES * (NODES - 1))))" 0 "$unreached"
for n in "${nodes[@]}"; do check "$n still running" pid_alive "${PID[$n]}"; done
# SOAK_KEEP=DIR keeps every node's log for a look afterwards.
[ -z "${SOAK_KEEP:-}" ] || { mkdir -p "$SOAK_KEEP" && cp "$T"/*.log "$SOAK_KEEP"/; }

finish
