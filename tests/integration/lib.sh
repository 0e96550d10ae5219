# shellcheck shell=bash
# Shared helpers for the network-namespace integration tests, the demo and the benchmark.
# Sourced, never run.  Each sourcing script gets its own run id (RUN=wt$$), so namespaces,
# interfaces and UAPI sockets (/var/run/wireguard is shared by all namespaces) never collide.
#
# Topology: every node is a namespace ("datacenter") with one veth "ul0" into a switch
# namespace holding a bridge; nothing is ever linked to the root namespace.
#   underlay  192.0.2.N/24      (node a = 1, b = 2, ...)
#   overlay   100.64.0.N/32 and fd00:64::N/128 on the tunnel interface
#
# IMPL=tunneld (default) or IMPL=wireguard-go picks the daemon for nodes that do not name one,
# so the same test runs against the reference implementation on both sides.

set -eEu

. "$(dirname "${BASH_SOURCE[0]}")/lib_builtins.sh"
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
IMPL=${IMPL:-tunneld}
TUNNELD=${TUNNELD:-$BUILD/tunneld}
WGGO=${WGGO:-wireguard-go}
# WARREN_TEST_OFFLOAD=off: every tunneld started here runs without TUN offloads (Offload = off
# in the files conf_write and rnode_conf write, --no-offload through TUNNELD_UAPI), so the suite
# covers the plain per-packet path too; unset or "on": the default (offloads where the kernel
# has them).  A node whose IFACE_EXTRA names Offload keeps its own choice.
WARREN_TEST_OFFLOAD=${WARREN_TEST_OFFLOAD:-on}
case $WARREN_TEST_OFFLOAD in on | off) ;; *) echo "WARREN_TEST_OFFLOAD=$WARREN_TEST_OFFLOAD: on or off" >&2; exit 2 ;; esac
RUN_OWN=
[ -n "${RUN:-}" ] || RUN_OWN=1
RUN=${RUN:-wt$$}
TEST_NAME=$(basename "$0" .sh)
PORT_BASE=${PORT_BASE:-51820}

T=$(mktemp -d "/tmp/$TEST_NAME.XXXXXX")
chmod 0700 "$T"

# The command for tunneld in UAPI mode (IFACE argument, or wg-quick's
# WG_QUICK_USERSPACE_IMPLEMENTATION, which takes no options): a wrapper named tunneld that adds
# --no-offload when WARREN_TEST_OFFLOAD=off.
TUNNELD_UAPI=$TUNNELD
if [ "$WARREN_TEST_OFFLOAD" = off ]; then
	mkdir -p "$T/no-offload"
	printf '#!/bin/sh\nexec %q --no-offload "$@"\n' "$TUNNELD" >"$T/no-offload/tunneld"
	chmod 0755 "$T/no-offload/tunneld"
	TUNNELD_UAPI=$T/no-offload/tunneld
fi

# Sanitizer reports (sanitizer builds, BUILD=build-san or build-tsan) fail the test: run-all.sh
# gives each test its report directory; a test run on its own makes one here.
. "$ROOT/tests/integration/lib_sanitizer.sh"
SAN_OWN=
if [ -z "${SAN_DIR:-}" ]; then
	san_env_setup "$T.san"
	SAN_OWN=1
fi

N_PASS=0
N_FAIL=0
NAMESPACES=()
declare -A NS IFN PRIV PUB UL PORT OV4 OV6 NUM NODE_IMPL PID PEERS PEER_OPT IFACE_EXTRA
BG_PIDS=()

# ---------------------------------------------------------------- reporting

log() { printf '  .. %s\n' "$*"; }

pass() { N_PASS=$((N_PASS + 1)); printf 'PASS %s: %s\n' "$TEST_NAME" "$*"; }

fail() { N_FAIL=$((N_FAIL + 1)); printf 'FAIL %s: %s\n' "$TEST_NAME" "$*"; }

# check DESCRIPTION CMD...: PASS if CMD succeeds.
check() {
	local what=$1; shift
	if "$@"; then pass "$what"; else fail "$what (command failed: $*)"; fi
}

# check_bg DESCRIPTION CMD...: CMD in the background, for checks that wait out a timeout (a
# connection that must not get through) and do not depend on each other; checks_wait waits for
# all of them and reports each as check would, in the order they were started.
CHECKS_BG=()
check_bg() {
	local what=$1; shift
	( trap - ERR; set +eE; "$@" ) >/dev/null 2>&1 &
	CHECKS_BG+=("$!:$what")
	BG_PIDS+=($!)
}
checks_wait() {
	local e
	for e in ${CHECKS_BG[@]+"${CHECKS_BG[@]}"}; do
		if wait "${e%%:*}"; then pass "${e#*:}"; else fail "${e#*:} (command failed)"; fi
	done
	CHECKS_BG=()
}

# assert_eq WHAT EXPECTED SEEN
assert_eq() {
	if [ "$2" = "$3" ]; then pass "$1 (= $3)"
	else fail "$1: expected '$2', seen '$3'"; fi
}

# assert_ge WHAT MIN SEEN (integers)
assert_ge() {
	if [ "$3" -ge "$2" ] 2>/dev/null; then pass "$1 ($3 >= $2)"
	else fail "$1: expected >= $2, seen '$3'"; fi
}

# assert_le WHAT MAX SEEN (integers)
assert_le() {
	if [ "$3" -le "$2" ] 2>/dev/null; then pass "$1 ($3 <= $2)"
	else fail "$1: expected <= $2, seen '$3'"; fi
}

# assert_match WHAT REGEX TEXT
assert_match() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then pass "$1"
	else fail "$1: expected to match /$2/, seen: $(printf '%s' "$3" | head -c 400)"; fi
}

# assert_nomatch WHAT REGEX TEXT
assert_nomatch() {
	if printf '%s' "$3" | grep -Eq -- "$2"; then
		fail "$1: expected no match for /$2/, seen: $(printf '%s' "$3" | grep -E -- "$2" | head -n 2)"
	else pass "$1"; fi
}

# Ends the test: exit status 1 if anything failed (or nothing was checked).
finish() {
	printf '%s: %d checks passed, %d failed\n' "$TEST_NAME" "$N_PASS" "$N_FAIL"
	if [ "$N_FAIL" -eq 0 ] && [ "$N_PASS" -gt 0 ]; then exit 0; fi
	exit 1
}

# A test that cannot run in this mode (e.g. tunneld-only checks under IMPL=wireguard-go).
skip() { printf 'SKIP %s: %s\n' "$TEST_NAME" "$*"; exit 77; }

need_tunneld() {
	if [ ! -x "$TUNNELD" ]; then
		fail "tunneld binary $TUNNELD not built"
		exit 1
	fi
}

# ---------------------------------------------------------------- cleanup

on_err() {
	fail "setup step failed at line $1: $2"
}

