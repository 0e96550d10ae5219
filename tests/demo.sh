#!/usr/bin/env bash
# `make demo`: a two-node warren network in network namespaces, explained step by step.
# Needs root (namespaces, TUN).  Everything it creates is removed on exit.
. "$(dirname "$0")/integration/lib.sh"

KEYS=$BUILD/keys
[ -x "$KEYS" ] || { echo "demo: $KEYS not built (run make)"; exit 1; }
need_tunneld
set -o pipefail
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
step() { printf '\n%s== %s%s\n' "$B" "$*" "$N"; }

step "1. Two 'datacenters': network namespaces joined by a switch (underlay 192.0.2.0/24)"
node_add a 1 tunneld
node_add b 2 tunneld
for n in a b; do
	printf '   node %s: namespace %-10s underlay %s  overlay %s, %s\n' \
		"$n" "${NS[$n]}" "${UL[$n]}" "${OV4[$n]}" "${OV6[$n]}"
done

step "2. Each node makes its own key pair with $(basename "$KEYS") genkey | $(basename "$KEYS") pubkey"
for n in a b; do
	printf '   node %s public key: %s   (the private key stays on the node)\n' "$n" "${PUB[$n]}"
done

step "3. Each node lists the other as a peer; node a's config (private key elided):"
node_peer a b
node_peer b a
conf_write a
sed 's/^\(PrivateKey = \).*/\1(secret)/; s/^/   /' "$(conf_file a)"

step "4. Start tunneld -c FILE in each namespace (creates the interface, addresses, routes)"
node_start a
node_start b
for n in a b; do
	printf '   node %s: tunneld pid %s, interface %s\n' "$n" "${PID[$n]}" "${IFN[$n]}"
	ip -n "${NS[$n]}" -brief addr show dev "${IFN[$n]}" | sed 's/^/     /'
done

step "5. Ping across the encrypted tunnel (the first packet triggers the handshake)"
ip netns exec "${NS[a]}" timeout 15 ping -n -c 3 -i 0.3 -w 10 "${OV4[b]}" | sed 's/^/   a$ /'
ip netns exec "${NS[b]}" timeout 15 ping -n -c 3 -i 0.3 -w 10 "${OV6[a]}" | sed 's/^/   b$ /'

step "6. The stock wg tool talks to tunneld over /var/run/wireguard/IFACE.sock"
for n in a b; do
	printf '   node %s$ wg show %s\n' "$n" "${IFN[$n]}"
	nsx "$n" wg show "${IFN[$n]}" | sed 's/^/     /'
done

step "7. Tear down: SIGTERM the daemons, delete the namespaces"
for n in a b; do
	rc=0; node_stop "$n" || rc=$?
	printf '   node %s: tunneld exited with status %s\n' "$n" "$rc"
done
printf '\nDemo done.  Try it by hand: ip netns add x; ip netns exec x %s -c FILE\n' "$TUNNELD"
