#!/usr/bin/env bash
# Runs unit test programs JOBS at a time, prints each one's output whole when it ends (with its
# time), and ends with "unit: N passed, M failed".  Exits 1 if any failed.
# Usage: JOBS=2 tests/run-unit.sh build/tests/test_a build/tests/test_b ...   (make unit)
set -u

JOBS=${JOBS:-1}
case $JOBS in [1-9]) ;; *) echo "run-unit: JOBS must be 1..9, not '$JOBS'" >&2; exit 2 ;; esac
RES=$(mktemp -d /tmp/run-unit.XXXXXX)
trap 'rm -rf "$RES"' EXIT

# one I BIN: runs BIN, output to $RES/I.out, then "STATUS SECONDS" to $RES/I.rc.
one() {
	local start=$SECONDS rc=0
	"$2" </dev/null >"$RES/$1.out" 2>&1 || rc=$?
	echo "$rc $((SECONDS - start))" >"$RES/$1.rc.tmp"
	mv "$RES/$1.rc.tmp" "$RES/$1.rc"
}

passed=0 failed=0 failed_names=
declare -A RUNNING=()	# index -> binary
reap() {
	local i rc secs
	while [ "${#RUNNING[@]}" -ge "$1" ]; do
		for i in "${!RUNNING[@]}"; do
			[ -f "$RES/$i.rc" ] || continue
			read -r rc secs <"$RES/$i.rc"
			echo "== ${RUNNING[$i]}"
			cat "$RES/$i.out"
			if [ "$rc" -eq 0 ]; then
				passed=$((passed + 1))
				echo "-- ${RUNNING[$i]}: PASS (${secs}s)"
			else
				failed=$((failed + 1))
				failed_names="$failed_names ${RUNNING[$i]##*/}"
				echo "-- ${RUNNING[$i]}: FAIL, exit $rc (${secs}s)"
			fi
			unset "RUNNING[$i]"
		done
		[ "${#RUNNING[@]}" -lt "$1" ] || sleep 0.1
	done
}

t0=$SECONDS
i=0
for bin in "$@"; do
	reap "$JOBS"
	i=$((i + 1))
	one "$i" "$bin" &
	RUNNING[$i]=$bin
done
reap 1
wait
[ -z "$failed_names" ] || echo "failed:$failed_names"
echo "time: $((SECONDS - t0))s for $# programs, JOBS=$JOBS"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