dump_logs() {
	local f
	for f in "$T"/*.log; do
		[ -s "$f" ] || continue
		printf -- '---- last lines of %s\n' "$(basename "$f")"
		tail -n 15 "$f" | sed 's/^/     /'
	done
}

# Kills what we started (by PID), then anything still inside our namespaces (by PID, via
# `ip netns pids`), then deletes the namespaces, which removes their veths and TUNs.
cleanup() {
	local rc=$? p n san
	set +eE
	trap - ERR
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || [ "$N_FAIL" -ne 0 ]; then dump_logs; fi
	for p in "${BG_PIDS[@]}" "${PID[@]}"; do
		[ -n "$p" ] && kill "$p" 2>/dev/null
	done
	for n in "${NAMESPACES[@]}"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill "$p" 2>/dev/null; done
	done
	sleep 0.2
	# A sanitizer build leak-checks at exit: give the daemons time to finish before SIGKILL.
	pids_wait_exit 10 "${PID[@]}" "$BASTION_PID"
	for n in "${NAMESPACES[@]}"; do
		for p in $(ip netns pids "$n" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$n" 2>/dev/null
	done
	for n in "${IFN[@]}"; do rm -f "/var/run/wireguard/$n.sock"; done
	san=0
	san_logs_scan "$T" || san=1
	if [ -n "$SAN_OWN" ]; then
		san_reports "$SAN_DIR" || san=1
		rm -rf "$SAN_DIR"
	fi
	if [ "$san" -ne 0 ]; then
		fail "sanitizer report (above)"
		[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || rc=1
	fi
	rm -rf "$T"
	exit "$rc"
}

# pids_wait_exit SECONDS PID...: waits until every PID has exited (a zombie counts as exited).
pids_wait_exit() {
	local deadline=$((SECONDS + $1)) p st; shift
	for p in "$@"; do
		[ -n "$p" ] || continue
		while [ "$SECONDS" -lt "$deadline" ]; do
			st=
			read -r st 2>/dev/null <"/proc/$p/stat" || st=
			st=${st##*) }
			[ -n "$st" ] && [ "${st:0:1}" != Z ] || break
			sleep 0.1
		done
	done
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

# Namespaces named after our PID can only be left over by a dead process that had the same PID
# and was killed before its cleanup: ns_add would collide with them.  Remove them (only ours:
# the name is wt<PID> and a letter, so wt123 never touches wt1234's).
if [ -n "$RUN_OWN" ]; then
	for _ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^${RUN}[^0-9]" || true); do
		for _p in $(ip netns pids "$_ns" 2>/dev/null); do kill -9 "$_p" 2>/dev/null || true; done
		ip netns del "$_ns" 2>/dev/null || true
	done
	unset _ns _p
fi
trap 'on_err $LINENO "$BASH_COMMAND"' ERR

# ---------------------------------------------------------------- waiting

# wait_until SECONDS CMD...: polls CMD until it succeeds; returns 1 if the deadline passes.  The
# pause between polls starts at 50 ms and doubles up to WAIT_POLL_MAX_MS (400): a poll costs 5 ms
# (grep) to 30 ms (ip netns exec ss) of CPU on these machines, so at a fixed 0.1 s a long wait
# took up to a third of a core from the tests sharing the CPU with it.
WAIT_POLL_MAX_MS=${WAIT_POLL_MAX_MS:-400}
[ "$WAIT_POLL_MAX_MS" -ge 50 ] && [ "$WAIT_POLL_MAX_MS" -le 999 ] ||
	{ echo "WAIT_POLL_MAX_MS=$WAIT_POLL_MAX_MS: 50 to 999" >&2; exit 2; }
wait_until() {
	local deadline=$((SECONDS + $1)) i=0 pause=50 secs; shift
	while [ "$SECONDS" -lt "$deadline" ] && [ "$i" -lt 100000 ]; do
		if "$@" >/dev/null 2>&1; then return 0; fi
		printf -v secs '0.%03d' "$pause"
		sleep "$secs"
		pause=$((pause * 2 < WAIT_POLL_MAX_MS ? pause * 2 : WAIT_POLL_MAX_MS))
		i=$((i + 1))
	done
	"$@" >/dev/null 2>&1
}

# Wall clock in milliseconds.
now_ms() { date +%s%3N; }

# When the test's watchdog stops it, in seconds since the epoch: run-all.sh says; a test run by
# hand takes its "# run-all: timeout" line or run-all's default (240 s) from its start.
if [ -z "${TEST_DEADLINE:-}" ]; then
	TEST_DEADLINE=$(sed -n 's/^# run-all: timeout \([0-9][0-9]*\).*/\1/p' "$0" | head -n 1)
	TEST_DEADLINE=$(( $(date +%s) + ${TEST_DEADLINE:-${TEST_TIMEOUT:-240}} ))
fi
# time_left: seconds until the watchdog (at least 5).  The bound for a helper that must live as
# long as the test (a container, a listener): cleanup stops it when the test ends; the bound only
# matters if the cleanup itself is killed.  A guessed bound shorter than the test's own once
# powered test_ansible's nodes off halfway through a slow run.
time_left() {
	local now
	printf -v now '%(%s)T' -1
	now=$((TEST_DEADLINE - now))
	[ "$now" -ge 5 ] || now=5
	echo "$now"
}

# ---------------------------------------------------------------- namespaces and links

ns_add() {
	ip netns add "$1"
	NAMESPACES+=("$1")
	ip -n "$1" link set lo up
}

# nsx NODE CMD...: runs CMD inside NODE's namespace with a hard timeout.
nsx() {
	local n=$1; shift
	timeout -k 5 60 ip netns exec "${NS[$n]}" "$@"
}

switch_add() {
	SW=${RUN}sw
	ns_add "$SW"
	ip -n "$SW" link add br0 type bridge
	ip -n "$SW" link set br0 up
}

# node_add NODE NUM [IMPL]: a datacenter namespace on the switch, keys, addresses.
# With TOPOLOGY=pair (the benchmark) there is no switch: every second node is joined to the one
# added before it by a direct veth.
node_add() {
	local n=$1 num=$2
	[ "${TOPOLOGY:-switch}" = pair ] || [ -n "${SW:-}" ] || switch_add
	NS[$n]=$RUN$n
	IFN[$n]=$RUN$n
	NUM[$n]=$num
	NODE_IMPL[$n]=${3:-$IMPL}
	UL[$n]=192.0.2.$num
	PORT[$n]=$((PORT_BASE + num))
	OV4[$n]=100.64.0.$num
	OV6[$n]=fd00:64::$num
	PEERS[$n]=
	PID[$n]=
	ns_add "${NS[$n]}"
	if [ "${TOPOLOGY:-switch}" = pair ]; then
		if [ -z "${PAIR_PENDING:-}" ]; then PAIR_PENDING=$n; key_gen "$n"; return 0; fi
		local m=$PAIR_PENDING
		PAIR_PENDING=
		ip -n "${NS[$n]}" link add ul0 type veth peer name ul0 netns "${NS[$m]}"
		ip -n "${NS[$m]}" addr add "${UL[$m]}/24" dev ul0
		ip -n "${NS[$m]}" link set ul0 up
	else
		ip -n "${NS[$n]}" link add ul0 type veth peer name "p$n" netns "$SW"
		ip -n "$SW" link set dev "p$n" master br0 up
	fi
	ip -n "${NS[$n]}" addr add "${UL[$n]}/24" dev ul0
	ip -n "${NS[$n]}" link set ul0 up
	key_gen "$n"
}

# Keys come from wg(8) unless KEYS=path/to/keys (which must behave like wg genkey/pubkey).
key_gen() {
	local tool=${KEYS:-wg}
	PRIV[$1]=$(timeout 10 "$tool" genkey)
	PUB[$1]=$(printf '%s\n' "${PRIV[$1]}" | timeout 10 "$tool" pubkey)
}

# node_peer NODE PEER [OPTS]: NODE's config lists PEER.  OPTS, space-separated:
#   noendpoint   no Endpoint line (NODE learns it from PEER's packets)
#   endpoint=H   Endpoint = H:PEER's port instead of PEER's first underlay address
#                (H may be [v6]), e.g. a second address of a multi-homed PEER
#   keepalive=N  PersistentKeepalive
#   psk=KEY      PresharedKey
#   allowed=P,Q  more AllowedIPs (comma-separated, no spaces)
node_peer() {
	PEERS[$1]="${PEERS[$1]} $2"
	PEER_OPT[$1:$2]=${3:-}
}

# Writes NODE's wg-quick style file (what tunneld -c reads) to $T/IFACE.conf.  IFACE_EXTRA[NODE]:
# more [Interface] lines (newline-terminated).
conf_write() {
	local n=$1 p o f=$T/${IFN[$1]}.conf
	{
		printf '[Interface]\nPrivateKey = %s\nListenPort = %s\n' "${PRIV[$n]}" "${PORT[$n]}"
		printf 'Address = %s/32, %s/128\nMTU = 1420\n' "${OV4[$n]}" "${OV6[$n]}"
		printf '%s' "${IFACE_EXTRA[$n]:-}"
		offload_line "$n"
		for p in ${PEERS[$n]}; do
			o=" ${PEER_OPT[$n:$p]} "
			printf '\n[Peer]\nPublicKey = %s\n' "${PUB[$p]}"
			printf 'AllowedIPs = %s/32, %s/128\n' "${OV4[$p]}" "${OV6[$p]}"
			case $o in *" allowed="*) o2=${o#* allowed=}; printf 'AllowedIPs = %s\n' "${o2%% *}" ;; esac
			case $o in
			*" noendpoint "*) ;;
			*" endpoint="*) o2=${o#* endpoint=}; printf 'Endpoint = %s:%s\n' "${o2%% *}" "${PORT[$p]}" ;;
			*) printf 'Endpoint = %s:%s\n' "${UL[$p]}" "${PORT[$p]}" ;;
			esac
			case $o in *" keepalive="*) o2=${o#* keepalive=}; printf 'PersistentKeepalive = %s\n' "${o2%% *}" ;; esac
			case $o in *" psk="*) o2=${o#* psk=}; printf 'PresharedKey = %s\n' "${o2%% *}" ;; esac
		done
	} >"$f"
	chmod 0600 "$f"
}

