#!/usr/bin/env bash
# Name lookups never block the event loop (issue 7, item 7).  a's namespace gets its own DNS
# server (dns_stub.py on 127.0.0.1, through /etc/netns/NS/resolv.conf) that never answers
# c-silent.test and answers b-slow.test late (1.5 s, inside the 2 s timeout).
#  1. While a pings b through the tunnel every 50 ms, a SIGHUP adds peer c by the silent name:
#     the largest gap between replies must stay far below the resolver timeout (2 s here).
#  2. a's config switches b's endpoint to b-slow.test (answered after 1.5 s with a wrong
#     address), reloads, then at once back to b's real address and reloads again: the late
#     answer for the old name must not overwrite the newer endpoint.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "checks tunneld's resolver"
MAX_GAP_MS=${MAX_GAP_MS:-800}
DNS_TIMEOUT_S=2

node_add a 1
node_add b 2
node_peer a b
node_peer b a

ETC_NS=/etc/netns/${NS[a]}
dns_cleanup() {
	local rc=$?
	set +eE
	trap - ERR
	rm -rf "$ETC_NS"
	rmdir /etc/netns 2>/dev/null	# only if no one else uses it
	return "$rc"
}
trap 'dns_cleanup; cleanup' EXIT
mkdir -p "$ETC_NS"
printf 'nameserver 127.0.0.1\noptions timeout:%s attempts:1\n' "$DNS_TIMEOUT_S" >"$ETC_NS/resolv.conf"
printf '127.0.0.1 localhost\n' >"$ETC_NS/hosts"

ip netns exec "${NS[a]}" timeout -k 2 "$(time_left)" python3 "$ROOT/tests/integration/dns_stub.py" \
	127.0.0.1 "$T/dns.log" 90 c-silent.test=silent b-slow.test=192.0.2.99@1.5 \
	>>"$T/dns.out" 2>&1 &
BG_PIDS+=($!)
check "the test DNS server is up" wait_until 10 grep -q ready "$T/dns.log"

node_start a
node_start b
check "ping a -> b" ping_ok a "${OV4[b]}"

# max_gap_ms FILE: the largest time between consecutive replies in `ping -D` output (ms).
max_gap_ms() {
	awk -F'[][]' '/bytes from/ { t = $2 * 1000; if (n++ && t - last > max) max = t - last; last = t }
		END { printf "%d\n", max + 0.5 }' "$1"
}

# 1. SIGHUP adding a peer whose name the DNS server never answers.
ip netns exec "${NS[a]}" timeout -k 2 30 ping -D -n -i 0.05 -c 120 -W 2 "${OV4[b]}" \
	>"$T/ping.out" 2>&1 &
ping_pid=$!
BG_PIDS+=($ping_pid)
sleep 1.5
c_pub=$(wg genkey | wg pubkey)
printf '\n[Peer]\nPublicKey = %s\nAllowedIPs = 100.64.0.3/32\nEndpoint = c-silent.test:%s\n' \
	"$c_pub" "$((PORT_BASE + 3))" >>"$(conf_file a)"
mark=$(log_mark a)
kill -HUP "${PID[a]}"
wait "$ping_pid" || true
gap=$(max_gap_ms "$T/ping.out")
replies=$(grep -c 'bytes from' "$T/ping.out" || true)
log "max gap between ping replies across the SIGHUP: $gap ms ($replies of 120 replies)"
check "the reload took place" wait_until 10 has_peer a "$c_pub"
check "the lookup of c-silent.test reached the silent DNS server" grep -q 'query c-silent.test' "$T/dns.log"
assert_le "largest gap between pings through a (ms) while c-silent.test is looked up" \
	"$MAX_GAP_MS" "$gap"
assert_ge "ping replies through a during the reload" 110 "$replies"
# Config mode: the line names the peer by the first 8 characters of its key.
check "a logs the failed lookup once the DNS timeout passes, naming c by its key" \
	wait_until 20 bash -c "tail -c +$((mark + 1)) '$T/a.log' | grep -qF 'peer ${c_pub:0:8}: endpoint c-silent.test:'"
check "a still running" pid_alive "${PID[a]}"

# 2. A late answer for a name a no longer uses must not overwrite the newer endpoint.
conf=$(conf_file a)
sed -i "s/^Endpoint = ${UL[b]}:${PORT[b]}\$/Endpoint = b-slow.test:${PORT[b]}/" "$conf"
check "a's config names b by b-slow.test" grep -q "^Endpoint = b-slow.test:" "$conf"
kill -HUP "${PID[a]}"
check "the lookup of b-slow.test reached the DNS server" \
	wait_until 10 grep -q 'query b-slow.test 1' "$T/dns.log"
sed -i "s/^Endpoint = b-slow.test:${PORT[b]}\$/Endpoint = ${UL[b]}:${PORT[b]}/" "$conf"
kill -HUP "${PID[a]}"
check "the DNS server sent its late answer for b-slow.test" \
	wait_until 15 grep -q 'answer b-slow.test 192.0.2.99' "$T/dns.log"
sleep 1	# time for a to receive and handle the late answer
assert_eq "a's endpoint for b is the newer, literal one" "${UL[b]}:${PORT[b]}" "$(peer_field a b 3)"
check "ping a -> b after the stale answer" ping_ok a "${OV4[b]}"
check "a still running" pid_alive "${PID[a]}"

finish
