#!/usr/bin/env bash
# wireguard-tools' own wg-quick brings a node up with tunneld as its userspace implementation:
# `ip link add type wireguard` fails (no kernel module here), wg-quick falls back to
# $WG_QUICK_USERSPACE_IMPLEMENTATION IFACE (tunneld daemonizes, empty, like wireguard-go) and
# configures it over the UAPI socket.  Peer b is a plain `tunneld -c` node.
# run-all: plain (make test runs it against the plain build too: a core path as shipped)
. "$(dirname "$0")/lib.sh"

case $IMPL in tunneld) need_tunneld; USERSPACE=$TUNNELD_UAPI ;; *) USERSPACE=$(command -v "$WGGO") ;; esac

node_add a 1
node_add b 2
node_peer a b
node_peer b a
conf_write a
# wg-quick reads a's file and knows no Offload key: TUNNELD_UAPI carries the choice.
sed -i '/^Offload/d' "$(conf_file a)"
node_start b
ifa=${IFN[a]}

rc=0
ip netns exec "${NS[a]}" env WG_QUICK_USERSPACE_IMPLEMENTATION="$USERSPACE" \
	timeout -k 5 60 wg-quick up "$(conf_file a)" >"$T/wg-quick-up.log" 2>&1 || rc=$?
assert_eq "wg-quick up $ifa.conf with WG_QUICK_USERSPACE_IMPLEMENTATION=$(basename "$USERSPACE") exits" 0 "$rc"
assert_match "wg-quick ran the userspace implementation" "$(basename "$USERSPACE") $ifa" "$(cat "$T/wg-quick-up.log")"
check "$ifa is up in a's namespace" link_up "${NS[a]}" "$ifa"
check "UAPI socket /var/run/wireguard/$ifa.sock answers wg show" sock_ready "$ifa"
check "ping v4 a (wg-quick) -> b (${OV4[b]})" ping_ok a "${OV4[b]}"
check "ping v6 b -> a (wg-quick) (${OV6[a]})" ping_ok b "${OV6[a]}"
assert_match "wg show $ifa lists peer b with a handshake" "latest handshake" "$(nsx a wg show "$ifa")"

rc=0
ip netns exec "${NS[a]}" timeout -k 5 60 wg-quick down "$(conf_file a)" >"$T/wg-quick-down.log" 2>&1 || rc=$?
assert_eq "wg-quick down exits" 0 "$rc"
check "interface $ifa removed" wait_until 10 bash -c "! ip -n ${NS[a]} link show $ifa"
check "socket /var/run/wireguard/$ifa.sock removed" wait_until 10 test ! -e "/var/run/wireguard/$ifa.sock"
check "no daemon left in a's namespace" wait_until 10 bash -c "[ -z \"\$(ip netns pids ${NS[a]})\" ]"

finish
