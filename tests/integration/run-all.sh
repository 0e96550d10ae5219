#!/usr/bin/env bash
# Runs every tests/integration/*.sh except lib.sh and this file, each under a deadline, prints
# each result and ends with exactly one line "integration: N passed, M failed".
# Exit status 77 from a test means skipped: under IMPL=wireguard-go (tunneld-only tests) it is
# listed but counted in neither total; in the real run (IMPL=tunneld, CI) it counts as a failure.  Exits 1 if any test failed.
set -u

DIR=$(cd "$(dirname "$0")" && pwd)
export BUILD=${BUILD:-build}
TEST_TIMEOUT=${TEST_TIMEOUT:-240}
ONLY=${1:-}

passed=0 failed=0 failed_names=
for t in "$DIR"/*.sh; do
	name=$(basename "$t")
	case $name in lib.sh|run-all.sh) continue ;; esac
	[ -z "$ONLY" ] || [ "$name" = "$ONLY" ] || [ "$name" = "$ONLY.sh" ] || continue
	echo "== $name"
	start=$SECONDS
	# Background + our own watchdog, so we know the test's PID and can sweep what it leaves
	# behind (its namespaces are named wt<PID>...) if it has to be killed.
	bash "$t" </dev/null &
	pid=$!
	waited=0
	while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((TEST_TIMEOUT * 10)) ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL $name: still running after ${TEST_TIMEOUT}s, killed"
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	rc=0
	wait "$pid" || rc=$?
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^wt${pid}" || true); do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
		echo "   (swept leftover namespace $ns)"
	done
	secs=$((SECONDS - start))
	case $rc in
	0)  passed=$((passed + 1)); echo "-- $name: PASS (${secs}s)" ;;
	77) if [ "${IMPL:-tunneld}" = tunneld ]; then
		# The real run (CI) skips nothing: a missing tool is an install bug.
		failed=$((failed + 1)); failed_names="$failed_names $name"
		echo "-- $name: FAIL, skipped in the tunneld run (${secs}s)"
	    else
		echo "-- $name: SKIP (${secs}s)"
	    fi ;;
	*)  failed=$((failed + 1)); failed_names="$failed_names $name"
	    echo "-- $name: FAIL, exit $rc (${secs}s)" ;;
	esac
done

[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
