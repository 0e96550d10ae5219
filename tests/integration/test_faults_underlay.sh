#!/usr/bin/env bash
# The underlay goes down for 30 s in the middle of a 100 MiB transfer through the tunnel and
# comes back: the transfer resumes and arrives intact (sha256), with nothing restarted (same
# tunneld, same TCP connection).  The endpoints cap TCP's retransmission backoff at 5 s
# (net.ipv4.tcp_rto_max_ms) so that the stream retries soon after the link is back instead of
# up to 2 minutes later: that measures the tunnel's recovery, not Linux's backoff.
# run-all: early (50 s in CI, 30 of them an outage of the underlay: started among the first,
# its wait overlaps the others' work instead of joining the other gossip and fault tests'
# waits, which start together in alphabetical order)
. "$(dirname "$0")/lib.sh"

DOWN_S=${UNDERLAY_DOWN_S:-30}
SIDE=${UNDERLAY_SIDE:-a}	# whose link goes down: a (the sender) or b
node_add a 1
node_add b 2
node_peer a b
node_peer b a
for n in a b; do
	ip netns exec "${NS[$n]}" sysctl -qw net.ipv4.tcp_rto_max_ms=5000 2>/dev/null ||
		log "net.ipv4.tcp_rto_max_ms not available: TCP may retry late after the outage"
done
node_start a
node_start b
check "tunnel up: ping a -> b" ping_ok a "${OV4[b]}"
pid_a=${PID[a]} pid_b=${PID[b]}
mark_a=$(log_mark a)

rx_mib() { echo $(( $(if_stat b rx_bytes) >> 20 )); }
# 1 MiB every 0.05 s: the stream lasts at least 5 s, so the outage falls in its middle.
xfer_start a b "${OV4[b]}" 100 0.05
base=$(rx_mib)
wait_until 30 bash -c "[ \$(( \$(ip netns exec ${NS[b]} cat /sys/class/net/${IFN[b]}/statistics/rx_bytes) >> 20 )) -ge $((base + 20)) ]" ||
	fail "the transfer did not get 20 MiB through before the outage"
ip -n "${NS[$SIDE]}" link set ul0 down
log "$SIDE's underlay down at $(( $(rx_mib) - base )) MiB received, for $DOWN_S s"
sleep 2
during0=$(if_stat b rx_bytes)
sleep $((DOWN_S - 2))
during1=$(if_stat b rx_bytes)
ip -n "${NS[$SIDE]}" link set ul0 up
t_up=$(now_ms)
assert_le "nothing crossed while the underlay was down (bytes)" 0 $((during1 - during0))
wait_until 30 bash -c "[ \$(ip netns exec ${NS[b]} cat /sys/class/net/${IFN[b]}/statistics/rx_bytes) -gt $during1 ]" ||
	fail "nothing crossed within 30 s of the underlay coming back"
assert_le "the stream resumed after the underlay came back within (ms)" 10000 $(( $(now_ms) - t_up ))
xfer_finish
lines=$(log_since a "$mark_a" | wc -l)
log "a logged $lines lines meanwhile: $(log_since a "$mark_a" | sort | uniq -c | sort -rn | head -n 3 | tr -s ' ' | tr '\n' ';')"
assert_le "a's log stays quiet through the outage (lines)" 50 "$lines"
check "a's tunneld still runs" pid_alive "$pid_a"
check "b's tunneld still runs" pid_alive "$pid_b"
check "ping a -> b after the outage" ping_ok a "${OV4[b]}"
finish
