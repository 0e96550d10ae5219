#!/usr/bin/env bash
# `make demo`: a three-node warren network in network namespaces, built the way an admin does it:
# `keys init`, each node makes its own key, `keys enroll`, `keys publish`, the signed roster
# handed to the nodes, tunneld in roster mode.  Explained step by step.
# Needs root (namespaces, TUN).  Everything it creates is removed on exit.
. "$(dirname "$0")/integration/lib.sh"

KEYS=$BUILD/keys
KEYS_BIN=$KEYS
[ -x "$KEYS" ] || { echo "demo: $KEYS not built (run make)"; exit 1; }
need_tunneld
set -o pipefail
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }
# Shows a keys command as the admin would type it, then runs it in the admin directory.
admin() { printf '   admin$ keys %s\n' "$*"; keys_admin "$@" 2>&1 | sed 's/^/     /'; }
nodes=(a b c)

step "1. Three 'datacenters': network namespaces joined by a switch (underlay 192.0.2.0/24)"
for i in 1 2 3; do rnode_add "${nodes[i - 1]}" "$i"; done
for n in "${nodes[@]}"; do
	printf '   node %s: namespace %-10s underlay %s\n' "$n" "${NS[$n]}" "${UL[$n]}"
done

step "2. The admin creates the network: an Ed25519 signing key (stays in $ADMIN) and roster serial 1"
mkdir -p -m 0700 "$ADMIN"
admin init --network demo --cidr 100.64.0.0/16 --cidr6 fd00:64::/48
printf '   admin public key (every node pins it): %s\n' "$(keys_admin admin-pubkey)"

step "3. Each node makes its own key pair; only the public half goes to the admin"
for n in "${nodes[@]}"; do
	printf '   node %s$ keys genkey > %s.key; keys pubkey < %s.key\n     %s\n' "$n" "$n" "$n" "${PUB[$n]}"
done

step "4. The admin enrolls the nodes (addresses allocated from the CIDRs) and publishes"
for n in "${nodes[@]}"; do admin enroll "$n" --pubkey "${PUB[$n]}" --endpoint "${UL[$n]}:${PORT[$n]}"; done
admin publish
admin list
# The overlay addresses keys allocated, from the signed roster itself.
for n in "${nodes[@]}"; do
	OV4[$n]=$(awk -v n="$n" '$1 == "node" { in_n = ($2 == n) } in_n && $1 == "address" && $2 !~ /:/ { print $2; exit }' "$ADMIN/roster.signed")
	OV6[$n]=$(awk -v n="$n" '$1 == "node" { in_n = ($2 == n) } in_n && $1 == "address" && $2 ~ /:/ { print $2; exit }' "$ADMIN/roster.signed")
done

step "5. The signed roster (what every node gets; the signature covers every byte above it)"
sed 's/^/   /' "$ADMIN/roster.signed"

step "6. Each node gets its config from keys node-config and the roster (keys push would scp it)"
for n in "${nodes[@]}"; do rnode_conf "$n"; rnode_provision "$n"; done
printf '   admin$ keys node-config a --private-key-file %s --roster-path %s --listen-port %s\n' \
	"$T/a.key" "${ROSTER_PATH[a]}" "${PORT[a]}"
sed 's/^/     /' "$(conf_file a)"

step "7. Start tunneld -c FILE in each namespace: peers, addresses and routes come from the roster"
for n in "${nodes[@]}"; do
	rnode_start "$n"
	printf '   node %s: tunneld pid %s, interface %s\n' "$n" "${PID[$n]}" "${IFN[$n]}"
	ip -n "${NS[$n]}" -brief addr show dev "${IFN[$n]}" | sed 's/^/     /'
done

step "8. Ping across the encrypted tunnels (the first packet triggers the handshake)"
ip netns exec "${NS[a]}" timeout 15 ping -n -c 3 -i 0.3 -w 10 "${OV4[b]}" | sed 's/^/   a$ /'
ip netns exec "${NS[b]}" timeout 15 ping -n -c 3 -i 0.3 -w 10 "${OV4[c]}" | sed 's/^/   b$ /'
ip netns exec "${NS[c]}" timeout 15 ping -n -c 3 -i 0.3 -w 10 "${OV6[a]}" | sed 's/^/   c$ /'

step "9. The stock wg tool talks to tunneld; keys status shows the roster serial a node runs"
printf '   node a$ wg show %s\n' "${IFN[a]}"
nsx a wg show "${IFN[a]}" | sed 's/^/     /'
printf '   node a$ keys status --node --roster %s\n' "${ROSTER_PATH[a]}"
timeout 10 "$KEYS" status --node --roster "${ROSTER_PATH[a]}" 2>&1 | sed 's/^/     /'

step "10. Tear down: SIGTERM the daemons, delete the namespaces"
for n in "${nodes[@]}"; do
	rc=0; node_stop "$n" || rc=$?
	printf '   node %s: tunneld exited with status %s\n' "$n" "$rc"
done
printf '\nDemo done.  Next: keys rotate, keys revoke (README: "Enroll, rotate, revoke").\n'
