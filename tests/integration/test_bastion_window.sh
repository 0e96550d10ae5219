#!/usr/bin/env bash
# Channel windows are enforced.  A hostile client (python3-asyncssh told that it has a 2 GiB
# window) pushes 64 MiB into a jump whose node never reads, and 64 MiB into a bare "session"
# channel: the bastion closes the connection, audits session_deny "channel window exceeded",
# and its RSS grows by less than 8 MiB (it grew by the whole 64 MiB before: libssh 0.10 keeps
# what arrives past the window).  An honest OpenSSH client doing the same to the non-reading
# node is held by the window: the bastion keeps at most the bound of docs/bastion.md.
. "$(dirname "$0")/lib.sh"

need_bastion
PY=/usr/bin/python3
$PY -c 'import asyncssh' 2>/dev/null || { fail "python3-asyncssh not installed (make deps)"; exit 1; }
bastion_net_init
bastion_nodes_add web-1
# Under ASan, freed memory waits in a quarantine (256 MiB) before reuse: RSS would measure that.
ASAN_OPTIONS="${ASAN_OPTIONS:-}:quarantine_size_mb=0:thread_local_quarantine_size_kb=0"
eng_add alice web-1:22 web-1:9000 web-1:9001
bastion_up

# A node service that accepts and never reads (small receive buffer), bounded by time_left.
timeout -k 1 "$(time_left)" ip netns exec "${NS[web-1]}" $PY -c '
import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9000)); s.listen(16); held = []
while True:
    c, _ = s.accept(); held.append(c)
' "${OV4[web-1]}" &
BG_PIDS+=($!)
# And one that reads slowly (64 KiB every 20 ms) and writes how many bytes it got to a file.
timeout -k 1 "$(time_left)" ip netns exec "${NS[web-1]}" $PY -c '
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 9001)); s.listen(16)
while True:
    c, _ = s.accept(); n = 0
    while True:
        time.sleep(0.02); d = c.recv(65536)
        if not d: break
        n += len(d)
    c.close(); open(sys.argv[2], "w").write("%d\n" % n)
' "${OV4[web-1]}" "$T/slow.count" &
BG_PIDS+=($!)
wait_until 10 listening web-1 9000 || fail "web-1: the non-reading service is not listening"
wait_until 10 listening web-1 9001 || fail "web-1: the slow service is not listening"

# The peak (VmHWM): what the bastion held at worst, even if freed since; peak_reset starts a
# new peak from the current RSS (clear_refs 5).
peak_reset() { echo 5 >"/proc/$BASTION_PID/clear_refs"; }
rss_kib() { awk '/^VmHWM:/ { print $2 }' "/proc/$BASTION_PID/status"; }
flood() {
	timeout -k 2 90 ip netns exec "$ENG" $PY "$(dirname "$0")/ssh_window_flood.py" \
		"${PUB_ADDR[bastion]}" 22 alice "$T/ssh/alice" "$T/ssh/known_hosts" "$@" 2>&1 | tail -n 1
}
# The host key, for asyncssh's known_hosts (OpenSSH writes it on first use).
eng_ssh alice -J alice@bastion web-1 true >/dev/null 2>&1 || true

for mode in jump session; do
	peak_reset; base=$(rss_kib)
	before=$(audit_count session_deny engineer=alice reason="channel window exceeded")
	if [ $mode = jump ]; then out=$(flood jump 64 web-1 9000); else out=$(flood session 64); fi
	log "$mode: $out"
	assert_match "$mode: the bastion closed the connection of the window-ignoring client" \
		'^sent [0-9]+ closed 1$' "$out"
	rss=$(rss_kib)
	log "$mode: bastion peak RSS $base -> $rss KiB"
	assert_le "$mode: bastion peak RSS grew by less than 8 MiB (KiB)" 8192 $((rss - base))
	assert_eq "$mode: audit: session_deny channel window exceeded" 1 \
		$(( $(audit_count session_deny engineer=alice reason="channel window exceeded") - before ))
done

# An honest client: OpenSSH pushes 16 MiB at the node that never reads; the window holds it.
# Bound per jump (docs/bastion.md): 32 KiB + 1,920,000 bytes in libssh; allow 4 MiB of noise.
peak_reset; base=$(rss_kib)
timeout -k 1 15 bash -c "head -c 16M /dev/zero | ip netns exec $ENG ssh -F $T/ssh/alice.config \
	-i $T/ssh/alice -W web-1:9000 bastion >/dev/null 2>&1" || true
rss=$(rss_kib)
log "honest client against a non-reading node: bastion peak RSS $rss KiB"
assert_le "honest client: bastion peak RSS within one jump's bound (+4 MiB) (KiB)" \
	$(( (32768 + 1920000) / 1024 + 4096 )) $((rss - base))
# An honest client and a node that reads slowly: every byte arrives (libssh is drained without
# re-opening the window while it holds much), and the bastion stays within two of those bounds
# (libssh's and ours, see relay.c).
peak_reset; base=$(rss_kib)
timeout -k 1 60 bash -c "head -c 16M /dev/zero | ip netns exec $ENG ssh -F $T/ssh/alice.config \
	-i $T/ssh/alice -W web-1:9001 bastion >/dev/null 2>&1" || true
wait_until 20 test -s "$T/slow.count" || true
assert_eq "slow node: every byte arrived" 16777216 "$(cat "$T/slow.count" 2>/dev/null)"
rss=$(rss_kib)
log "honest client against a slow node: bastion peak RSS $base -> $rss KiB"
assert_le "slow node: bastion RSS within two jump bounds (+4 MiB) (KiB)" \
	$(( (32768 + 2 * 1920000) / 1024 + 4096 )) $((rss - base))
check "bastion still running" pid_alive "$BASTION_PID"
check "bastion stops cleanly on SIGTERM" bastion_stop
[ -z "${WINDOW_DEBUG:-}" ] || cp "$T/bastion.log" "$WINDOW_DEBUG"
finish