# offload_line NODE: "Offload = off" for conf_write under WARREN_TEST_OFFLOAD=off, for a
# tunneld node whose extra [Interface] lines do not choose for themselves.
offload_line() {
	[ "$WARREN_TEST_OFFLOAD" = off ] && [ "${NODE_IMPL[$1]}" = tunneld ] || return 0
	case ${IFACE_EXTRA[$1]:-} in *Offload*) return 0 ;; esac
	printf 'Offload = off\n'
}

# The same file without the wg-quick-only keys, for `wg setconf`.
conf_strip() {
	grep -Ev '^[[:space:]]*(Address|MTU|DNS|Table|SaveConfig|Pre|Post|Offload)' "$1"
}

conf_file() { printf '%s' "$T/${IFN[$1]}.conf"; }

# ---------------------------------------------------------------- daemons

sock_ready() { [ -S "/var/run/wireguard/$1.sock" ] && timeout 5 wg show "$1" >/dev/null 2>&1; }

link_up() { ip -n "$1" link show "$2" 2>/dev/null | grep -q ',UP'; }

pid_alive() { kill -0 "$1" 2>/dev/null; }

# exit_ms PID SECONDS: waits (polling every 50 ms) until PID is gone; prints the milliseconds
# that took, or "timeout" after SECONDS.  For "closed within N ms of the moment" checks.
exit_ms() {
	local t0 i
	t0=$(now_ms)
	for ((i = 0; i < $2 * 20; i++)); do
		if ! pid_alive "$1"; then echo $(( $(now_ms) - t0 )); return 0; fi
		sleep 0.05
	done
	echo timeout
}

# node_start NODE: writes the config and starts NODE's daemon in its namespace; waits (10 s)
# until the interface is up and the UAPI socket answers.  `ip netns exec` execs, so $! is the
# daemon itself.
node_start() {
	local n=$1 ns=${NS[$1]} ifn=${IFN[$1]} log=$T/$1.log
	conf_write "$n"
	case ${NODE_IMPL[$n]} in
	tunneld)
		need_tunneld
		ip netns exec "$ns" "$TUNNELD" -c "$(conf_file "$n")" -i "$ifn" -v >>"$log" 2>&1 &
		PID[$n]=$!
		;;
	wireguard-go)
		LOG_LEVEL=verbose ip netns exec "$ns" "$WGGO" -f "$ifn" >>"$log" 2>&1 &
		PID[$n]=$!
		wait_until 10 sock_ready "$ifn" || { fail "$n: $WGGO did not create $ifn"; return 1; }
		conf_strip "$(conf_file "$n")" >"$T/$ifn.wg"
		nsx "$n" wg setconf "$ifn" "$T/$ifn.wg"
		ip -n "$ns" addr add "${OV4[$n]}/32" dev "$ifn"
		ip -n "$ns" addr add "${OV6[$n]}/128" dev "$ifn" nodad
		ip -n "$ns" link set "$ifn" mtu 1420 up
		wggo_routes "$n"
		;;
	*) fail "unknown implementation ${NODE_IMPL[$n]}"; return 1 ;;
	esac
	wait_until 10 node_ready_or_dead "$n" || true
	if ! pid_alive "${PID[$n]}"; then
		fail "$n (${NODE_IMPL[$n]}) exited at start: $(tail -n 3 "$log" | tr '\n' ' ')"
		return 1
	fi
	if ! node_ready "$n"; then
		fail "$n (${NODE_IMPL[$n]}) not ready within 10 s: interface $ifn up + UAPI socket"
		return 1
	fi
}

node_ready_or_dead() { node_ready "$1" || ! pid_alive "${PID[$1]}"; }

node_ready() {
	pid_alive "${PID[$1]}" && link_up "${NS[$1]}" "${IFN[$1]}" && sock_ready "${IFN[$1]}"
}

# wireguard-go does not route: add what tunneld -c does itself, a route per peer AllowedIP.
wggo_routes() {
	local n=$1 p
	for p in ${PEERS[$n]}; do
		ip -n "${NS[$n]}" route replace "${OV4[$p]}/32" dev "${IFN[$n]}"
		ip -n "${NS[$n]}" -6 route replace "${OV6[$p]}/128" dev "${IFN[$n]}"
	done
}

# node_reload NODE: re-reads NODE's config (after node_peer changes): SIGHUP for tunneld,
# `wg syncconf` + routes for wireguard-go (both apply only the differences).
node_reload() {
	local n=$1 ifn=${IFN[$1]}
	conf_write "$n"
	case ${NODE_IMPL[$n]} in
	tunneld) kill -HUP "${PID[$n]}" ;;
	wireguard-go)
		conf_strip "$(conf_file "$n")" >"$T/$ifn.wg"
		nsx "$n" wg syncconf "$ifn" "$T/$ifn.wg"
		wggo_routes "$n"
		;;
	esac
}

# node_stop NODE: SIGTERM, waits up to 10 s for exit; prints nothing, returns the exit status.
node_stop() {
	local n=$1 p=${PID[$1]} rc=0
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || true
	wait_until 10 bash -c "! kill -0 $p" || { kill -9 "$p" 2>/dev/null || true; }
	wait "$p" 2>/dev/null || rc=$?
	PID[$n]=
	# tunneld must remove its interface itself (test_cli checks); be sure for wireguard-go.
	[ "${NODE_IMPL[$n]}" = tunneld ] || ip -n "${NS[$n]}" link del "${IFN[$n]}" 2>/dev/null || true
	return "$rc"
}

node_kill9() {
	local n=$1 p=${PID[$1]}
	kill -9 "$p" 2>/dev/null || true
	wait "$p" 2>/dev/null || true
	PID[$n]=
	ip -n "${NS[$n]}" link del "${IFN[$n]}" 2>/dev/null || true
}

# ---------------------------------------------------------------- probes

# ping_ok NODE ADDR [SRC]: 3 replies within 10 s (the first packet may wait for the handshake).
ping_ok() {
	local src=()
	[ -n "${3:-}" ] && src=(-I "$3")
	timeout -k 2 15 ip netns exec "${NS[$1]}" ping -n -q -c 3 -i 0.2 -w 10 "${src[@]}" "$2" >/dev/null 2>&1
}

# ping_replies NODE ADDR COUNT [SRC]: prints how many of COUNT pings (1 s wait each) came back.
ping_replies() {
	local src=() out
	[ -n "${4:-}" ] && src=(-I "$4")
	out=$(timeout -k 2 30 ip netns exec "${NS[$1]}" ping -n -q -c "$3" -i 0.2 -W 1 "${src[@]}" "$2" 2>&1 || true)
	printf '%s\n' "$out" | sed -n 's/.* \([0-9][0-9]*\) received.*/\1/p' | head -n 1 | grep . || echo 0
}

# peer_field NODE PEER FIELD: a field of NODE's `wg show dump` line for PEER:
#   3 endpoint, 4 allowed-ips, 5 latest-handshake, 6 transfer-rx, 7 transfer-tx.
peer_field() {
	nsx "$1" wg show "${IFN[$1]}" dump 2>/dev/null |
		awk -F'\t' -v k="${PUB[$2]}" -v f="$3" 'NR > 1 && $1 == k { print $f }'
}

