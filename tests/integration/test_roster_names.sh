#!/usr/bin/env bash
# Roster endpoints may be names (Endpoint-style host:port).  A node resolves them in the
# background, off its event loop: here b's endpoint is "node-b.dc1" (resolved through a's own
# hosts file, `ip netns exec` bind-mounts /etc/netns/NS/hosts), and a reaches b through it.
. "$(dirname "$0")/lib.sh"

roster_admin_init
rnode_add a 1
rnode_add b 2
HOSTS_DIR=/etc/netns/${NS[a]}
names_cleanup() {
	local rc=$?
	set +eE
	trap - ERR
	rm -rf "$HOSTS_DIR"
	rmdir /etc/netns 2>/dev/null	# only if no one else uses it
	return "$rc"
}
trap 'names_cleanup; cleanup' EXIT
mkdir -p "$HOSTS_DIR"
printf '127.0.0.1 localhost\n%s node-b.dc1\n' "${UL[b]}" >"$HOSTS_DIR/hosts"

rnode_enroll a
keys_admin enroll b --pubkey "${PUB[b]}" --address "${OV4[b]}" --address "${OV6[b]}" \
	--endpoint "node-b.dc1:${PORT[b]}" >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
check "the roster names b's endpoint by host name" grep -q "endpoint node-b.dc1:${PORT[b]}" \
	"$ADMIN/roster.signed"
for n in a b; do rnode_provision "$n"; rnode_start "$n"; done
check "ping a -> b through the resolved name" ping_ok a "${OV4[b]}"
assert_eq "a's endpoint for b is the address the name resolves to" "${UL[b]}:${PORT[b]}" \
	"$(peer_field a b 3)"
check "ping b -> a" ping_ok b "${OV6[a]}"

finish
