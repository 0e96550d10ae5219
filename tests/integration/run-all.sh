#!/usr/bin/env bash
# Runs integration tests, each under a deadline, prints each one's output and result with its
# time, and ends with exactly one line "integration: N passed, M failed".
#
#   run-all.sh                    every tests/integration/*.sh but lib*.sh and this file
#   run-all.sh test_a [test_b.sh] only those
#   run-all.sh build: build-san: build-tsan:test_a
#                                 one pool of jobs over several builds: BUILD:TEST runs TEST
#                                 against BUILD (build/, build-san/, ...), BUILD: every test;
#                                 a bare TEST is $BUILD:TEST.  The waits of one build's tests
#                                 overlap the others' (make test runs its three builds so)
#   JOBS=2 run-all.sh             two tests at a time (tests are isolated: namespaces,
#                                 interfaces and files are named after their PID); a test
#                                 file with the line "# run-all: alone" (timing-sensitive)
#                                 runs with no other test beside it (those run first);
#                                 one with "# run-all: early" (long: a package build, or
#                                 half a minute of waiting on a clock) starts before the others,
#                                 so that it overlaps their work instead of ending the run;
#                                 one with "# run-all: after OTHER.sh" starts only once
#                                 OTHER.sh (the same build's, if it is in the run) has
#                                 ended, the tests behind it in the queue starting first
#                                 (it waits for what OTHER.sh makes, e.g. the package cache,
#                                 without holding one of the JOBS places meanwhile)
#   BUILD=build-san run-all.sh    a test file with the line "# run-all: no-sanitizer" (one that
#                                 runs no daemon of ours it could check: packaging, playbooks)
#                                 is left out of the sanitizer builds' runs, and listed
#   ENV_build_tsan="A=1 B=2"      the tests of build-tsan/ run with A and B in their
#                                 environment (ENV_ and the build's name, "-" as "_")
#
# Each test's time is printed with the CPU time it and everything it started used (a cpuacct
# cgroup per test, where the machine has cgroup v1), and the run's total.
# A test's output is printed whole when it ends.  Exit status 77 from a test means skipped:
# under IMPL=wireguard-go (tunneld-only tests) it is listed but counted in neither total; in
# the real run (IMPL=tunneld, CI) it counts as a failure.  A sanitizer report from any process
# of a test (lib_sanitizer.sh: one report directory per test) fails it whatever its status.
# Exits 1 if any test failed.
set -u

DIR=$(cd "$(dirname "$0")" && pwd)
. "$DIR/lib_builtins.sh"
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
# Per-test CPU accounting: a cpuacct (cgroup v1) directory for this run, if there is one.
CG_ROOT=
if [ -d /sys/fs/cgroup/cpuacct ] && mkdir "/sys/fs/cgroup/cpuacct/run-all.$$" 2>/dev/null; then
	CG_ROOT=/sys/fs/cgroup/cpuacct/run-all.$$
