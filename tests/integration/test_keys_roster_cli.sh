#!/usr/bin/env bash
# Runs keys_roster_cli.sh (the roster workflow: init, enroll, publish, push, node-config,
# rotate, revoke and their refusals) with this build's keys, so that it is part of `make test`.
. "$(dirname "$0")/lib.sh"

need_keys
out=$(KEYS="$KEYS_BIN" timeout -k 2 120 bash "$ROOT/tests/integration/keys_roster_cli.sh" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" | grep '^FAIL' || true
assert_eq "keys_roster_cli.sh ($(printf '%s\n' "$out" | tail -n 1))" 0 "$rc"
finish
