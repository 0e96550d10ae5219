#!/usr/bin/env bash
# keys CLI: output formats cross-checked against wireguard-tools' `wg`, bad input, usage errors.
# Usage: KEYS=path/to/keys tests/integration/keys_cli.sh   (default: $BUILD/keys, BUILD=build)
set -eu

KEYS=${KEYS:-${BUILD:-build}/keys}
if [ ! -f "$KEYS" ] || [ ! -x "$KEYS" ]; then
	echo "keys_cli: no keys binary at '$KEYS' (set KEYS=...)" >&2
	exit 1
fi
case $KEYS in /*) ;; *) KEYS=$PWD/$KEYS ;; esac
command -v wg >/dev/null || { echo "keys_cli: wg (wireguard-tools) not installed" >&2; exit 1; }

tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
# expect_exit CODE NAME CMD...: runs CMD (stdin inherited), stdout -> out, stderr -> err.
expect_exit() {
	local want=$1 name=$2 rc=0
	shift 2
	"$@" >out 2>err || rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else bad "$name: exit $rc, want $want"; fi
}

b64re='^[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$'

# 1. genkey prints one canonical 44-character line.
"$KEYS" genkey >k 2>/dev/null
if [ "$(wc -l <k)" -eq 1 ] && grep -Eq "$b64re" k; then ok; else bad "genkey format: $(cat k)"; fi

# 2. keys genkey | keys pubkey == wg pubkey, and wg accepts our private keys.
for i in 1 2 3 4 5; do
	"$KEYS" genkey 2>/dev/null | tee "k$i" | "$KEYS" pubkey >"p$i"
	if [ "$(wg pubkey <"k$i")" = "$(cat "p$i")" ] && grep -Eq "$b64re" "p$i"; then ok
	else bad "keys pubkey differs from wg pubkey for key $i"; fi
done

# 3. wg genkey | keys pubkey == wg pubkey, byte for byte (including the newline).
for i in 1 2 3 4 5; do
	wg genkey 2>/dev/null >"w$i"
	"$KEYS" pubkey <"w$i" >ours
	wg pubkey <"w$i" >theirs
	if cmp -s ours theirs; then ok; else bad "pubkey of wg key $i differs"; fi
done

# 4. Known answer (RFC 7748 Alice).
printf 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\n' >alice
if [ "$("$KEYS" pubkey <alice)" = "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=" ]; then ok
else bad "known-answer pubkey"; fi

# 5. Trailing whitespace and blank lines are accepted, as wg does.
printf 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=\r\n\n  \n' >alice_ws
if [ "$("$KEYS" pubkey <alice_ws)" = "$(wg pubkey <alice_ws)" ]; then ok; else bad "trailing ws"; fi

# 6. genkey into a file others can read warns (as wg genkey does); with umask 077 it does not.
(umask 022; "$KEYS" genkey >loose 2>warn)
if grep -q 'warning' warn; then ok; else bad "no warning for a 0644 key file"; fi
(umask 077; "$KEYS" genkey >tight 2>warn)
if [ ! -s warn ] && [ "$(stat -c %a tight)" = 600 ]; then ok; else bad "warning for a 0600 key file"; fi
# ... and to a pipe it never warns.
"$KEYS" genkey 2>warn | cat >/dev/null
if [ ! -s warn ]; then ok; else bad "warning on a pipe"; fi

# 7. Bad input: exit 1, a message on stderr, nothing on stdout.
bad_input() {
	local name=$1
	expect_exit 1 "$name" "$KEYS" pubkey <input
	if [ -s err ] && [ ! -s out ]; then ok; else bad "$name: stderr/stdout wrong"; fi
}
printf 'garbage\n' >input; bad_input "garbage"
: >input; bad_input "empty stdin"
printf 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo= extra\n' >input; bad_input "trailing junk"
printf 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=\n' >input; bad_input "non-canonical"
printf 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo\n' >input; bad_input "43 chars"
printf 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25L-o=\n' >input; bad_input "url-safe alphabet"
head -c 5000 /dev/zero | tr '\0' 'A' >input; bad_input "huge input"
# wg agrees that the non-canonical key is invalid.
printf 'dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCp=\n' >input
if ! wg pubkey <input >/dev/null 2>&1; then ok; else bad "wg accepted the non-canonical key"; fi

# 8. Usage errors: exit 2 with the usage on stderr.
usage_error() {
	local name=$1
	shift
	expect_exit 2 "$name" "$KEYS" "$@" </dev/null
	if grep -q 'Usage:' err && [ ! -s out ]; then ok; else bad "$name: no usage on stderr"; fi
}
usage_error "no subcommand"
usage_error "unknown subcommand" frobnicate
usage_error "genkey extra argument" genkey extra
usage_error "pubkey extra argument" pubkey extra
usage_error "help extra argument" help extra

# 9. Help: exit 0 with the usage on stdout, listing every subcommand.
for args in "--help" "help" "-h"; do
	expect_exit 0 "keys $args" "$KEYS" $args
	if grep -q genkey out && grep -q pubkey out; then ok; else bad "keys $args: usage"; fi
done
for sub in genkey pubkey; do
	expect_exit 0 "keys $sub --help" "$KEYS" "$sub" --help
	if grep -q "Usage: keys $sub" out; then ok; else bad "keys $sub --help: usage"; fi
done

echo "keys_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