handshake_done() { [ "$(peer_field "$1" "$2" 5)" -gt 0 ] 2>/dev/null; }

# TUN counter as the kernel sees it: rx_packets = packets the daemon delivered to the host.
if_stat() {
	nsx "$1" cat "/sys/class/net/${IFN[$1]}/statistics/$2"
}

# ---------------------------------------------------------------- transfers

# xfer_start FROM TO ADDR MBYTES [PACE_S]: a TCP stream of MBYTES MiB of random data from FROM to
# TO's ADDR, checksummed at both ends, in the background.  With PACE_S the sender writes 1 MiB
# every PACE_S seconds, so the stream is guaranteed to be in flight for a known time, or until
# xfer_release: a test that has checked what the stream had to outlast ends it there.
# Uses OpenBSD nc (-N: shutdown after EOF so the receiver sees the end).
XFER_N=0
xfer_start() {
	local from=$1 to=$2 addr=$3 mb=$4 pace=${5:-} port id
	XFER_N=$((XFER_N + 1)); id=$XFER_N
	port=$((5000 + id))
	nc -h 2>&1 | grep -q OpenBSD || { fail "OpenBSD netcat (netcat-openbsd) not installed"; return 1; }
	ip netns exec "${NS[$to]}" timeout -k 5 120 sh -c \
		"nc -n -d -l '$addr' $port | sha256sum | cut -d' ' -f1 >'$T/x$id.rx'" 2>"$T/x$id.rxerr" &
	XF_RX[$id]=$!; BG_PIDS+=($!)
	wait_until 10 listening "$to" "$port" || { fail "receiver not listening on $addr:$port"; return 1; }
	mkfifo "$T/x$id.fifo"
	# timeout: opening the FIFO blocks forever if the sender never starts.
	timeout -k 2 130 sh -c "sha256sum <'$T/x$id.fifo' | cut -d' ' -f1 >'$T/x$id.tx'" &
	XF_SUM[$id]=$!; BG_PIDS+=($!)
	if [ -n "$pace" ]; then
		ip netns exec "${NS[$from]}" timeout -k 5 120 sh -c \
			"for i in \$(seq $mb); do [ ! -e '$T/x$id.release' ] || break; head -c 1M /dev/urandom; sleep $pace; done |
			 tee '$T/x$id.fifo' | nc -n -N '$addr' $port" 2>"$T/x$id.txerr" &
	else
		ip netns exec "${NS[$from]}" timeout -k 5 120 sh -c \
			"head -c ${mb}M /dev/urandom | tee '$T/x$id.fifo' | nc -n -N '$addr' $port" \
			2>"$T/x$id.txerr" &
	fi
	XF_TX[$id]=$!; BG_PIDS+=($!)
	XF_DESC[$id]="$mb MiB TCP $from -> $to ($addr)"
	XF_T0[$id]=$(now_ms)
}
declare -A XF_RX XF_TX XF_SUM XF_DESC XF_T0

# xfer_release [ID]: a paced transfer's sender stops after the MiB it is writing (the end is
# then checked as any other: xfer_finish).
xfer_release() {
	local id=${1:-$XFER_N}
	: >"$T/x$id.release"
	XF_DESC[$id]="${XF_DESC[$id]}, ended early by the test"
}

listening() {
	ip netns exec "${NS[$1]}" ss -Hltn "sport = :$2" | grep -q .
}

# xfer_finish [ID]: waits (bounded by the timeouts above) and asserts the checksums match.
xfer_finish() {
	local id=${1:-$XFER_N} rc_tx=0 rc_rx=0 tx rx ms
	wait "${XF_TX[$id]}" || rc_tx=$?
	wait "${XF_RX[$id]}" || rc_rx=$?
	wait "${XF_SUM[$id]}" || true
	ms=$(( $(now_ms) - XF_T0[$id] ))
	tx=$(cat "$T/x$id.tx" 2>/dev/null || true)
	rx=$(cat "$T/x$id.rx" 2>/dev/null || true)
	if [ "$rc_tx" -ne 0 ] || [ "$rc_rx" -ne 0 ]; then
		fail "${XF_DESC[$id]}: sender exit $rc_tx, receiver exit $rc_rx ($(cat "$T/x$id.txerr" "$T/x$id.rxerr" 2>/dev/null | head -c 300))"
		return 0
	fi
	if [ -n "$tx" ] && [ "$tx" = "$rx" ]; then
		pass "${XF_DESC[$id]}: sha256 matches (${tx:0:16}...) in ${ms} ms"
	else
		fail "${XF_DESC[$id]}: sha256 sent '${tx:-none}', received '${rx:-none}'"
	fi
}

# xfer FROM TO ADDR MBYTES: synchronous transfer + check.
xfer() { xfer_start "$@" && xfer_finish; }

# ---------------------------------------------------------------- measurements (benchmarks)

# bench_pair NAME: the benchmarks' pair (TOPOLOGY=pair): tunneld nodes a and b, each the
# other's peer (not started), and an iperf3 server on b port 5201.  NAME prefixes the message
# if the server does not come up.
bench_pair() {
	node_add a 1 tunneld
	node_add b 2 tunneld
	node_peer a b
	node_peer b a
	ip netns exec "${NS[b]}" iperf3 -s -p 5201 >"$T/iperf-b.log" 2>&1 &
	BG_PIDS+=($!)
	wait_until 10 listening b 5201 || echo "$1: iperf3 server not up"
}

# iperf_gbps NODE ADDR SECS: Gbit/s an iperf3 from NODE to ADDR:5201 delivered (IPERF_STREAMS
# parallel streams, default 1), from the server's side of iperf3's JSON; "n/a" if the run failed.
iperf_gbps() {
	local json
	json=$(ip netns exec "${NS[$1]}" timeout -k 2 $(($3 + 20)) iperf3 -c "$2" -p 5201 -t "$3" \
		-P "${IPERF_STREAMS:-1}" -J 2>/dev/null) || true
	# "end": { ... "sum_received": { ... "bits_per_second": N ... } }, pretty-printed; no jq needed.
	printf '%s\n' "$json" | awk '/"sum_received"/ { s = 1 }
		s && /"bits_per_second"/ { gsub(/[^0-9.eE+-]/, "", $2); printf "%.3f\n", $2 / 1e9; exit }' \
		| grep . || echo n/a
}

# rtt_median NODE ADDR [PINGS]: the median rtt in ms of PINGS (default 200) pings from NODE at
# 10 ms intervals, "n/a" if none came back (the benchmarks' latency).
rtt_median() {
	local pings=${3:-200}
	ip netns exec "${NS[$1]}" timeout -k 2 $((pings / 50 + 20)) ping -n -c "$pings" -i 0.01 -W 1 "$2" 2>/dev/null |
		sed -n 's/.*time=\([0-9.]*\) ms.*/\1/p' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) printf "%.3f\n", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; else print "n/a" }'
}

# median VALUE...: the median (the lower one of an even count), "n/a" values left out.
median() {
	printf '%s\n' "$@" | grep -v '^n/a$' | sort -g |
		awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "n/a" }'
}

# ---------------------------------------------------------------- dump format

