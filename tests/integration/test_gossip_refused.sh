#!/usr/bin/env bash
# A gossip request whose connect() is refused (the peer's tunnel is up, its gossip port answers
# with a TCP reset: a peer restarting, or one whose gossip is filtered) must cost nothing that
# stays.  libevent 2.1 calls the request back after a refused connect and leaves the connection
# to its owner even when it is marked auto-free; tunneld leaked one connection (about 1.3 KB)
# per refused request, for as long as the peer refused.  The leak shows when a stops: under the
# sanitizer build (make test runs every integration test there) LeakSanitizer reports it and
# a's exit status is not 0.
. "$(dirname "$0")/lib.sh"

roster_two_up
# b resets every connection to its gossip port, ahead of its own overlay firewall.
nsx b nft -f - <<NFT
table inet wtrefuse {
	chain input {
		type filter hook input priority -10; policy accept;
		tcp dport 7946 reject with tcp reset
	}
}
NFT
refused() {
	nsx a timeout 3 bash -c "exec 3<>/dev/tcp/${OV4[b]}/7946" 2>&1 | grep -q 'Connection refused'
}
check "a's connects to b's gossip port are refused" refused
# Three anti-entropy rounds (every 5 s, b is a's only peer), each a refused connect.
sleep 16
check "a is still running after refused gossip connects" pid_alive "${PID[a]}"
check "a still answers wg show" nsx a wg show "${IFN[a]}"
# With the port open again, gossip works: a new roster handed to b reaches a.
nsx b nft delete table inet wtrefuse
keys_admin enroll c --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.3 \
	>>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand b
check "a gets serial $SERIAL by gossip" wait_until 15 all_at_serial "$SERIAL" a b
check "a exits with status 0 at SIGTERM (nothing leaked)" node_stop a
finish
