#!/usr/bin/env bash
# Runs keys_cli.sh (keys genkey/pubkey against wg, output formats, bad input,
# usage errors) with this build's keys, so that it is part of `make test`.
. "$(dirname "$0")/lib.sh"

need_keys
out=$(KEYS="$KEYS_BIN" timeout -k 2 120 bash "$ROOT/tests/integration/keys_cli.sh" 2>&1) && rc=0 || rc=$?
printf '%s\n' "$out" | grep '^FAIL' || true
assert_eq "keys_cli.sh ($(printf '%s\n' "$out" | tail -n 1))" 0 "$rc"
finish
