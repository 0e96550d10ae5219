#!/usr/bin/env bash
# Concurrent jumps lose nothing under load.  500 OpenSSH clients at once run `ssh -W` through
# the bastion to a node service that sends 48 KiB and closes, while two busy loops (bounded,
# 150 s) compete for the CPU; every client must get all 48 KiB, intact, and end by itself (the
# bastion sends EOF and close on the channel, the client ends the connection).  One round.
# run-all: alone (it loads the CPU on purpose: no other test runs beside it)
# run-all: no-sanitizer (CI time: alone, under ASan a round took 41 s of the budget; the
# bastion's session paths run under ASan in the other test_bastion_* tests.  Under ASan on a
# loaded machine 3-5 of 500 clients were reset before the SSH banner: open, issue 10's note)
. "$(dirname "$0")/lib.sh"

need_bastion
PY=/usr/bin/python3
N=${CONCURRENT_N:-500}
# One round in make test (CI time budget: a round takes about 27 s with nothing beside it; five,
# the issue's figure, 127 s); CONCURRENT_ROUNDS=5 gives five.  Until this was fixed it compared
# the absolute $BUILD (lib.sh makes it so) with "build" and ran two rounds where it said five.
ROUNDS=${CONCURRENT_ROUNDS:-1}
bastion_net_init
bastion_nodes_add web-1
eng_add alice web-1:9002
bastion_up "MaxStartups = 1000" "PerSourceMaxStartups = none"	# all from one address

# The node service: 48 KiB (a fixed pattern) to each connection, then close; bounded by the test's own watchdog (time_left).
timeout -k 1 "$(time_left)" ip netns exec "${NS[web-1]}" $PY -c '
import asyncio, sys
DATA = bytes(range(256)) * 192
async def serve(r, w):
    w.write(DATA)
    await w.drain()
    w.close()
async def main():
    srv = await asyncio.start_server(serve, sys.argv[1], 9002, backlog=1024)
    await srv.serve_forever()
asyncio.run(main())
' "${OV4[web-1]}" &
BG_PIDS+=($!)
wait_until 10 listening web-1 9002 || fail "web-1: the payload service is not listening"
$PY -c 'import sys; sys.stdout.buffer.write(bytes(range(256)) * 192)' >"$T/expect"

# Two busy loops, each bounded by timeout (and killed by the cleanup with the test).
for i in 1 2; do
	timeout -k 1 150 sh -c 'while :; do :; done' &
	BG_PIDS+=($!)
done

total_ok=0
for round in $(seq 1 "$ROUNDS"); do
	pids=()
	for i in $(seq 1 "$N"); do
		timeout -k 2 90 ip netns exec "$ENG" ssh -F "$T/ssh/alice.config" -i "$T/ssh/alice" \
			-o ConnectTimeout=60 -W web-1:9002 bastion </dev/null >"$T/c.$i" 2>"$T/c.$i.err" &
		pids+=($!)
	done
	ok=0 bad=0
	for i in $(seq 1 "$N"); do
		rc=0; wait "${pids[$((i - 1))]}" || rc=$?
		if [ $rc -eq 0 ] && cmp -s "$T/expect" "$T/c.$i"; then ok=$((ok + 1))
		elif [ $((bad += 1)) -le 5 ]; then
			log "round $round jump $i: exit $rc, $(wc -c <"$T/c.$i") bytes: $(head -c 200 "$T/c.$i.err" | tr '\n' ' ')"
		fi
	done
	log "round $round: $ok of $N jumps got all 49152 bytes"
	total_ok=$((total_ok + ok))
	rm -f "$T"/c.*
done
[ -z "${CONCURRENT_DEBUG:-}" ] || cp "$T/bastion.log" "$CONCURRENT_DEBUG"
assert_eq "$ROUNDS rounds of $N concurrent jumps under CPU load: every byte delivered" \
	$((ROUNDS * N)) "$total_ok"
check "bastion still running" pid_alive "$BASTION_PID"
check "bastion stops cleanly on SIGTERM" bastion_stop
finish