# dump_valid NODE: `wg show IFACE dump` is tab-separated as wg(8) documents: the interface line
# has 4 fields (private-key public-key listen-port fwmark), each peer line 8 (public-key
# preshared-key endpoint allowed-ips latest-handshake transfer-rx transfer-tx
# persistent-keepalive).  Prints the first problem; returns 1 if there is one.
dump_valid() {
	nsx "$1" wg show "${IFN[$1]}" dump | awk -F'\t' -v priv="${PRIV[$1]}" -v pub="${PUB[$1]}" '
	function key(s) { return length(s) == 44 && s ~ /^[A-Za-z0-9+\/]+=$/ }
	function bad(m) { print "line " NR ": " m ": " $0; err = 1; exit 1 }
	NR == 1 {
		if (NF != 4) bad("interface line has " NF " fields, want 4")
		if ($1 != priv) bad("private key is not the configured one")
		if ($2 != pub) bad("public key is not the configured one")
		if ($3 !~ /^[0-9]+$/) bad("listen-port not a number")
		# wg(8) prints a mark in hex (0x...), none as "off"
		if ($4 != "off" && $4 !~ /^0x[0-9a-f]+$/) bad("fwmark neither off nor 0xHEX")
		next
	}
	{
		if (NF != 8) bad("peer line has " NF " fields, want 8")
		if (!key($1)) bad("public-key not base64 of 32 bytes")
		if ($2 != "(none)" && !key($2)) bad("preshared-key neither (none) nor a key")
		if ($3 != "(none)" && $3 !~ /^([0-9.]+|\[[0-9a-fA-F:]+\]):[0-9]+$/) bad("endpoint malformed")
		if ($4 != "(none)" && $4 !~ /^[0-9a-fA-F.:\/]+(,[0-9a-fA-F.:\/]+)*$/) bad("allowed-ips malformed")
		if ($5 !~ /^[0-9]+$/ || $6 !~ /^[0-9]+$/ || $7 !~ /^[0-9]+$/) bad("handshake/transfer not numbers")
		if ($8 != "off" && $8 !~ /^[0-9]+$/) bad("persistent-keepalive neither off nor a number")
		peers++
	}
	END { if (!err && NR < 1) { print "empty dump"; exit 1 } }'
}

# ---------------------------------------------------------------- roster mode (issue 3)
#
# Nodes run tunneld in roster mode: their config comes from `keys node-config` (PrivateKeyFile,
# ListenPort, Roster, AdminKey), their peers from the signed roster the admin publishes with
# `keys` in $ADMIN.  The same arrays as above (NS, IFN, PRIV, PUB, UL, PORT, OV4, OV6, PID)
# describe them, so ping_ok, peer_field, xfer_start... work unchanged.  Node NAME is also its
# roster name; its key is $T/NAME.key, its roster $T/NAME.roster (candidates: .roster.new).
#
# Datacenters (dc_add): a switch namespace per datacenter, 172.16.D.0/24, joined by one router
# namespace (172.16.D.254 in each); still nothing linked to the root namespace.

KEYS_BIN=${KEYS_BIN:-$BUILD/keys}
ADMIN=$T/admin
GOSSIP_PORT=${GOSSIP_PORT:-7946}
declare -A DC ROSTER_PATH

need_keys() {
	if [ ! -x "$KEYS_BIN" ]; then
		fail "keys binary $KEYS_BIN not built"
		exit 1
	fi
}

# keys_admin ARGS...: the admin tool on the test's admin directory.
keys_admin() { timeout -k 2 60 "$KEYS_BIN" -C "$ADMIN" "$@"; }

# roster_admin_init [NETWORK]: keys init (serial 1) with the overlay the helpers above use.
roster_admin_init() {
	need_keys
	need_tunneld
	mkdir -p -m 0700 "$ADMIN"
	keys_admin init --network "${1:-${RUN}net}" --cidr 100.64.0.0/16 --cidr6 fd00:64::/48 \
		>>"$T/keys.out" 2>>"$T/keys.err"
}

# dc_add D [GW/LEN]: datacenter D's switch, linked to the router, whose address there is GW/LEN
# (default 172.16.D.254/24); its nodes (rnode_add NODE NUM D) are GW's first three octets .NUM.
declare -A DC_NET DC_GW DC_LEN
dc_add() {
	local d=$1 gw=${2:-172.16.$1.254/24} rt=${RUN}rt
	if [ -z "${RT_UP:-}" ]; then
		ns_add "$rt"
		ip netns exec "$rt" sysctl -qw net.ipv4.ip_forward=1
		RT_UP=1
	fi
	ns_add "${RUN}dc$d"
	ip -n "${RUN}dc$d" link add br0 type bridge
	ip -n "${RUN}dc$d" link set br0 up
	ip -n "$rt" link add "d$d" type veth peer name up0 netns "${RUN}dc$d"
	ip -n "${RUN}dc$d" link set up0 master br0 up
	ip -n "$rt" addr add "$gw" dev "d$d"
	ip -n "$rt" link set "d$d" up
	DC_GW[$d]=${gw%/*}
	DC_LEN[$d]=${gw#*/}
	DC_NET[$d]=${DC_GW[$d]%.*}
}

# rnode_add NODE NUM [D]: a node namespace with its own key pair (key file $T/NODE.key, 0600);
# in datacenter D (dc_add first) or, without D, on the single switch of node_add.
rnode_add() {
	local n=$1 num=$2 d=${3:-}
	if [ -z "$d" ]; then
		node_add "$n" "$num" tunneld
	else
		NS[$n]=$RUN$n
		IFN[$n]=$RUN$n
		NUM[$n]=$num
		NODE_IMPL[$n]=tunneld
		UL[$n]=${DC_NET[$d]}.$num
		PORT[$n]=$((PORT_BASE + num))
		OV4[$n]=100.64.0.$num
		OV6[$n]=fd00:64::$num
		PEERS[$n]=
		PID[$n]=
		ns_add "${NS[$n]}"
		ip -n "${NS[$n]}" link add ul0 type veth peer name "p$n" netns "${RUN}dc$d"
		ip -n "${RUN}dc$d" link set dev "p$n" master br0 up
		ip -n "${NS[$n]}" addr add "${UL[$n]}/${DC_LEN[$d]}" dev ul0
		ip -n "${NS[$n]}" link set ul0 up
		ip -n "${NS[$n]}" route add default via "${DC_GW[$d]}"
		key_gen "$n"
	fi
	DC[$n]=$d
	ROSTER_PATH[$n]=$T/$n.roster
	(umask 077; printf '%s\n' "${PRIV[$n]}" >"$T/$n.key")
}

# rnode_enroll NODE [keys enroll options...]: enrolls NODE with its key, both overlay addresses
# and its underlay endpoint.
rnode_enroll() {
	local n=$1; shift
	keys_admin enroll "$n" --pubkey "${PUB[$n]}" --address "${OV4[$n]}" --address "${OV6[$n]}" \
		--endpoint "${UL[$n]}:${PORT[$n]}" "$@" >>"$T/keys.out" 2>>"$T/keys.err"
}

# roster_publish [--force]: keys publish; sets SERIAL to the published serial (read from
# roster.signed).  --force: a new serial even if nothing changed.
roster_publish() {
	keys_admin publish "$@" >>"$T/keys.out" 2>>"$T/keys.err"
	SERIAL=$(roster_serial_of "$ADMIN/roster.signed")
	log "published serial $SERIAL"
}

# roster_serial_of FILE: the serial line of a roster file, 0 if none.
roster_serial_of() {
	sed -n 's/^serial \([0-9][0-9]*\)$/\1/p' "$1" 2>/dev/null | head -n 1 | grep . || echo 0
}

# node_serial NODE: the serial NODE persisted (tunneld writes Roster only after accepting).
node_serial() { roster_serial_of "${ROSTER_PATH[$1]}"; }

# rnode_provision NODE [FILE]: installs NODE's first roster (before its first start).
rnode_provision() { install -m 0600 "${2:-$ADMIN/roster.signed}" "${ROSTER_PATH[$1]}"; }

# roster_hand NODE [FILE]: hands a roster to a running NODE as `keys push` does: scp writes
# Roster.new in place, tunneld picks it up by inotify.
roster_hand() {
	cat "${2:-$ADMIN/roster.signed}" >"${ROSTER_PATH[$1]}.new"
}

# rnode_conf NODE: NODE's config file, from `keys node-config`.
rnode_conf() {
	local n=$1 f
	f=$(conf_file "$n")
	(umask 077; keys_admin node-config "$n" --private-key-file "$T/$n.key" \
		--roster-path "${ROSTER_PATH[$n]}" --listen-port "${PORT[$n]}" >"$f" 2>>"$T/keys.err")
	[ "$WARREN_TEST_OFFLOAD" = on ] || sed -i 's/^\[Interface\]$/&\nOffload = off/' "$f"
}

