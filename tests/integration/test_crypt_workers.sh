#!/usr/bin/env bash
# Crypto workers (--crypto-workers; 2 here unless CRYPT_TEST_WORKERS says otherwise) under
# load: a peer removed and added back 60 times while its packets are in flight both ways (a
# streams to b and b floods a: full batches to and from b are in flight when b goes), a
# transfer to another peer intact through it all, and a daemon stopped with batches in
# flight exiting cleanly.  In the sanitizer builds a use of a removed peer or of a freed batch
# is reported and fails it.
. "$(dirname "$0")/lib.sh"

# Its own knob: make test gives every TSan test TUNNELD_CRYPTO_WORKERS=1, this one runs two.
export TUNNELD_CRYPTO_WORKERS=${CRYPT_TEST_WORKERS:-2}

node_add a 1
node_add b 2
node_add c 3
node_peer a b
node_peer b a
node_peer a c
node_peer c a
node_start a
node_start b
node_start c

check "ping v4 overlay a -> b" ping_ok a "${OV4[b]}"
check "ping v4 overlay a -> c" ping_ok a "${OV4[c]}"
if [ "$TUNNELD_CRYPTO_WORKERS" -gt 0 ]; then
	check "a runs $TUNNELD_CRYPTO_WORKERS crypto workers" \
		grep -q "crypto on $TUNNELD_CRYPTO_WORKERS worker thread" "$T/a.log"
fi

# b floods a (bounded in count and time); a answers every echo.
ip netns exec "${NS[b]}" timeout -k 2 40 ping -n -q -f -c 200000 -s 1300 "${OV4[a]}" \
	>"$T/flood.out" 2>&1 &
flood=$!
BG_PIDS+=($flood)
# A stream to b that the removals cut (not checked; its processes are reaped at the end).
xfer_start a b "${OV4[b]}" 400
to_b=$XFER_N
xfer_start a c "${OV4[c]}" 60
sleep 0.5
for i in $(seq 60); do
	nsx a wg set "${IFN[a]}" peer "${PUB[b]}" remove
	sleep 0.02
	nsx a wg set "${IFN[a]}" peer "${PUB[b]}" allowed-ips "${OV4[b]}/32,${OV6[b]}/128" \
		endpoint "${UL[b]}:${PORT[b]}"
	sleep 0.08
done
xfer_finish
kill "$flood" "${XF_TX[$to_b]}" "${XF_RX[$to_b]}" 2>/dev/null || true
wait "$flood" 2>/dev/null || true
check "a alive after 60 removals of b under load" pid_alive "${PID[a]}"
check "b alive" pid_alive "${PID[b]}"
# The file again (routes included); a has no session with the new b and starts one (b still
# holds the old one and would wait for its own rekey timer).
node_reload a
check "ping v4 overlay a -> b once b is back" ping_ok a "${OV4[b]}"
check "ping v4 overlay a -> c still" ping_ok a "${OV4[c]}"

# Stopped with batches in flight: a transfer and a flood through a, then SIGTERM.
ip netns exec "${NS[b]}" timeout -k 2 20 ping -n -q -f -c 50000 -s 1300 "${OV4[a]}" \
	>/dev/null 2>&1 &
BG_PIDS+=($!)
xfer_start c a "${OV4[a]}" 200
sleep 1
rc=0
node_stop a || rc=$?
assert_eq "a stopped under load exits 0" 0 "$rc"
check "a's interface is gone" bash -c "! ip -n '${NS[a]}' link show '${IFN[a]}' >/dev/null 2>&1"

finish
