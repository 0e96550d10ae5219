#!/usr/bin/env bash
# Proves that the integration harness fails a test on a sanitizer report, whichever way the
# report comes out: run-all.sh and lib.sh (copied, unchanged, with tests/tsan.supp) run small
# tests that start san_fault (tests/sanitizer/san_fault.c, built with SANITIZE=1 and
# SANITIZE=thread) and exit 0 themselves.  Every faulty one must be reported FAIL, the clean
# ones PASS.
# Usage: selftest.sh ASAN_SAN_FAULT TSAN_SAN_FAULT   (make san-selftest)
set -eu

ASAN_BIN=$(realpath "$1")
TSAN_BIN=$(realpath "$2")
SRC=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d /tmp/san-selftest.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/tests/integration"
cp "$SRC/integration/run-all.sh" "$SRC/integration/lib.sh" "$SRC/integration/lib_sanitizer.sh" "$SRC/integration/lib_builtins.sh" \
	"$tmp/tests/integration/"
cp "$SRC/tsan.supp" "$tmp/tests/"

# fake NAME BODY: a test script that runs BODY and exits 0 (as a test whose checks all pass).
fake() {
	printf '#!/usr/bin/env bash\n%s\nexit 0\n' "$2" >"$tmp/tests/integration/$1.sh"
}
# Reports through log_path, whatever happens to stderr and the exit status:
fake test_clean_asan "'$ASAN_BIN' ok"
fake test_uaf "'$ASAN_BIN' uaf 2>/dev/null || true"
fake test_ub "'$ASAN_BIN' ub 2>/dev/null || true"
fake test_leak "'$ASAN_BIN' leak 2>/dev/null || true"
fake test_race "'$TSAN_BIN' race 2>/dev/null || true"
fake test_clean_tsan "'$TSAN_BIN' ok"
# A daemon that leaks, stopped by lib.sh's cleanup with SIGTERM: its leak check at exit runs
# while the test is ending.
fake test_daemon_leak ". \"\$(dirname \"\$0\")/lib.sh\"
'$ASAN_BIN' daemon >\"\$T/d.log\" 2>&1 &
PID[d]=\$!
wait_until 10 grep -q ready \"\$T/d.log\"
pass 'daemon started'
finish"
# A process whose environment was wiped (as sshd runs AuthorizedKeysCommand) prints to stderr,
# here into a log under the lib.sh test's \$T: lib.sh's cleanup greps it.
fake test_lib_log ". \"\$(dirname \"\$0\")/lib.sh\"
env -i '$ASAN_BIN' uaf >>\"\$T/node.log\" 2>&1 || true
pass 'ran san_fault'
finish"
fake test_lib_clean ". \"\$(dirname \"\$0\")/lib.sh\"
env -i '$ASAN_BIN' ok >>\"\$T/node.log\" 2>&1
pass 'ran san_fault'
finish"

out=$(JOBS=2 "$tmp/tests/integration/run-all.sh" 2>&1) && rc=0 || rc=$?
fail=0
expect() {
	if printf '%s\n' "$out" | grep -q -- "^-- $1.sh: $2"; then
		echo "ok: $1 -> $2"
	else
		echo "FAIL: $1 not reported $2"
		fail=1
	fi
}
expect test_clean_asan PASS
expect test_clean_tsan PASS
expect test_lib_clean PASS
for t in test_uaf test_ub test_leak test_race test_daemon_leak test_lib_log; do
	expect "$t" FAIL
done
printf '%s\n' "$out" | grep -q '^integration: 3 passed, 6 failed$' || { echo "FAIL: totals"; fail=1; }
[ "$rc" -eq 1 ] || { echo "FAIL: run-all exit $rc, want 1"; fail=1; }
if [ "$fail" -ne 0 ]; then
	printf '%s\n' "---- run-all output:" "$out"
	exit 1
fi
echo "sanitizer selftest: 11 passed, 0 failed"
