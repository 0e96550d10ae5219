#!/usr/bin/env bash
# keys --json is valid UTF-8 JSON that round-trips text (python3's json module): an engineer
# whose SSH key comment is "José Müller 😀" reads back exactly so from `keys show --json` and
# `keys list --json`, and a comment holding a C1 control (valid UTF-8, not printable) is
# escaped in the human `keys show` output.  keys' errors go through the logger: an invalid
# subcommand carrying an ESC is printed escaped, on one line.
. "$(dirname "$0")/lib.sh"

need_keys
mkdir -p -m 0700 "$ADMIN"
keys_admin init --network "${RUN}net" --cidr 100.64.0.0/16 >"$T/keys.out" 2>"$T/keys.err"
comment=$'Jos\u00e9 M\u00fcller \U0001f600'
ssh-keygen -q -t ed25519 -N '' -C "$comment" -f "$T/jose"
keys_admin engineer add jose --ssh-key "$T/jose.pub" --allow '*' >>"$T/keys.out" 2>>"$T/keys.err"
ssh-keygen -q -t ed25519 -N '' -C $'csi\u009b2J' -f "$T/csi"
keys_admin engineer add csi --ssh-key "$T/csi.pub" --allow '*' >>"$T/keys.out" 2>>"$T/keys.err"

json_comment() {
	/usr/bin/python3 -c '
import json, sys
doc = json.loads(sys.stdin.buffer.read().decode("utf-8"))
e = doc["engineer"] if "engineer" in doc else [x for x in doc["engineers"] if x["name"] == "jose"][0]
sys.stdout.buffer.write(e["ssh_keys"][0]["comment"].encode("utf-8"))'
}
out=$(keys_admin show jose --json | json_comment || true)
assert_eq "keys show jose --json: the comment round-trips through python3 json" "$comment" "$out"
out=$(keys_admin list --json | json_comment || true)
assert_eq "keys list --json: the comment round-trips through python3 json" "$comment" "$out"
out=$(keys_admin show jose || true)
assert_match "keys show jose: the UTF-8 comment stays readable" "$comment" "$out"
out=$(keys_admin show csi || true)
assert_match "keys show csi: the C1 CSI is escaped" 'csi\\302\\2332J$' "$out"

rc=0; err=$(keys_admin $'bogus\e[2J' 2>&1 >/dev/null) || rc=$?
assert_eq "an invalid subcommand exits 2" 2 "$rc"
assert_eq "keys' error is escaped on one line" "keys: invalid subcommand 'bogus\\033[2J'" \
	"$(printf '%s\n' "$err" | head -n 1)"
finish