fi
# cg_remove DIR: moves what is still in the cgroup DIR (a process the test left) up, removes it.
cg_remove() {
	local p
	while read -r p; do echo "$p" >"${1%/*}/../cgroup.procs" 2>/dev/null; done <"$1/cgroup.procs"
	rmdir "$1" 2>/dev/null
}
on_exit() {
	local p
	for p in "${RUNNING[@]}"; do kill -TERM "$p" 2>/dev/null; done
	wait
	rm -rf "$RES"
	[ -z "$CG_ROOT" ] || { for p in "$CG_ROOT"/*/; do [ -d "$p" ] && cg_remove "${p%/}"; done; rmdir "$CG_ROOT"; } 2>/dev/null
}
trap on_exit EXIT
trap 'exit 130' INT TERM HUP

# run_one KEY BUILD FILE: runs one test against BUILD with its watchdog; writes $RES/KEY.out
# (everything it printed, then any sanitizer report) and, last, $RES/KEY.rc ("STATUS SECONDS
# CPU-SECONDS").
run_one() {
	local key=$1 build=$2 t=$3 out=$RES/$1.out sd=$RES/$1.san start=$SECONDS pid waited=0 rc=0 \
		ns p limit cg cpu name env_var kv
	# "# run-all: timeout SECONDS" in a test file: its own watchdog (a test that builds the
	# package and a Debian root first); TEST_TIMEOUT otherwise.
	limit=$(sed -n 's/^# run-all: timeout \([0-9][0-9]*\).*/\1/p' "$t" | head -n 1)
	limit=${limit:-$TEST_TIMEOUT}
	# Our own watchdog, so we know the test's PID and can sweep what it leaves behind (its
	# namespaces are named wt<PID>...) if it has to be killed.
	# In a cpuacct cgroup of its own where the machine has one (cgroup v1): the CPU time of the
	# test and of everything it started, daemons included, is reported beside its wall time.
	cg=
	if [ -n "$CG_ROOT" ] && mkdir "$CG_ROOT/$key" 2>/dev/null; then cg=$CG_ROOT/$key; fi
	env_var=ENV_${build//[^A-Za-z0-9]/_}
	name=$(basename "$t")
	[ "$build" = build ] || name="$build:$name"
	( [ -z "$cg" ] || echo "$BASHPID" >"$cg/cgroup.procs"
	  export BUILD=$build
	  # When our watchdog stops it (lib.sh's time_left bounds what must live as long as the test).
	  export TEST_DEADLINE=$(( $(date +%s) + limit ))
	  for kv in ${!env_var:-}; do export "${kv?}"; done
	  san_env_setup "$sd"; exec bash "$t" ) </dev/null >"$out" 2>&1 &
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
	cpu=-
	if [ -n "$cg" ]; then
		read -r cpu <"$cg/cpuacct.usage" 2>/dev/null && cpu=$((cpu / 1000000000)) || cpu=-
		cg_remove "$cg"
	fi
	echo "$rc $((SECONDS - start)) $cpu" >"$RES/$key.rc.tmp"
	mv "$RES/$key.rc.tmp" "$RES/$key.rc"
}

passed=0 failed=0 failed_names= CPU_TOTAL=0

# report KEY: prints a finished test's output and result, counts it.
report() {
	local key=$1 name=${LABEL[$1]} rc secs cpu
	read -r rc secs cpu <"$RES/$key.rc"
	secs="${secs}s"
	[ "${cpu:--}" = - ] || { secs="$secs, CPU ${cpu}s"; CPU_TOTAL=$((CPU_TOTAL + cpu)); }
	# When it ended, counted from the start of the run: where the time goes (docs/testing.md).
	secs="$secs, ended at $((SECONDS - t0))s"
	echo "== $name"
	cat "$RES/$key.out"
	case $rc in
	0)  passed=$((passed + 1)); echo "-- $name: PASS (${secs})" ;;
	77) if [ "${IMPL:-tunneld}" = tunneld ]; then
		# The real run (CI) skips nothing: a missing tool is an install bug.
		failed=$((failed + 1)); failed_names="$failed_names $name"
		echo "-- $name: FAIL, skipped in the tunneld run (${secs})"
	    else
		echo "-- $name: SKIP (${secs})"
	    fi ;;
	*)  failed=$((failed + 1)); failed_names="$failed_names $name"
	    echo "-- $name: FAIL, exit $rc (${secs})" ;;
	esac
}

# reap MAX: waits until fewer than MAX tests run, reporting those that end.
reap() {
	local key
	while [ "${#RUNNING[@]}" -ge "$1" ]; do
		for key in "${!RUNNING[@]}"; do
			[ -f "$RES/$key.rc" ] || continue
			wait "${RUNNING[$key]}" 2>/dev/null
			unset "RUNNING[$key]"
			report "$key"
		done
		[ "${#RUNNING[@]}" -lt "$1" ] || sleep 0.2
	done
}

