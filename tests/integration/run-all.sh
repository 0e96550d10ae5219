#!/usr/bin/env bash
# Runs integration tests, each under a deadline, prints each one's output and result with its
# time, and ends with exactly one line "integration: N passed, M failed".
#
#   run-all.sh                    every tests/integration/*.sh but lib*.sh and this file
#   run-all.sh test_a [test_b.sh] only those
#   JOBS=2 run-all.sh             two tests at a time (tests are isolated: namespaces,
#                                 interfaces and files are named after their PID); a test
#                                 file with the line "# run-all: alone" (timing-sensitive)
#                                 runs with no other test beside it (those run first)
#   BUILD=build-san run-all.sh    a test file with the line "# run-all: no-sanitizer" (one that
#                                 runs no daemon of ours it could check: packaging, playbooks)
#                                 is left out of the sanitizer builds' runs, and listed
#
# A test's output is printed whole when it ends.  Exit status 77 from a test means skipped:
# under IMPL=wireguard-go (tunneld-only tests) it is listed but counted in neither total; in
# the real run (IMPL=tunneld, CI) it counts as a failure.  A sanitizer report from any process
# of a test (lib_sanitizer.sh: one report directory per test) fails it whatever its status.
# Exits 1 if any test failed.
set -u

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/lib_sanitizer.sh"
export BUILD=${BUILD:-build}
TEST_TIMEOUT=${TEST_TIMEOUT:-240}
JOBS=${JOBS:-1}
case $JOBS in [1-9]) ;; *) echo "run-all: JOBS must be 1..9, not '$JOBS'" >&2; exit 2 ;; esac

# Results and report directories; 0711 so that a daemon that dropped root can reach its
# (1777) report directory inside.
RES=$(mktemp -d /tmp/run-all.XXXXXX)
chmod 0711 "$RES"
declare -A RUNNING=()	# name -> pid of its run_one
on_exit() {
	local p
	for p in "${RUNNING[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait
	rm -rf "$RES"
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

# run_one NAME FILE: runs one test with its watchdog; writes $RES/NAME.out (everything it
# printed, then any sanitizer report) and, last, $RES/NAME.rc ("STATUS SECONDS").
run_one() {
	local name=$1 t=$2 out=$RES/$1.out sd=$RES/$1.san start=$SECONDS pid waited=0 rc=0 ns p limit
	# "# run-all: timeout SECONDS" in a test file: its own watchdog (a test that builds the
	# package and a Debian root first); TEST_TIMEOUT otherwise.
	limit=$(sed -n 's/^# run-all: timeout \([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
	limit=${limit:-$TEST_TIMEOUT}
	# Our own watchdog, so we know the test's PID and can sweep what it leaves behind (its
	# namespaces are named wt<PID>...) if it has to be killed.
	( san_env_setup "$sd"; exec bash "$t" ) </dev/null >"$out" 2>&1 &
	pid=$!
	trap 'kill -TERM "$pid" 2>/dev/null' TERM
	while kill -0 "$pid" 2>/dev/null && [ "$waited" -lt $((limit * 10)) ]; do
		sleep 0.1
		waited=$((waited + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		echo "FAIL $name: still running after ${limit}s, killed" >>"$out"
		kill -TERM "$pid" 2>/dev/null
		for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$pid" 2>/dev/null
	fi
	wait "$pid" || rc=$?
	# wt<PID> and a letter: never the namespaces of a test whose PID only starts like ours.
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^wt${pid}[^0-9]" || true); do
		for p in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
		ip netns del "$ns" 2>/dev/null
		echo "   (swept leftover namespace $ns)" >>"$out"
	done
	if ! san_reports "$sd" >>"$out"; then
		echo "FAIL $name: sanitizer report (above)" >>"$out"
		[ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] || rc=1
	fi
	echo "$rc $((SECONDS - start))" >"$RES/$name.rc.tmp"
	mv "$RES/$name.rc.tmp" "$RES/$name.rc"
}

passed=0 failed=0 failed_names=

# report NAME: prints a finished test's output and result, counts it.
report() {
	local name=$1 rc secs
	read -r rc secs <"$RES/$name.rc"
	echo "== $name"
	cat "$RES/$name.out"
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
}

# reap MAX: waits until fewer than MAX tests run, reporting those that end.
reap() {
	local name
	while [ "${#RUNNING[@]}" -ge "$1" ]; do
		for name in "${!RUNNING[@]}"; do
			[ -f "$RES/$name.rc" ] || continue
			wait "${RUNNING[$name]}" 2>/dev/null
			unset "RUNNING[$name]"
			report "$name"
		done
		[ "${#RUNNING[@]}" -lt "$1" ] || sleep 0.2
	done
}

wanted() {
	local a
	[ "$#" -gt 1 ] || return 0
	for a in "${@:2}"; do
		[ "$1" = "$a" ] || [ "$1" = "$a.sh" ] && return 0
	done
	return 1
}

t0=$SECONDS
n=0
alone=() shared=()
for t in "$DIR"/*.sh; do
	name=$(basename "$t")
	case $name in lib*.sh|run-all.sh) continue ;; esac
	wanted "$name" "$@" || continue
	if [ "$BUILD" != build ] && grep -q '^# run-all: no-sanitizer' "$t"; then
		echo "NOT RUN $name: no-sanitizer (BUILD=$BUILD)"
		continue
	fi
	n=$((n + 1))
	if grep -q '^# run-all: alone' "$t"; then alone+=("$t"); else shared+=("$t"); fi
done
# The tests that must run alone first, one after the other (no waiting for others to drain),
# then the rest JOBS at a time.
for t in ${alone[@]+"${alone[@]}"}; do
	name=$(basename "$t")
	run_one "$name" "$t" &
	RUNNING[$name]=$!
	reap 1
done
for t in ${shared[@]+"${shared[@]}"}; do
	name=$(basename "$t")
	reap "$JOBS"
	run_one "$name" "$t" &
	RUNNING[$name]=$!
done
reap 1
[ "$n" -gt 0 ] || echo "run-all: no test matches: $*"

[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "time: $((SECONDS - t0))s for $n tests, JOBS=$JOBS, BUILD=$BUILD, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$n" -gt 0 ]