# rnode_start NODE [TUNNELD OPTION...]: starts tunneld in roster mode (config from rnode_conf
# unless one exists), waits like node_start.
rnode_start() {
	local n=$1 log=$T/$1.log
	shift
	need_tunneld
	[ -s "$(conf_file "$n")" ] || rnode_conf "$n"
	ip netns exec "${NS[$n]}" "$TUNNELD" -c "$(conf_file "$n")" -i "${IFN[$n]}" -v "$@" \
		>>"$log" 2>&1 &
	PID[$n]=$!
	wait_until 10 node_ready_or_dead "$n" || true
	if ! pid_alive "${PID[$n]}"; then
		fail "$n (roster mode) exited at start: $(tail -n 3 "$log" | tr '\n' ' ')"
		return 1
	fi
	if ! node_ready "$n"; then
		fail "$n (roster mode) not ready within 10 s: interface ${IFN[$n]} up + UAPI socket"
		return 1
	fi
}

# roster_two_up: keys init, nodes a (1) and b (2) enrolled, the first roster published,
# provisioned and both started in roster mode; checks that b reaches a through the tunnel.
roster_two_up() {
	local n
	roster_admin_init
	rnode_add a 1
	rnode_add b 2
	for n in a b; do rnode_enroll "$n"; done
	roster_publish
	for n in a b; do rnode_provision "$n"; rnode_start "$n"; done
	check "ping b -> a" ping_ok b "${OV4[a]}"
}

# all_at_serial S NODE...: every NODE has persisted serial S.
all_at_serial() {
	local s=$1 n; shift
	for n in "$@"; do [ "$(node_serial "$n")" = "$s" ] || return 1; done
}

# converge_ms T0_MS SECONDS S NODE...: waits (polling every 50 ms) until every NODE runs
# serial S; prints the milliseconds since T0_MS, or "timeout" and returns 1.
converge_ms() {
	local t0=$1 deadline=$((SECONDS + $2)) s=$3 i=0; shift 3
	while [ "$SECONDS" -lt "$deadline" ] && [ "$i" -lt 100000 ]; do
		if all_at_serial "$s" "$@"; then echo $(( $(now_ms) - t0 )); return 0; fi
		sleep 0.05
		i=$((i + 1))
	done
	if all_at_serial "$s" "$@"; then echo $(( $(now_ms) - t0 )); return 0; fi
	echo timeout
	return 1
}

# serials NODE...: "a=3 b=3 c=2", for messages.
serials() { local n; for n in "$@"; do printf '%s=%s ' "$n" "$(node_serial "$n")"; done; }

# wg_peers NODE: NODE's peer public keys, sorted.
wg_peers() { nsx "$1" wg show "${IFN[$1]}" peers 2>/dev/null | sort; }

# has_peer NODE KEY: KEY is one of NODE's peers.
has_peer() { wg_peers "$1" | grep -qxF -- "$2"; }

# gossip_post FROM TO FILE: POSTs FILE to TO's gossip service over the overlay, from FROM's
# namespace; prints the HTTP status (000 if there was no answer).
gossip_post() {
	nsx "$1" curl -s -o "$T/post.body" -w '%{http_code}' --max-time 5 \
		-H 'Content-Type: text/plain' --data-binary "@$3" \
		"http://${OV4[$2]}:$GOSSIP_PORT/v1/roster" 2>/dev/null || true
}

# gossip_get FROM TO PATH: GETs PATH (/v1/serial, /v1/roster) from TO's gossip service.
gossip_get() {
	nsx "$1" curl -s --max-time 5 "http://${OV4[$2]}:$GOSSIP_PORT$3" 2>/dev/null || true
}

# log_mark NODE: the current size of NODE's log; log_since NODE MARK: what was logged since.
log_mark() { stat -c %s "$T/$1.log" 2>/dev/null || echo 0; }
log_since() { tail -c +"$(( $2 + 1 ))" "$T/$1.log" 2>/dev/null || true; }

# impostor_start NAME NUM PRIVKEY AS_NODE [D] PEER...: a tunneld in plain (-c, [Peer]) mode
# holding PRIVKEY and claiming AS_NODE's overlay addresses, with every PEER configured by its
# current key and endpoint: it models a machine that still holds a revoked or rotated-out key.
impostor_start() {
	local x=$1 num=$2 priv=$3 as=$4 d=$5 p; shift 5
	rnode_add "$x" "$num" "$d"
	PRIV[$x]=$priv
	PUB[$x]=$(printf '%s\n' "$priv" | timeout 10 wg pubkey)
	OV4[$x]=${OV4[$as]}
	OV6[$x]=${OV6[$as]}
	for p in "$@"; do node_peer "$x" "$p"; done
	node_start "$x"
}

# ---------------------------------------------------------------- the bastion (issue 4)
#
# A "public" switch namespace (203.0.113.0/24, RFC 5737) joins the engineer namespace
# (203.0.113.100) to the jump hosts' second interface pub0: the bastion (203.0.113.1) and, for
# the benchmark, an OpenSSH sshd jump host (203.0.113.2).  Jump hosts are roster nodes on the
# underlay switch too; no namespace forwards, so the engineer reaches only the jump hosts, and
# the nodes only through them, over the overlay.  Each node runs Debian's sshd on its overlay
# address with AuthorizedKeysCommand = keys authorized-keys, in its own UTS namespace whose
# hostname is the node's name (so `uname -n` tells the nodes apart).
#
# Unix accounts: v1 logs in with the engineer's name.  Instead of useradd on the host, each
# namespace that runs sshd gets its own /etc/netns/NS/{passwd,group,hosts}, which ip netns exec
# bind-mounts over /etc for what it starts: the engineers exist only there, the host's user
# database is never touched, and parallel runs cannot collide.  The password field is "*" (no
# password but not locked: with UsePAM no, sshd refuses a "!" locked account even for keys).
# Homes are $T/home/NAME ($T becomes 0711 so the engineers can reach them).
#
# sshd runs the AuthorizedKeysCommand only if it and every directory above it are root-owned
# and not group/world-writable, which /tmp is not: keys is copied to /run/$RUN.bin (0755).

BASTION_BIN=${BASTION_BIN:-$BUILD/bastion}
SSHD_BIN=${SSHD_BIN:-/usr/sbin/sshd}
PUB_NET=203.0.113
ENG_ADDR=$PUB_NET.100
declare -A PUB_ADDR PUB_OF ENG_UID SSHD_PID
ENG_NAMES=()
BASTION_PID=

need_bastion() {
	if [ ! -x "$BASTION_BIN" ]; then
		fail "bastion binary $BASTION_BIN not built"
		exit 1
	fi
}

need_openssh() {
	local t
	for t in "$SSHD_BIN" ssh ssh-keygen scp; do
		command -v "$t" >/dev/null || { fail "$t not installed (openssh-server/-client)"; exit 1; }
	done
}

# The EXIT trap: our /etc/netns directories and the keys copy, then lib.sh's cleanup (which
# reads the exit status from $?).
bastion_exit() {
	local rc=$? n
	set +eE
	trap - ERR
	for n in "${NAMESPACES[@]}"; do
		[ -d "/etc/netns/$n" ] && rm -rf "/etc/netns/$n"
	done
	rm -rf "/run/$RUN.bin"
	(exit "$rc")
	cleanup
}

# bastion_net_init: the public switch, the engineer namespace ($ENG), the keys copy for sshd,
# the admin directory (roster_admin_init) and the client directory $T/ssh.
bastion_net_init() {
	need_openssh
	need_keys
	trap bastion_exit EXIT
	chmod 0711 "$T"
	mkdir -m 0755 "$T/home"
	mkdir -m 0700 "$T/ssh"
	install -d -m 0755 "/run/$RUN.bin"
	install -m 0755 "$KEYS_BIN" "/run/$RUN.bin/keys"
	# Debian's sshd refuses to start without its privilege separation directory.
	[ -d /run/sshd ] || install -d -m 0755 /run/sshd
	PUB_SW=${RUN}pub
	ns_add "$PUB_SW"
	ip -n "$PUB_SW" link add br0 type bridge
	ip -n "$PUB_SW" link set br0 up
	ENG=${RUN}eng
	ns_add "$ENG"
	NS[eng]=$ENG
	ip -n "$ENG" link add pub0 type veth peer name peng netns "$PUB_SW"
	ip -n "$PUB_SW" link set peng master br0 up
	ip -n "$ENG" addr add "$ENG_ADDR/24" dev pub0
	ip -n "$ENG" link set pub0 up
	roster_admin_init
}

