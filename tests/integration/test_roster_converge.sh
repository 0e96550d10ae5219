#!/usr/bin/env bash
# Roster convergence: 8 tunneld nodes in 3 datacenters (switch namespaces joined by a router
# namespace).  Nodes join one at a time, each provisioned with the roster of its enrollment, so
# the earliest know the fewest peers; the latest roster is then handed to node n1 only (which
# knew nobody) and must reach every node by gossip over the overlay.  Then a 9th node is
# enrolled, the roster handed to one node, every node reaches the new serial and the new node
# pings all others.  Convergence times are printed (goal < 3 s; asserted < 15 s).
. "$(dirname "$0")/lib.sh"

GOAL_MS=3000
BOUND_MS=15000
roster_admin_init
dc_add 1
dc_add 2
dc_add 3
nodes=()
for i in 1 2 3 4 5 6 7 8; do
	rnode_add "n$i" "$i" $(( (i - 1) / 3 + 1 ))
	nodes+=("n$i")
done

# Each node is enrolled, the roster published and the node provisioned with it (keys push).
for n in "${nodes[@]}"; do
	rnode_enroll "$n"
	roster_publish
	rnode_provision "$n"
done
latest=$SERIAL
for n in "${nodes[@]}"; do rnode_start "$n"; done
log "datacenters: dc1 n1-n3, dc2 n4-n6, dc3 n7-n8; serials before: $(serials "${nodes[@]}")"
assert_eq "n1 starts knowing no peer" "" "$(wg_peers n1)"
assert_eq "n1 starts at the roster of its enrollment" 2 "$(node_serial n1)"

t0=$(now_ms)
roster_hand n1
ms=$(converge_ms "$t0" 20 "$latest" "${nodes[@]}") || true
printf 'convergence: 8 nodes, 3 datacenters, roster handed to 1 node: %s ms (goal < %s ms)\n' \
	"$ms" "$GOAL_MS"
assert_le "all 8 nodes at serial $latest within ${BOUND_MS} ms [$(serials "${nodes[@]}")]" \
	"$BOUND_MS" "${ms/timeout/999999}"

# Every node's peers are exactly the 7 others.
for n in "${nodes[@]}"; do
	want=$(for p in "${nodes[@]}"; do [ "$p" = "$n" ] || echo "${PUB[$p]}"; done | sort)
	check "$n's wg show lists exactly the 7 other nodes" wait_until 5 \
		bash -c "[ \"\$(ip netns exec ${NS[$n]} timeout 5 wg show ${IFN[$n]} peers | sort)\" = \"$want\" ]"
done
for p in n2 n4 n6 n8; do check "ping n1 -> $p (${OV4[$p]}, dc${DC[$p]})" ping_ok n1 "${OV4[$p]}"; done
check "ping n8 -> n3 over IPv6" ping_ok n8 "${OV6[n3]}"

out=$(timeout 10 "$KEYS_BIN" status --node --roster "${ROSTER_PATH[n5]}" 2>&1 || true)
assert_match "keys status --node shows n5's serial $latest" "serial[^0-9]*$latest([^0-9]|$)" "$out"
assert_eq "n5's gossip service answers its serial to n2 (GET /v1/serial)" "$latest" \
	"$(gossip_get n2 n5 /v1/serial | tr -d '\r\n')"

# A 9th node in dc3: it is provisioned with the new roster, the others get it from n4 only.
rnode_add n9 9 3
rnode_enroll n9
roster_publish
latest=$SERIAL
rnode_provision n9
rnode_start n9
t0=$(now_ms)
roster_hand n4
ms=$(converge_ms "$t0" 20 "$latest" "${nodes[@]}" n9) || true
printf 'convergence: 9th node enrolled, roster handed to n4 only: %s ms (goal < %s ms)\n' "$ms" "$GOAL_MS"
assert_le "all 9 nodes at serial $latest within ${BOUND_MS} ms [$(serials "${nodes[@]}" n9)]" \
	"$BOUND_MS" "${ms/timeout/999999}"
for p in "${nodes[@]}"; do check "ping n9 -> $p (dc${DC[$p]})" ping_ok n9 "${OV4[$p]}"; done
check "ping n1 -> n9 (dc1 -> dc3)" ping_ok n1 "${OV4[n9]}"
for n in "${nodes[@]}" n9; do check "$n still running" pid_alive "${PID[$n]}"; done

finish
