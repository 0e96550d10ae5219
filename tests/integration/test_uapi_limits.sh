#!/usr/bin/env bash
# The control socket cannot stall the packet path or lock the operator out: an 8 MiB set=1 is
# framed line by line as it arrives (it used to be rescanned whole on every read: 6-10 s of
# event-loop CPU); idle and slow clients are closed (idle timeout, total deadline) and never
# keep `wg show` out (64 idle clients used to lock it out for good); a request over the size cap
# is refused with an errno and changes nothing.  tunneld only (the limits are tunneld's).
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "checks tunneld's control-socket limits (IMPL=$IMPL)"
need_tunneld
node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start a
node_start b
ifb=${IFN[b]}
sock=/var/run/wireguard/$ifb.sock
check "tunnel up: ping a -> b" ping_ok a "${OV4[b]}"

# uapi_send FILE: sends FILE to b's socket, prints the first reply line.
uapi_send() {
	timeout -k 2 60 ip netns exec "${NS[b]}" nc -N -U "$sock" <"$1" 2>/dev/null | head -n 1 || true
}

# max_gap_ms FILE: the largest gap between consecutive replies in `ping -D` output.
max_gap_ms() {
	awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (n++ && t - p > m) m = t - p; p = t }
		END { printf "%d\n", (n > 1 ? m : 999999) }' "$1"
}

# 1. An 8 MiB set=1 (valid: one existing peer, then 440,000 no-op lines) while pings flow.
big=$T/big.req
{
	printf 'set=1\npublic_key=%s\nupdate_only=true\n' "$(printf '%s' "${PUB[a]}" | base64 -d | od -An -tx1 -v | tr -d ' \n')"
	yes protocol_version=1 | head -n 441500
	printf '\n'
} >"$big"
log "request: $(stat -c %s "$big") bytes"
ip netns exec "${NS[a]}" timeout -k 2 30 ping -n -D -i 0.05 -c 160 -W 1 "${OV4[b]}" >"$T/ping.out" 2>&1 &
PING_PID=$!; BG_PIDS+=("$PING_PID")
sleep 1
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
cpu0=$(cpu_ms "${PID[b]}")
t0=$(now_ms)
reply=$(uapi_send "$big")
set_ms=$(( $(now_ms) - t0 ))
set_cpu=$(( $(cpu_ms "${PID[b]}") - cpu0 ))
wait "$PING_PID" 2>/dev/null || true
assert_eq "8 MiB set=1 is accepted" "errno=0" "$reply"
assert_le "8 MiB set=1 answered within (ms)" 3000 "$set_ms"
assert_le "event-loop CPU b spent on the 8 MiB set=1 (ms)" 1000 "$set_cpu"
gap=$(max_gap_ms "$T/ping.out")
assert_le "largest gap between ping replies through b during the set (ms)" 1000 "$gap"
assert_eq "b still has peer a after the no-op set" "${PUB[a]}" "$(nsx b wg show "$ifb" peers)"

# crowd N CMD [SLOTS]: N clients in b's namespace running CMD (bash), in the background; waits
# until they hold SLOTS (32, all) client slots (the server's ends of the socket, as ss counts).
server_ends() { ip netns exec "${NS[b]}" ss -Hx src "$sock" | wc -l; }
crowd() {
	local i
	for i in $(seq "$1"); do
		ip netns exec "${NS[b]}" timeout -k 1 40 bash -c "$2" >/dev/null 2>&1 &
		BG_PIDS+=($!)
	done
	wait_until 10 bash -c "[ \$(ip netns exec ${NS[b]} ss -Hx src $sock | wc -l) -ge ${3:-32} ]" || true
}

# show_answers WHAT [SLOTS]: wg show on b lists peer a within 3 s while SLOTS (32) are taken.
show_answers() {
	local rc=0 out t0 ms
	# A slot freed at a client's deadline is taken again from the backlog a moment later: one
	# look can fall in that moment (CI saw 31 of 32), so look for up to 3 s.
	wait_until 3 bash -c "[ \$(ip netns exec ${NS[b]} ss -Hx src $sock | wc -l) -ge ${2:-32} ]" || true
	assert_ge "$1: client slots taken" "${2:-32}" "$(server_ends)"
	t0=$(now_ms)
	out=$(timeout -k 1 15 ip netns exec "${NS[b]}" wg show "$ifb" peers 2>&1) || rc=$?
	ms=$(( $(now_ms) - t0 ))
	assert_eq "$1: wg show lists peer a (exit $rc)" "${PUB[a]}" "$out"
	assert_le "$1: wg show answered within (ms)" 3000 "$ms"
}

# 2. 64 idle clients (connected, never a byte, never reading): wg show still answers, at once.
crowd 64 "sleep 30 | nc -U '$sock'"
show_answers "64 idle clients"

# 3. An idle client is closed after the idle timeout (2 s), not held forever.
t0=$(now_ms)
# (nc without -N sends nothing on stdin's end and exits when the server closes.)
ip netns exec "${NS[b]}" timeout -k 1 20 nc -U "$sock" </dev/null >/dev/null 2>&1 || true
idle_ms=$(( $(now_ms) - t0 ))
assert_le "an idle client is closed by the server within (ms)" 6000 "$idle_ms"
assert_ge "... after the idle timeout, not before (ms)" 1500 "$idle_ms"

