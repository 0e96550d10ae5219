#!/usr/bin/env bash
# The bastion out of file descriptors: it runs with a limit of 32 (ulimit -n), and 40 TCP
# connections arrive from the engineer namespace.  accept() then fails with
# EMFILE while the listener stays readable; the bastion must not spin on it (it used to: the
# poll loop called accept() again at once, at full CPU, and said nothing).  It says so in its
# log, stays within a CPU budget, and once the connections are gone alice logs in again.  The
# metrics listener (MetricsListen), in the same poll loop, likewise.
. "$(dirname "$0")/lib.sh"

need_bastion
# The bastion under a limit of 32 descriptors (it holds about 15 at rest; a jump takes two).
printf '#!/bin/sh\nulimit -n 32 || exit 1\nexec %q "$@"\n' "$BASTION_BIN" >"$T/bastion-32"
chmod 0755 "$T/bastion-32"
BASTION_BIN=$T/bastion-32
bastion_net_init
bastion_nodes_add web-1
eng_add alice web-1:22
bastion_up "MaxStartups = 100" "PerSourceMaxStartups = 100" "PerSourcePenalties = no" \
	"MetricsListen = 9587"

jump_ok() { [ "$(eng_ssh alice -J alice@bastion web-1 uname -n 2>/dev/null)" = web-1 ]; }
check "alice: ssh -J alice@bastion web-1 works" jump_ok

# cpu_ms PID: user + system CPU time of PID so far, in milliseconds.
cpu_ms() {
	local f
	read -r -a f <"/proc/$1/stat"
	echo $(( (f[13] + f[14]) * 1000 / $(getconf CLK_TCK) ))
}

log "bastion holds $(ls "/proc/$BASTION_PID/fd" | wc -l) descriptors of 32"
# 40 connections held open, from one process, until the checks below are done ($T/release)
# or for 20 s at most: long enough for a loaded machine (CI, the ASan build) to accept what it
# can and then run out.
timeout -k 1 30 ip netns exec "$ENG" python3 -c '
import os, socket, sys, time
held = []
for _ in range(40):
    try:
        held.append(socket.create_connection((sys.argv[1], 22), timeout=2))
    except OSError:
        pass
end = time.monotonic() + 20
while time.monotonic() < end and not os.path.exists(sys.argv[2]):
    time.sleep(0.1)
' "${PUB_ADDR[bastion]}" "$T/release" &
holder=$!
BG_PIDS+=($holder)
check "the bastion says why it cannot accept" wait_until 15 grep -q "SSH listener: cannot accept connections" "$T/bastion.log"
# Out of descriptors now: the metrics listener gets 10 connections from the bastion host.
timeout -k 1 10 ip netns exec "${NS[jump]}" python3 -c '
import socket, time
held = []
for _ in range(10):
    try:
        held.append(socket.create_connection(("127.0.0.1", 9587), timeout=2))
    except OSError:
        pass
time.sleep(4)
' &
BG_PIDS+=($!)
sleep 0.5
c0=$(cpu_ms "$BASTION_PID")
sleep 3
c1=$(cpu_ms "$BASTION_PID")
log "bastion CPU in 3 s with accept() out of descriptors: $((c1 - c0)) ms"
assert_le "the bastion does not spin out of descriptors (CPU ms in 3 s)" 600 $((c1 - c0))
check "... on the metrics listener too" wait_until 15 grep -q "metrics listener: cannot accept connections" "$T/bastion.log"
check "bastion still running" pid_alive "$BASTION_PID"
: >"$T/release"
wait "$holder" 2>/dev/null || true
check "alice logs in again once the connections are gone" wait_until 20 jump_ok
shed=$(ip netns exec "${NS[jump]}" curl -sf http://127.0.0.1:9587/metrics |
	sed -n 's/^bastion_connections_refused_total{[^}]*reason="out_of_descriptors"} \([0-9]*\)$/\1/p')
assert_ge "bastion_connections_refused_total{reason=\"out_of_descriptors\"}" 1 "${shed:-0}"
bastion_stop || true
finish