# pub_link NODE NUM ALIAS: NODE's second interface pub0 = 203.0.113.NUM on the public switch;
# the engineers' ssh config calls it ALIAS (Host ALIAS / HostName 203.0.113.NUM).
pub_link() {
	local n=$1
	ip -n "${NS[$n]}" link add pub0 type veth peer name "q$n" netns "$PUB_SW"
	ip -n "$PUB_SW" link set "q$n" master br0 up
	ip -n "${NS[$n]}" addr add "$PUB_NET.$2/24" dev pub0
	ip -n "${NS[$n]}" link set pub0 up
	PUB_ADDR[$3]=$PUB_NET.$2
	PUB_OF[$n]=$PUB_NET.$2
}

# eng_keygen NAME [USER]: an ed25519 key $T/ssh/NAME and the client config $T/ssh/NAME.config
# logging in as USER (default NAME) everywhere.  Does not enroll (an unknown key).
eng_keygen() {
	local n=$1 user=${2:-$1} c=$T/ssh/$1.config h
	ssh-keygen -q -t ed25519 -N '' -C "$n@engineer" -f "$T/ssh/$n"
	{
		for h in "${!PUB_ADDR[@]}"; do
			printf 'Host %s\n\tHostName %s\n' "$h" "${PUB_ADDR[$h]}"
		done
		printf 'Host *\n\tUser %s\n\tIdentityFile %s\n\tIdentitiesOnly yes\n' "$user" "$T/ssh/$n"
		printf '\tUserKnownHostsFile %s\n\tStrictHostKeyChecking accept-new\n' "$T/ssh/known_hosts"
		printf '\tBatchMode yes\n\tConnectTimeout 5\n\tLogLevel ERROR\n\tControlMaster no\n'
		printf '\tCheckHostIP no\n\tUpdateHostKeys no\n\tServerAliveInterval 5\n'
	} >"$c"
	chmod 0600 "$c"
}