# 4. A client that trickles a byte every 0.5 s (never idle) is closed at the total deadline
# (10 s), and wg show is answered meanwhile although every slot is taken by such clients.
trickle() { printf 'set=1\n'; for _ in $(seq 60); do printf 'x'; sleep 0.5; done; }
export -f trickle
# 64 for 32 slots: on a loaded machine the first clients can reach their 10 s deadline before
# the last ones are started (CI saw 31 of 32 taken with 40); the spare ones wait in the listen
# backlog and take each slot that frees, so every slot stays taken while wg show asks.
crowd 64 "trickle | nc -U '$sock'"
show_answers "64 trickling clients"
t0=$(now_ms)
ip netns exec "${NS[b]}" timeout -k 1 40 bash -c "trickle | nc -U '$sock'" >/dev/null 2>&1 || true
trickle_ms=$(( $(now_ms) - t0 ))
assert_le "a trickling client is closed at the deadline, within (ms)" 14000 "$trickle_ms"
assert_ge "... and not before its idle timeout could have (ms)" 5000 "$trickle_ms"

# 5. A request over the 16 MiB cap is refused with errno=-EMSGSIZE and changes nothing.
{
	printf 'set=1\nreplace_peers=true\n'
	yes protocol_version=1 | head -n 900000
	printf '\n'
} >"$T/huge.req"
reply=$(uapi_send "$T/huge.req")
assert_eq "a 17 MiB request answers errno=-90 (EMSGSIZE)" "errno=-90" "$reply"
assert_eq "b still has peer a after the refused request" "${PUB[a]}" "$(nsx b wg show "$ifb" peers)"
check "b still reaches a" ping_ok b "${OV4[a]}"

# 6. A large answer (3,000 peers, ~700 KiB, built apart from libevent so that its keys can be
# wiped) arrives whole, and the peers go again with one set.  1,000 peers in the sanitizer
# builds: under ASan, beside three busy loops, the 3,000-peer set took 10.7 s and met the
# client deadline (UAPI_DEADLINE, 10 s) unanswered (an open limit, docs/testing.md).
case ${BUILD##*/} in build) NPEERS=3000 ;; *) NPEERS=1000 ;; esac
{
	printf 'set=1\n'
	head -c $((NPEERS * 32)) /dev/urandom | od -An -tx1 -v | tr -d ' \n' | fold -w 64 |
		awk '{ printf "public_key=%s\nallowed_ip=100.65.%d.%d/32\n", $0, int(NR / 250), NR % 250 }'
	printf '\n'
} >"$T/many.req"
t0=$(now_ms)
reply=$(uapi_send "$T/many.req")
log "$NPEERS peers in one set: answered in $(( $(now_ms) - t0 )) ms"
assert_eq "$NPEERS peers added in one set" "errno=0" "$reply"
assert_eq "wg show dump lists them all (and a)" $((NPEERS + 2)) "$(nsx b wg show "$ifb" dump | wc -l)"
printf 'set=1\nreplace_peers=true\npublic_key=%s\nallowed_ip=%s/32\n\n' \
	"$(printf '%s' "${PUB[a]}" | base64 -d | od -An -tx1 -v | tr -d ' \n')" "${OV4[a]}" >"$T/one.req"
assert_eq "replace_peers back to a alone" "errno=0" "$(uapi_send "$T/one.req")"
assert_eq "b lists peer a alone again" "${PUB[a]}" "$(nsx b wg show "$ifb" peers)"

# 7. Out of file descriptors (b's limit lowered to what it holds + 4): accept() fails with
# EMFILE while the connection stays queued.  The daemon must neither spin on it (level-
# triggered: it used to take 100% CPU) nor lock wg out: its own oldest client gives way.
wait_until 30 bash -c "[ \$(ip netns exec ${NS[b]} ss -Hx src $sock | wc -l) -eq 0 ]" ||
	fail "earlier clients still connected: $(server_ends)"
nofile=$(prlimit --pid "${PID[b]}" --nofile -o SOFT,HARD --noheadings | awk '{ print $1 ":" $2 }')
nfd=$(ls "/proc/${PID[b]}/fd" | wc -l)
prlimit --pid "${PID[b]}" --nofile=$((nfd + 4)):"${nofile#*:}"
# Trickling clients: idle ones are closed after 2 s (UAPI_IDLE_TIMEOUT), and in CI the check
# below came later than that after the 1.5 s of measuring (0 slots taken).
crowd 12 "trickle | nc -U '$sock'" 4
cpu0=$(cpu_ms "${PID[b]}")
sleep 1.5
assert_le "CPU b spent in 1.5 s with accept() out of fds (ms)" 300 $(( $(cpu_ms "${PID[b]}") - cpu0 ))
show_answers "out of fds, 12 trickling clients" 4
prlimit --pid "${PID[b]}" --nofile="$nofile"
finish
