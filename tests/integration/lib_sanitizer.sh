# shellcheck shell=bash
# Sanitizer reports for the integration tests (docs/testing.md, "Sanitizers").  Sourced by
# run-all.sh (one report directory per test) and lib.sh (a test run on its own), never run.
#
# Every process a test starts inherits ASAN_/UBSAN_/TSAN_OPTIONS with log_path in a report
# directory, so a report is a file there whatever the process's stderr was (a daemon log, a
# captured $(...), /dev/null) and whatever its exit status (a test that expects `keys` to fail
# must not pass when it crashed instead).  The directory is mode 1777 because a daemon may
# have dropped root before it reports.  Processes whose environment is wiped (keys
# authorized-keys run by sshd) still print to stderr: san_logs_scan greps the test's logs.
#
# Options: halt on the first ASan or UBSan error (UBSan is fatal anyway, -fno-sanitize-recover);
# leak checking at exit (a daemon stopped with SIGTERM exits through its cleanup and is
# leak-checked; one killed with SIGKILL is not, which is what the kill tests want); TSan goes on
# after a race so that one run lists them all, and exits 66.  Options already in the environment
# come last and win.  Plain builds ignore all of this.

SAN_SUPP=${SAN_SUPP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tsan.supp}
SAN_PATTERN='ERROR: [A-Za-z]+Sanitizer|WARNING: ThreadSanitizer|SUMMARY: [A-Za-z]+Sanitizer|runtime error:'

# san_env_setup DIR: exports the sanitizer options, reports to DIR/{asan,ubsan,tsan}.PID.
san_env_setup() {
	local d=$1
	mkdir -p "$d"
	chmod 1777 "$d"
	export SAN_DIR=$d
	# malloc_context_size=10 (default 30): the allocation and free stacks a report shows stop
	# at 10 frames, and every malloc and free unwinds a third as far.  Measured: the ASan runs
	# of test_keys_admin and test_bastion_acl took 24 CPU-s with 30 and 16 with 10.
	export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:strict_string_checks=1:malloc_context_size=10:log_path=$d/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
	export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$d/ubsan${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}"
	export TSAN_OPTIONS="halt_on_error=0:second_deadlock_stack=1:history_size=4:suppressions=$SAN_SUPP:log_path=$d/tsan${TSAN_OPTIONS:+:$TSAN_OPTIONS}"
}

# san_reports DIR: prints every report in DIR (bounded); returns 1 if there is one.
san_reports() {
	local d=$1 f found=0
	for f in "$d"/*; do
		[ -s "$f" ] || continue
		found=1
		printf 'SANITIZER REPORT %s:\n' "$(basename "$f")"
		head -n 60 "$f" | sed 's/^/     /'
	done
	[ "$found" -eq 0 ]
}

# san_logs_scan DIR: greps the text files under DIR for a sanitizer report; prints the first
# lines of each hit; returns 1 if there is one.  Directories named doc are left out: documentation
# that `make install` put into a test's tree quotes reports (docs/testing.md).
san_logs_scan() {
	local f found=0
	while IFS= read -r f; do
		found=1
		printf 'SANITIZER REPORT in %s:\n' "$f"
		grep -E -A 30 -- "$SAN_PATTERN" "$f" | head -n 60 | sed 's/^/     /'
	done < <(grep -rIlE --exclude-dir=doc -- "$SAN_PATTERN" "$1" 2>/dev/null)
	[ "$found" -eq 0 ]
}
