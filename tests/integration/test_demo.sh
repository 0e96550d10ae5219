#!/usr/bin/env bash
# `make demo` (tests/demo.sh) runs to its end and every claim it shows holds: it checks each
# one itself (PASS/FAIL lines, exit 1 on a failure); here it must exit 0 with no FAIL, show the
# steps of the story, and finish within the 2 minutes the README promises a new user.
# run-all: no-sanitizer
. "$(dirname "$0")/lib.sh"

need_tunneld
need_keys
need_bastion
need_openssh
t0=$(now_ms)
rc=0
# The demo is a script of its own (its own namespaces, its own cleanup); nothing of ours leaks in.
env -u RUN BUILD="$BUILD" timeout -k 10 150 bash "$ROOT/tests/demo.sh" >"$T/demo.log" 2>&1 </dev/null || rc=$?
ms=$(( $(now_ms) - t0 ))
assert_eq "make demo's script exits 0 ($(grep -m 3 '^FAIL' "$T/demo.log" | tr '\n' ' '))" 0 "$rc"
assert_eq "no claim of the demo failed" 0 "$(grep -c '^FAIL' "$T/demo.log" || true)"
assert_match "it checked its claims" '^demo: [0-9]+ checks passed, 0 failed$' "$(tail -n 1 "$T/demo.log")"
for s in "Two datacenters" "ssh -J alice@bastion web-2" "Rotate web-2's key" "Revoke db-2" "/metrics" \
	"keys status" "keys audit verify" "Demo done"; do
	check "the demo shows: $s" grep -qF -- "$s" "$T/demo.log"
done
assert_le "the demo's run, ms" 120000 "$ms"

finish
