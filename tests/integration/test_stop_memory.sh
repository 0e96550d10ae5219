#!/usr/bin/env bash
# Stopping tunneld costs memory and time in proportion to what it used, not to what it reserved:
# the packet buffers (a 256 MiB staging pool among them) are mapped but mostly never touched, and
# wiping all of them at exit faulted every page in (266 MiB peak RSS, 1.7 s to stop). Packets are
# staged first (b is down, so a's pings wait for a handshake), so the wipe has plaintext to clear.
# Peak RSS comes from the kernel (wait4 rusage via GNU time), stop time from the wall clock and
# the CPU the daemon spent after SIGTERM.  tunneld only.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "measures tunneld's own shutdown (IMPL=$IMPL)"
need_tunneld
[ -x /usr/bin/time ] || { fail "GNU time (/usr/bin/time, package time) not installed"; exit 1; }
node_add a 1
node_add b 2
node_peer a b
conf_write a
ifa=${IFN[a]}

# GNU time reports the child's peak RSS (ru_maxrss, KiB) and CPU seconds when it exits.
ip netns exec "${NS[a]}" /usr/bin/time -f '%M %U %S' -o "$T/a.time" \
	"$TUNNELD" -c "$(conf_file a)" -i "$ifa" >>"$T/a.log" 2>&1 &
TIME_PID=$!; BG_PIDS+=("$TIME_PID")
td_pid() { pgrep -P "$TIME_PID" -x tunneld; }
wait_until 10 td_pid || { fail "tunneld did not start"; finish; }
PID[a]=$(td_pid)
wait_until 10 node_ready a || { fail "a not ready"; finish; }

# b never answers: every ping is staged (up to the per-peer cap) until the handshake times out.
ip netns exec "${NS[a]}" timeout 10 ping -n -q -c 200 -i 0.01 -s 1200 "${OV4[b]}" >/dev/null 2>&1 || true
hwm_running=$(awk '/^VmHWM:/ { print $2 }' "/proc/${PID[a]}/status")
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
ticks_before=$(cpu_ticks "${PID[a]}")
hz=$(getconf CLK_TCK)
log "a running: VmHWM ${hwm_running} KiB, ${ticks_before} CPU ticks"

t0=$(now_ms)
kill -TERM "${PID[a]}"
wait_until 20 bash -c "! kill -0 ${PID[a]} 2>/dev/null" || fail "tunneld did not exit within 20 s"
stop_ms=$(( $(now_ms) - t0 ))
wait "$TIME_PID" 2>/dev/null || true
PID[a]=
read -r peak_kib user_s sys_s <"$T/a.time" || true
stop_cpu_ms=$(awk -v u="$user_s" -v s="$sys_s" -v t="$ticks_before" -v hz="$hz" \
	'BEGIN { printf "%d", (u + s - t / hz) * 1000 }')
log "stopped in ${stop_ms} ms wall, ${stop_cpu_ms} ms CPU; peak RSS ${peak_kib} KiB"

assert_match "GNU time reported the peak RSS" '^[0-9]+$' "${peak_kib:-}"
# The wipe may touch what the daemon used, nothing more: a few MiB of slack for exit paths.
assert_le "peak RSS at exit (KiB) stays within 16 MiB of the running peak (${hwm_running} KiB)" \
	$((hwm_running + 16384)) "${peak_kib:-999999999}"
assert_le "peak RSS (KiB) well below the 256 MiB staging reservation" 65536 "${peak_kib:-999999999}"
assert_le "CPU spent stopping (ms)" 100 "$stop_cpu_ms"
assert_le "wall time to stop (ms, generous for a busy machine)" 3000 "$stop_ms"
check "interface removed at exit" bash -c "! ip -n ${NS[a]} link show $ifa 2>/dev/null"
finish
