#!/usr/bin/env bash
# Endpoint re-resolution: a's config names b by host name (Endpoint = peer-b:PORT), resolved
# through a per-namespace hosts file (`ip netns exec` bind-mounts /etc/netns/NS/hosts over
# /etc/hosts).  After a first ping, b's underlay address moves 192.0.2.2 -> .12 and the hosts
# file is rewritten in place to match; nothing answers at the old address.  a keeps pinging and
# must look the name up again (tunneld/peer.c, maybe_reresolve) and reach b at the new address.
#
# b is kept from sending handshake initiations (an nft rule in b's namespace drops outgoing
# type-1 messages), so a cannot learn the new address by roaming: only re-resolution can get
# it there.  The time from the move to the new endpoint is printed.
#
# Bound: a notices b is silent when it has sent for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT (15 s)
# with nothing back and starts a handshake; an initiation to a silent peer looks the name up
# again (tunneld/peer.c, maybe_reresolve; at most every ENDPOINT_RERESOLVE_INTERVAL = 30 s,
# counted from start-up), and the next retransmission, 5 s later, goes to the new address.
# Measured from the last handshake: 15 + 5 + jitter, plus up to the 30 s interval when the
# move comes early: RERESOLVE_DEADLINE (default 45 s).
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "wireguard-go resolves endpoint names once (wg set), never again"
command -v nft >/dev/null || skip "nft not installed (needed to keep b from initiating)"

DEADLINE=${RERESOLVE_DEADLINE:-45}
NAME=peer-b

node_add a 1
node_add b 2
node_peer a b
node_peer b a

# /etc/netns/NS must exist before a's daemon starts: the bind mount is made at exec time.
HOSTS_DIR=/etc/netns/${NS[a]}
HOSTS=$HOSTS_DIR/hosts
reresolve_cleanup() {
	local rc=$?
	set +eE
	trap - ERR
	rm -rf "$HOSTS_DIR"
	rmdir /etc/netns 2>/dev/null	# only if no one else uses it
	return "$rc"
}
trap 'reresolve_cleanup; cleanup' EXIT

# hosts_write ADDR: rewrites the file in place (same inode, no truncation: fixed-width lines),
# so the bind mount in a's namespace sees it and no reader ever finds it empty.
hosts_write() {
	printf '127.0.0.1       localhost\n%-15s %s\n' "$1" "$NAME" 1<>"$HOSTS"
}
mkdir -p "$HOSTS_DIR"
: >"$HOSTS"
hosts_write "${UL[b]}"

# a's config names b instead of its address (lib.sh writes addresses).
eval "lib_conf_write() $(declare -f conf_write | tail -n +2)"
conf_write() {
	lib_conf_write "$@"
	[ "$1" = a ] || return 0
	sed -i "s/^Endpoint = ${UL[b]}:/Endpoint = $NAME:/" "$(conf_file a)"
}

node_start a
node_start b
assert_match "a's config names b's endpoint by host name" "^Endpoint = $NAME:${PORT[b]}\$" \
	"$(grep '^Endpoint' "$(conf_file a)")"
assert_eq "a resolved $NAME through its namespace's hosts file" "${UL[b]}:${PORT[b]}" \
	"$(peer_field a b 3)"
check "ping a -> b before the move" ping_ok a "${OV4[b]}"
hs0=$(peer_field a b 5)

# b may answer a but never initiate: drop b's outgoing handshake initiations (first payload
# word, little-endian type 1).
ip netns exec "${NS[b]}" nft -f - <<EOF
table inet reresolve {
	chain out {
		type filter hook output priority 0;
		udp sport ${PORT[b]} @th,64,32 0x01000000 counter drop
	}
}
EOF

# a keeps sending all along: that is what drives its handshake retries.
ip netns exec "${NS[a]}" timeout -k 2 $((DEADLINE + 60)) \
	ping -n -q -i 0.5 "${OV4[b]}" >/dev/null 2>&1 &
BG_PIDS+=($!)

new=192.0.2.12
t0=$(now_ms)
ip -n "${NS[b]}" addr del "${UL[b]}/24" dev ul0
ip -n "${NS[b]}" addr add "$new/24" dev ul0
hosts_write "$new"
log "b's underlay moved ${UL[b]} -> $new; $NAME now maps to $new in a's hosts file"
check "a's hosts file maps $NAME to $new" grep -q "^$new  *$NAME\$" "$HOSTS"
assert_eq "getent in a's namespace" "$new" "$(nsx a getent hosts "$NAME" | awk '{print $1}')"
assert_eq "a's endpoint for b right after the move (no re-resolution yet)" \
	"${UL[b]}:${PORT[b]}" "$(peer_field a b 3)"

# Bounded wait, measured from the last handshake (see the header).
left=$(( DEADLINE - ( $(date +%s) - hs0 ) ))
[ "$left" -gt 0 ] || left=1
log "waiting up to ${left} s for a to re-resolve $NAME"
if wait_until "$left" bash -c "[ \"\$(ip netns exec ${NS[a]} wg show ${IFN[a]} endpoints | awk '{print \$2}')\" = '$new:${PORT[b]}' ]"; then
	ms=$(( $(now_ms) - t0 ))
	pass "a re-resolved $NAME to $new:${PORT[b]}"
	log "endpoint re-resolved $ms ms after the move, $(( $(date +%s) - hs0 )) s after the last handshake"
else
	fail "a did not re-resolve $NAME within $DEADLINE s of its last handshake (endpoint $(peer_field a b 3))"
fi
check "ping a -> b at the new address" ping_ok a "${OV4[b]}"
check "ping b -> a" ping_ok b "${OV4[a]}"
# The old session still works at the new address; the handshake a started when b went silent
# completes with its next retransmission (REKEY_TIMEOUT + jitter).
wait_until 12 bash -c "[ \"\$(ip netns exec ${NS[a]} wg show ${IFN[a]} latest-handshakes | awk '{print \$2}')\" -gt $hs0 ]" || true
assert_ge "a completed a new handshake with b" $((hs0 + 1)) "$(peer_field a b 5)"
assert_eq "b's endpoint for a unchanged" "${UL[a]}:${PORT[a]}" "$(peer_field b a 3)"
drops=$(ip netns exec "${NS[b]}" nft list table inet reresolve | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
log "initiations from b dropped by the rule: ${drops:-?}"
check "a's daemon still the same process" pid_alive "${PID[a]}"

finish