# eng_add NAME ALLOW...: an engineer with a fresh key, in the admin's working roster
# (`keys engineer add NAME --ssh-key KEY.pub --allow ALLOW...`), with a Unix account (uid
# 61000 + n) installed on the sshd namespaces by sshd_start.  Publish afterwards.
eng_add() {
	local n=$1 a args=(); shift
	eng_keygen "$n"
	for a in "$@"; do args+=(--allow "$a"); done
	keys_admin engineer add "$n" --ssh-key "$T/ssh/$n.pub" "${args[@]}" \
		>>"$T/keys.out" 2>>"$T/keys.err"
	ENG_UID[$n]=$((61000 + ${#ENG_NAMES[@]}))
	ENG_NAMES+=("$n")
	install -d -m 0755 -o "${ENG_UID[$n]}" -g "${ENG_UID[$n]}" "$T/home/$n"
}

# users_install NODE: NODE's namespace sees the engineers' accounts and every node's name.
users_install() {
	local n=$1 d=/etc/netns/${NS[$1]} e m
	install -d -m 0755 "$d"
	{
		cat /etc/passwd
		for e in "${ENG_NAMES[@]}"; do
			printf '%s:*:%s:%s:warren test engineer:%s:/bin/sh\n' "$e" "${ENG_UID[$e]}" \
				"${ENG_UID[$e]}" "$T/home/$e"
		done
	} >"$d/passwd"
	{
		cat /etc/group
		for e in "${ENG_NAMES[@]}"; do printf '%s:x:%s:\n' "$e" "${ENG_UID[$e]}"; done
	} >"$d/group"
	{
		printf '127.0.0.1 localhost\n'
		for m in "${!OV4[@]}"; do printf '%s %s\n' "${OV4[$m]}" "$m"; done
	} >"$d/hosts"
	chmod 0644 "$d/passwd" "$d/group" "$d/hosts"
	[ "${BASTION_NODE:-}" != "$n" ] || bastion_user_install "$n"
}

has_addr() { ip -n "${NS[$1]}" -4 addr show | grep -qF "inet $2/"; }

# sshd_start NODE [CONFIG-LINE...]: Debian's sshd on NODE's overlay address port 22, its own
# host key, keys authorized-keys as AuthorizedKeysCommand; waits (10 s) until it listens.
# SSHD_EXTRA: config lines for every node's sshd; SSHD_NODE_EXTRA[NODE]: one more for NODE's.
SSHD_EXTRA=()
declare -A SSHD_NODE_EXTRA
sshd_start() {
	local n=$1 d=$T/sshd-$1 l; shift
	mkdir -p -m 0700 "$d"
	[ -f "$d/host_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C "$n" -f "$d/host_ed25519"
	{
		printf 'ListenAddress %s:22\nHostKey %s\nPidFile none\n' "${OV4[$n]}" "$d/host_ed25519"
		printf 'UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n'
		printf 'PubkeyAuthentication yes\nAuthorizedKeysFile none\n'
		# --admin-key: the node's AdminKey, as in its tunneld config (a node pins no other
		# key until an admin key rotation).
		printf 'AuthorizedKeysCommand /run/%s.bin/keys authorized-keys %%u --roster %s --node %s --admin-key %s\n' \
			"$RUN" "${ROSTER_PATH[$n]}" "$n" "$(keys_admin admin-pubkey)"
		printf 'AuthorizedKeysCommandUser root\nStrictModes no\nUseDNS no\nLogLevel VERBOSE\n'
		printf 'Subsystem sftp /usr/lib/openssh/sftp-server\nPrintMotd no\n'
		for l in "${SSHD_EXTRA[@]}" "$@"; do printf '%s\n' "$l"; done
		[ -z "${SSHD_NODE_EXTRA[$n]:-}" ] || printf '%s\n' "${SSHD_NODE_EXTRA[$n]}"
	} >"$d/sshd_config"
	users_install "$n"
	wait_until 10 has_addr "$n" "${OV4[$n]}" || { fail "$n: overlay address ${OV4[$n]} not up"; return 1; }
	"$SSHD_BIN" -t -f "$d/sshd_config" 2>"$T/sshd-$n.log" || { fail "$n: sshd -t: $(cat "$T/sshd-$n.log")"; return 1; }
	ip netns exec "${NS[$n]}" unshare --uts sh -c 'hostname "$1" && exec "$2" -D -e -f "$3"' \
		sh "$n" "$SSHD_BIN" "$d/sshd_config" >>"$T/sshd-$n.log" 2>&1 &
	SSHD_PID[$n]=$!
	BG_PIDS+=($!)
	wait_until 10 listening "$n" 22 || { fail "$n: sshd not listening on ${OV4[$n]}:22"; return 1; }
}

# The bastion's network process runs as BASTION_USER (its config's User), a user that exists
# only in the bastion node's namespace (/etc/netns/NS/passwd, as users_install does).
BASTION_USER=${RUN}bu
BASTION_UID=$((65000 - $$ % 3000))

# bastion_user_install NODE: NODE's namespace knows BASTION_USER (uid = gid = BASTION_UID).
bastion_user_install() {
	local d=/etc/netns/${NS[$1]}
	install -d -m 0755 "$d"
	[ -e "$d/passwd" ] || cp /etc/passwd "$d/passwd"
	[ -e "$d/group" ] || cp /etc/group "$d/group"
	grep -q "^$BASTION_USER:" "$d/passwd" ||
		printf '%s:x:%s:%s:warren bastion:/nonexistent:/usr/sbin/nologin\n' "$BASTION_USER" \
			"$BASTION_UID" "$BASTION_UID" >>"$d/passwd"
	grep -q "^$BASTION_USER:" "$d/group" || printf '%s:x:%s:\n' "$BASTION_USER" "$BASTION_UID" >>"$d/group"
	chmod 0644 "$d/passwd" "$d/group"
}

# bastion_conf NODE [KEY = VALUE...]: the bastion's config, $T/bastion.conf, state in $T/bastion/;
# User = BASTION_USER unless a User line is given.
bastion_conf() {
	local n=$1 l user=1; shift
	BASTION_NODE=$n
	BASTION_DIR=$T/bastion
	AUDIT_LOG=$BASTION_DIR/audit.jsonl
	mkdir -p -m 0700 "$BASTION_DIR"
	bastion_user_install "$n"
	for l in "$@"; do case $l in [Uu][Ss][Ee][Rr]*=*) user= ;; esac; done
	{
		[ -z "$user" ] || printf 'User = %s\n' "$BASTION_USER"
		printf 'ListenAddress = %s:22\n' "${PUB_OF[$n]}"
		printf 'HostKeyFile = %s/ssh_host_ed25519_key\n' "$BASTION_DIR"
		printf 'Roster = %s\nAdminKey = %s\n' "${ROSTER_PATH[$n]}" "$(keys_admin admin-pubkey)"
		printf 'AuditLog = %s\nAuditKeyFile = %s/audit.key\nAuditSyslog = no\n' "$AUDIT_LOG" "$BASTION_DIR"
		printf 'ConnectTimeout = 5\n'
		for l in "$@"; do printf '%s\n' "$l"; done
	} >"$T/bastion.conf"
	chmod 0600 "$T/bastion.conf"
}

# bastion_start: starts the bastion in $BASTION_NODE's namespace; waits (10 s) until it listens.
bastion_start() {
	local n=$BASTION_NODE
	need_bastion
	ip netns exec "${NS[$n]}" "$BASTION_BIN" -c "$T/bastion.conf" -v >>"$T/bastion.log" 2>&1 &
	BASTION_PID=$!
	BG_PIDS+=($!)
	wait_until 10 bastion_ready_or_dead || true
	pid_alive "$BASTION_PID" || { fail "bastion exited at start: $(tail -n 3 "$T/bastion.log" | tr '\n' ' ')"; return 1; }
	bastion_ready || { fail "bastion not listening on ${PUB_OF[$n]}:22 within 10 s"; return 1; }
}

bastion_ready() { pid_alive "$BASTION_PID" && listening "$BASTION_NODE" 22; }
bastion_ready_or_dead() { bastion_ready || ! pid_alive "$BASTION_PID"; }

# bastion_stop: SIGTERM (a clean stop writes a final checkpoint); returns the exit status.
bastion_stop() {
	local p=$BASTION_PID rc=0
	[ -n "$p" ] || return 0
	kill -TERM "$p" 2>/dev/null || true
	wait_until 10 bash -c "! kill -0 $p" || { kill -9 "$p" 2>/dev/null || true; }
	wait "$p" 2>/dev/null || rc=$?
	BASTION_PID=
	return "$rc"
}

bastion_kill9() {
	kill -9 "$BASTION_PID" 2>/dev/null || true
	wait "$BASTION_PID" 2>/dev/null || true
	BASTION_PID=
}

# eng_ssh NAME SSH-ARGS...: OpenSSH's client as engineer NAME, in the engineer namespace, with
# their config and key; bounded by SSH_TIMEOUT (30 s).  eng_scp and eng_rsync likewise.
eng_ssh() {
	local n=$1; shift
	timeout -k 2 "${SSH_TIMEOUT:-30}" ip netns exec "$ENG" ssh -F "$T/ssh/$n.config" -i "$T/ssh/$n" "$@"
}
eng_scp() {
	local n=$1; shift
	timeout -k 2 "${SSH_TIMEOUT:-60}" ip netns exec "$ENG" scp -q -F "$T/ssh/$n.config" -i "$T/ssh/$n" "$@"
}
eng_rsync() {
	local n=$1; shift
	timeout -k 2 "${SSH_TIMEOUT:-60}" ip netns exec "$ENG" rsync \
		-e "ssh -F $T/ssh/$n.config -i $T/ssh/$n -J $n@bastion" "$@"
}

# audit_pub: the audit public key (base64): the bastion's public key file next to its secret
# key (AuditKeyFile.pub, as documented) when there is one, else the key the genesis line names
# (the tamper tests then still check the chain and the signatures, not who holds the key).
audit_pub() {
	[ -s "$BASTION_DIR/audit.key.pub" ] && { tr -d '\n' <"$BASTION_DIR/audit.key.pub"; return 0; }
	sed -n 's/^{"seq":0,.*"audit_key":"\([A-Za-z0-9+/=]*\)".*/\1/p' "$AUDIT_LOG" | head -n 1
}

# audit_verify FILE: `keys audit verify FILE --key PUB`, stdout and stderr together; exit status kept.
audit_verify() { timeout -k 2 30 "$KEYS_BIN" audit verify "$1" --key "$(audit_pub)" 2>&1; }

# jump_hold ENGINEER NODE SECONDS FILE: a jump held open in the background, ENGINEER through
# the bastion to NODE running a remote loop that prints "up", then "tick" once a second for
# SECONDS (the first at once) or until jump_release FILE, then "done", into FILE; JUMP_PID is
# its ssh.  Waits (15 s) for the first tick.  A test that has seen what it held the jump open
# for releases it instead of waiting out SECONDS, which then only bound it.
jump_hold() {
	local e=$1 n=$2 s=$3 f=$4
	rm -f "$f.release"
	SSH_TIMEOUT=$((s + 60)) eng_ssh "$e" -J "$e@bastion" "$n" \
		"echo up; i=0; while [ \$i -lt $s ] && [ ! -e '$f.release' ]; do echo tick; sleep 1; i=\$((i+1)); done; echo done" \
		>"$f" 2>&1 </dev/null &
	JUMP_PID=$!
	BG_PIDS+=($JUMP_PID)
	check "$e's jump to $n is open" wait_until 15 grep -q '^tick' "$f"
}

# jump_release FILE: the jump_hold writing FILE ends its loop within a second (the engineer
# sees the file: $T is 0711, the file 0644), prints "done" and exits.
jump_release() { (umask 022; : >"$1.release"); }

# audit_count EVENT [FIELD=VALUE...]: lines of the audit log with that event (and fields, JSON
# strings, compared as text).
audit_count() {
	local pat="\"event\":\"$1\"" f; shift
	local n
	n=$(grep -F -- "$pat" "$AUDIT_LOG" 2>/dev/null | { cat; } | {
		local line ok c=0
		while IFS= read -r line; do
			ok=1
			for f in "$@"; do
				case $line in *"\"${f%%=*}\":\"${f#*=}\""*) ;; *) ok=0 ;; esac
			done
			c=$((c + ok))
		done
		echo "$c"; })
	echo "${n:-0}"
}

# bastion_nodes_add NODE...: the bastion host "jump" (roster node 1, underlay switch, public
# 203.0.113.1, "bastion" in the engineers' ssh config) and NODEs (roster nodes 3, 4, ...), all
# enrolled (group: the name without its -N suffix).  Engineers (eng_add) come after this: their
# allow lines name nodes, and their ssh config the public addresses.
BASTION_NODES=()
bastion_nodes_add() {
	local n i=3
	rnode_add jump 1
	pub_link jump 1 bastion
	rnode_enroll jump
	for n in "$@"; do
		rnode_add "$n" "$i"
		rnode_enroll "$n" --group "${n%-*}"
		BASTION_NODES+=("$n")
		i=$((i + 1))
	done
}

# bastion_up [BASTION-CONFIG-LINE...]: publishes (nodes and engineers so far), provisions and
# starts tunneld everywhere and sshd on the nodes, then the bastion; "jump" must ping every node.
bastion_up() {
	local n
	roster_publish
	for n in jump "${BASTION_NODES[@]}"; do rnode_provision "$n"; rnode_start "$n"; done
	for n in "${BASTION_NODES[@]}"; do sshd_start "$n"; done
	for n in "${BASTION_NODES[@]}"; do
		ping_ok jump "${OV4[$n]}" || { fail "jump cannot ping $n over the overlay"; return 1; }
	done
	bastion_conf jump "$@"
	bastion_start
}