# The jobs: "BUILD TEST-FILE" pairs, from the arguments (BUILD:TEST, BUILD:, TEST; none: every
# test against $BUILD), in the order given, each test once per build.
jobs=()
add_build_tests() {	# add_build_tests BUILD [TEST]
	local t name
	for t in "$DIR"/*.sh; do
		name=$(basename "$t")
		case $name in lib*.sh|run-all.sh) continue ;; esac
		[ -z "${2:-}" ] || [ "$name" = "$2" ] || [ "$name" = "$2.sh" ] || continue
		if [ "$1" != build ] && grep -q '^# run-all: no-sanitizer' "$t"; then
			echo "NOT RUN $1:$name: no-sanitizer"
			continue
		fi
		jobs+=("$1 $t")
	done
}
if [ "$#" -eq 0 ]; then set -- "$BUILD:"; fi
for a in "$@"; do
	case $a in
	*:*) add_build_tests "${a%%:*}" "${a#*:}" ;;
	*) add_build_tests "$BUILD" "$a" ;;
	esac
done

t0=$SECONDS
n=${#jobs[@]}
declare -A LABEL=()	# key -> what the report calls the job
alone=() early=() shared=()
builds=" "
for j in ${jobs[@]+"${jobs[@]}"}; do
	b=${j%% *} t=${j#* }
	case $builds in *" $b "*) ;; *) builds="$builds$b " ;; esac
	if grep -q '^# run-all: alone' "$t"; then alone+=("$j")
	elif grep -q '^# run-all: early' "$t"; then early+=("$j")
	else shared+=("$j"); fi
done
shared=(${early[@]+"${early[@]}"} ${shared[@]+"${shared[@]}"})
# AFTER: job -> the key of the job it waits for ("# run-all: after OTHER.sh", the same build's
# OTHER.sh), for those whose OTHER.sh is in the run.
declare -A JOB_KEY=() AFTER=() AFTER_OF=()
for j in ${jobs[@]+"${jobs[@]}"}; do JOB_KEY[$(basename "${j%% *}").$(basename "${j#* }")]=1; done
while IFS=: read -r f a; do
	a=${a#\# run-all: after }
	AFTER_OF[$f]=${a%% *}
done < <(grep -H '^# run-all: after ' "$DIR"/*.sh 2>/dev/null)
for j in ${shared[@]+"${shared[@]}"}; do
	a=${AFTER_OF[${j#* }]:-}
	[ -z "$a" ] || [ -z "${JOB_KEY[$(basename "${j%% *}").$a]:-}" ] || AFTER[$j]=$(basename "${j%% *}").$a
done
# ready JOB: true unless the job it waits for has not ended.
ready() { [ -z "${AFTER[$1]:-}" ] || [ -f "$RES/${AFTER[$1]}.rc" ]; }
# start JOB: runs it in the background (a key free of slashes names its files).
start() {
	local b=${1%% *} t=${1#* } key
	key=$(basename "$b").$(basename "$t")
	LABEL[$key]=$(basename "$t")
	[ "$b" = build ] || LABEL[$key]="$b:${LABEL[$key]}"
	run_one "$key" "$b" "$t" &
	RUNNING[$key]=$!
}
# The tests that must run alone first, one after the other (no waiting for others to drain),
# then the rest JOBS at a time.
for j in ${alone[@]+"${alone[@]}"}; do
	start "$j"
	reap 1
done
# The first ready job of the queue starts; if none is (all wait for a running one), the next
# one to end frees them.
while [ "${#shared[@]}" -gt 0 ]; do
	reap "$JOBS"
	next=
	for i in "${!shared[@]}"; do
		if ready "${shared[$i]}"; then next=$i; break; fi
	done
	if [ -z "$next" ] && [ "${#RUNNING[@]}" -gt 0 ]; then
		reap "${#RUNNING[@]}"
		continue
	fi
	start "${shared[${next:-0}]}"
	unset "shared[${next:-0}]"
	shared=(${shared[@]+"${shared[@]}"})
done
reap 1
[ "$n" -gt 0 ] || echo "run-all: no test matches: $*"

[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "time: $((SECONDS - t0))s for $n tests, JOBS=$JOBS, BUILD=$(b=${builds# }; b=${b% }; echo "${b// /,}"), CPU ${CPU_TOTAL}s, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "integration: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$n" -gt 0 ]
