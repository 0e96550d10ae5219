#!/usr/bin/env bash
# Interoperability: a (tunneld) <-> b (wireguard-go, the reference implementation).
# Round 1: a initiates (first packet comes from a's side).  Round 2: both restarted, b initiates.
# Each round: 20 MiB checksummed TCP each way.  Who initiated is read from wireguard-go's own
# verbose log ("Received handshake initiation" vs "Sending handshake initiation").
# run-all: plain (make test runs it against the plain build too: a core path as shipped)
. "$(dirname "$0")/lib.sh"

node_add a 1 "$IMPL"
node_add b 2 wireguard-go
node_peer a b
node_peer b a

round() {
	local who=$1 other=$2 name=$3
	node_start a
	node_start b
	check "$name: ping ${NODE_IMPL[$who]} $who -> ${NODE_IMPL[$other]} $other" ping_ok "$who" "${OV4[$other]}"
	local wlog
	wlog=$(cat "$T/b.log")
	if [ "$who" = a ]; then
		assert_match "$name: wireguard-go received the handshake initiation from a" \
			'Received handshake initiation' "$wlog"
		assert_match "$name: wireguard-go answered it" 'Sending handshake response' "$wlog"
		assert_nomatch "$name: wireguard-go did not initiate" 'Sending handshake initiation' "$wlog"
	else
		assert_match "$name: wireguard-go sent the handshake initiation" \
			'Sending handshake initiation' "$wlog"
		assert_match "$name: wireguard-go accepted a's response" 'Received handshake response' "$wlog"
		assert_nomatch "$name: a did not initiate" 'Received handshake initiation' "$wlog"
	fi
	xfer a b "${OV4[b]}" 20
	xfer b a "${OV4[a]}" 20
	check "$name: v6 ping across" ping_ok "$other" "${OV6[$who]}"
}

round a b "round 1 (a initiates)"

rc=0; node_stop a || rc=$?
[ "${NODE_IMPL[a]}" != tunneld ] || assert_eq "tunneld exit status on SIGTERM" 0 "$rc"
node_stop b || true
mv "$T/b.log" "$T/b.round1.txt"
mv "$T/a.log" "$T/a.round1.txt"

round b a "round 2 (both restarted, b initiates)"

finish
