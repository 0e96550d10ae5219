#!/usr/bin/env bash
# keys roster CLI: a whole admin session in a temp directory — init, enroll, duplicates refused
# with nothing changed, list/show/diff (text and --json), publish, verify (tampered, chain after
# rotate-admin, unrelated key), rotate, revoke, engineers, node-config, status, push (through a
# fake scp that records its command line) and usage errors.
# Usage: KEYS=path/to/keys tests/integration/keys_roster_cli.sh   (default: $BUILD/keys)
set -eu

KEYS=${KEYS:-${BUILD:-build}/keys}
if [ ! -f "$KEYS" ] || [ ! -x "$KEYS" ]; then
	echo "keys_roster_cli: no keys binary at '$KEYS' (set KEYS=...)" >&2
	exit 1
fi
case $KEYS in /*) ;; *) KEYS=$PWD/$KEYS ;; esac
for tool in python3 ssh-keygen sha256sum; do
	command -v "$tool" >/dev/null || { echo "keys_roster_cli: $tool missing" >&2; exit 1; }
done

tmp=$(mktemp -d)
cleanup() { rm -rf "$tmp"; }
trap cleanup EXIT
cd "$tmp"

passed=0
failed=0
ok() { passed=$((passed + 1)); }
bad() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }
check() { local name=$1; shift; if "$@"; then ok; else bad "$name"; fi; }
# expect_exit CODE NAME CMD...: stdout -> out, stderr -> err.
expect_exit() {
	local want=$1 name=$2 rc=0
	shift 2
	"$@" >out 2>err || rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else bad "$name: exit $rc, want $want ($(head -c 300 err))"; fi
}
k() { "$KEYS" -C adm "$@"; }
sums() { sha256sum adm/* | sort; }
# unchanged NAME CMD...: CMD fails with exit 1, says why on stderr, and changes no file.
unchanged() {
	local name=$1 before
	shift
	before=$(sums)
	expect_exit 1 "$name" "$@"
	check "$name: message on stderr" test -s err
	check "$name: admin directory unchanged" test "$before" = "$(sums)"
}
json_ok() { python3 -m json.tool <out >/dev/null 2>&1; }
# jq-less JSON queries: jget 'expression on d' < out
jget() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)" <out; }
pubkey() { "$KEYS" genkey | "$KEYS" pubkey; }

# 1. init: admin key 0600, working roster, roster.signed 0644 at serial 1.
expect_exit 0 "init" k init --network prod --cidr 100.64.0.0/16 --cidr6 fd00:1234::/48
check "init: admin.key 0600" test "$(stat -c %a adm/admin.key)" = 600
check "init: roster.signed 0644" test "$(stat -c %a adm/roster.signed)" = 644
check "init: serial 1" grep -qx 'serial 1' adm/roster.signed
check "init: signed" grep -q '^signature ' adm/roster.signed
check "init: working roster unsigned" test "$(grep -c '^signature' adm/roster)" = 0
admin0=$(k admin-pubkey)
check "admin-pubkey is the roster's admin" grep -qx "admin $admin0" adm/roster.signed
unchanged "init twice refused" k init --network prod --cidr 100.64.0.0/16
expect_exit 1 "init: bad cidr" "$KEYS" -C other init --network prod --cidr 100.64.0.1/16
check "init: bad cidr leaves no directory" test ! -e other
expect_exit 1 "init: bad network name" "$KEYS" -C other init --network Prod --cidr 10.0.0.0/8
check "init: bad name leaves no directory" test ! -e other

# 2. Enroll three nodes: lowest free addresses unless --address is given.
key_web1=$(pubkey); key_web2=$(pubkey); key_db1=$(pubkey)
expect_exit 0 "enroll web-1" k enroll web-1 --pubkey "$key_web1" --endpoint 192.0.2.1:51820 --group web
check "web-1 got the first addresses" grep -qx 'enrolled web-1 100.64.0.1 fd00:1234::1' out
expect_exit 0 "enroll db-1 with --address" k enroll db-1 --pubkey "$key_db1" --address 100.64.0.50 \
	--address fd00:1234::50 --subnet 10.20.0.0/16 --group db --endpoint '[2001:db8::3]:51820'
check "db-1 kept its addresses" grep -qx 'enrolled db-1 100.64.0.50 fd00:1234::50' out
expect_exit 0 "enroll web-2" k enroll web-2 --pubkey "$key_web2" --group web
check "web-2 got the next free addresses" grep -qx 'enrolled web-2 100.64.0.2 fd00:1234::2' out
check "working roster lists 3 nodes" test "$(grep -c '^node ' adm/roster)" = 3

# 3. Duplicates and bad values are refused, naming the problem, changing nothing.
unchanged "duplicate name" k enroll web-1 --pubkey "$(pubkey)"
check "duplicate name: message" grep -q "node 'web-1' is already enrolled" err
unchanged "duplicate key" k enroll web-3 --pubkey "$key_db1"
check "duplicate key: message" grep -q "already enrolled as node 'db-1'" err
unchanged "address in use" k enroll web-3 --pubkey "$(pubkey)" --address 100.64.0.50
unchanged "address outside cidr" k enroll web-3 --pubkey "$(pubkey)" --address 10.9.9.9
unchanged "bad public key" k enroll web-3 --pubkey not-a-key
unchanged "bad endpoint" k enroll web-3 --pubkey "$(pubkey)" --endpoint 192.0.2.9
unchanged "subnet host bits" k enroll web-3 --pubkey "$(pubkey)" --subnet 10.30.0.1/16
unchanged "subnet overlaps" k enroll web-3 --pubkey "$(pubkey)" --subnet 10.20.128.0/24
# A subnet holding a node's endpoint would route that node's tunnel packets into the tunnel.
unchanged "subnet contains web-1's endpoint" k enroll web-3 --pubkey "$(pubkey)" --subnet 192.0.2.0/25
check "subnet contains an endpoint: names both" grep -q \
	"subnet 192.0.2.0/25 of node 'web-3' contains endpoint 192.0.2.1 of node 'web-1'" err
unchanged "endpoint inside db-1's subnet" k enroll web-3 --pubkey "$(pubkey)" --endpoint 10.20.9.9:51820
check "endpoint inside a subnet: names both" grep -q \
	"subnet 10.20.0.0/16 of node 'db-1' contains endpoint 10.20.9.9 of node 'web-3'" err
unchanged "endpoint inside the overlay" k enroll web-3 --pubkey "$(pubkey)" --endpoint 100.64.9.9:51820
check "endpoint inside the overlay: message" grep -q "endpoint 100.64.9.9:51820 is inside the overlay cidr" err
unchanged "bad node name" k enroll Web_3 --pubkey "$(pubkey)"

# 4. list / show / diff, text and JSON.
expect_exit 0 "list" k list
check "list: three nodes" test "$(grep -cE '^(web-1|web-2|db-1) ' out)" = 3
expect_exit 0 "list --json" k list --json
check "list --json is JSON" json_ok
check "list --json: 3 nodes, sorted" test "$(jget '",".join(n["name"] for n in d["nodes"])')" = "db-1,web-1,web-2"
check "list --json: db-1 subnet" test "$(jget 'd["nodes"][0]["subnets"][0]')" = 10.20.0.0/16
expect_exit 0 "show db-1" k show db-1
check "show: key" grep -qx "	key $key_db1" out
check "show: endpoint" grep -qx '	endpoint \[2001:db8::3\]:51820' out
expect_exit 0 "show --json" k show web-2 --json
check "show --json is JSON" json_ok
check "show --json: addresses" test "$(jget '" ".join(d["node"]["addresses"])')" = "100.64.0.2 fd00:1234::2"
expect_exit 1 "show unknown" k show nope
expect_exit 0 "diff" k diff
check "diff: three added" test "$(grep -c '^+ node ' out)" = 3
expect_exit 0 "diff --json" k diff --json
check "diff --json is JSON" json_ok
check "diff --json: added" test "$(jget '",".join(d["nodes"]["added"])')" = "db-1,web-1,web-2"

# 5. publish -> serial 2; verify like a node.
expect_exit 0 "publish" k publish
check "publish prints serial 2" test "$(cat out)" = 2
check "roster.signed serial 2" grep -qx 'serial 2' adm/roster.signed
check "roster.signed 0644 after publish" test "$(stat -c %a adm/roster.signed)" = 644
expect_exit 0 "diff after publish" k diff
check "diff after publish: nothing" grep -q '^no changes since serial 2' out
expect_exit 0 "verify" k verify adm/roster.signed --admin-key "$admin0"
check "verify: OK serial 2" grep -q '^OK serial 2 network prod' out
expect_exit 0 "verify --json" k verify adm/roster.signed --admin-key "$admin0" --json
check "verify --json is JSON" json_ok
check "verify --json: ok" test "$(jget 'd["ok"] and d["serial"] == 2')" = True
echo "$admin0" >admin0.pub
expect_exit 0 "verify with a key file" k verify adm/roster.signed --admin-key admin0.pub
# Tamper: one byte of the body changes (web-1's first address .1 -> .7).
sed 's/^\taddress 100\.64\.0\.1$/\taddress 100.64.0.7/' adm/roster.signed >tampered
check "tamper changed the file" test "$(cmp -l adm/roster.signed tampered | wc -l)" = 1
expect_exit 1 "verify tampered" k verify tampered --admin-key "$admin0"
check "verify tampered: reason" grep -q 'signature' err
expect_exit 1 "verify tampered --json" k verify tampered --admin-key "$admin0" --json
check "verify tampered --json is JSON" json_ok
check "verify tampered --json: not ok" test "$(jget 'd["ok"]')" = False
head -c 100 adm/roster.signed >truncated
expect_exit 1 "verify truncated" k verify truncated --admin-key "$admin0"

# 6. Rotate a node key, revoke a node: diff shows both.
key_web1b=$(pubkey)
expect_exit 0 "rotate web-1" k rotate web-1 --pubkey "$key_web1b"
unchanged "rotate to a key in use" k rotate web-1 --pubkey "$key_db1"
unchanged "rotate to the same key" k rotate web-1 --pubkey "$key_web1b"
unchanged "rotate unknown node" k rotate nope --pubkey "$(pubkey)"
expect_exit 0 "revoke web-2" k revoke web-2
unchanged "revoke unknown node" k revoke web-2
expect_exit 0 "diff after rotate+revoke" k diff
check "diff: web-1 re-keyed" grep -qx '~ node web-1 (key changed)' out
check "diff: web-2 removed" grep -qx -- '- node web-2' out
expect_exit 0 "diff --json after rotate+revoke" k diff --json
check "diff --json: rekeyed+removed" test "$(jget 'd["nodes"]["rekeyed"] + d["nodes"]["removed"]')" = "['web-1', 'web-2']"

# 7. Engineers: an ssh-keygen key, allows on a node and a group.
ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f alice >/dev/null
expect_exit 0 "engineer add" k engineer add alice --ssh-key alice.pub --allow db-1:22 --allow group:web:80-443
check "roster holds alice's key" grep -qF "	ssh-key $(cut -d' ' -f1-2 alice.pub) alice@laptop" adm/roster
expect_exit 0 "show alice" k show alice
check "show alice: fingerprint as ssh-keygen" grep -qF "$(ssh-keygen -lf alice.pub | cut -d' ' -f2)" out
check "show alice: allows" test "$(grep -c '^	allow ' out)" = 2
expect_exit 0 "show alice --json" k show alice --json
check "show alice --json is JSON" json_ok
unchanged "engineer add twice" k engineer add alice --ssh-key alice.pub --allow db-1
unchanged "engineer allow unknown node" k engineer add bob --ssh-key alice.pub --allow nowhere:22
echo "ssh-ed25519 AAAAnotbase64!!" >junk.pub
unchanged "engineer bad ssh key" k engineer add bob --ssh-key junk.pub --allow db-1
unchanged "engineer missing key file" k engineer add bob --ssh-key missing.pub --allow db-1
# FIDO (sk-*) keys: well-formed, but the bastion cannot take them: refused with the reason.
ssh-keygen -q -t ecdsa -b 256 -N '' -f ec >/dev/null
python3 - alice.pub ec.pub <<'PY' >sk.pub
import base64, struct, sys
def s(b): return struct.pack(">I", len(b)) + b
def fields(blob):
    out = []
    while blob:
        n = struct.unpack(">I", blob[:4])[0]; out.append(blob[4:4 + n]); blob = blob[4 + n:]
    return out
ed = fields(base64.b64decode(open(sys.argv[1]).read().split()[1]))
ec = fields(base64.b64decode(open(sys.argv[2]).read().split()[1]))
for t, body in ((b"sk-ssh-ed25519@openssh.com", s(ed[1])),
                (b"sk-ecdsa-sha2-nistp256@openssh.com", s(ec[1]) + s(ec[2]))):
    print(t.decode(), base64.b64encode(s(t) + body + s(b"ssh:")).decode(), "bob@token")
PY
head -n 1 sk.pub >sk-ed.pub
tail -n 1 sk.pub >sk-ec.pub
for f in sk-ed sk-ec; do
	unchanged "engineer $f key" k engineer add bob --ssh-key $f.pub --allow db-1
	check "engineer $f key: says FIDO, file and line" grep -q "$f.pub:1: sk-.* is a FIDO security key" err
done
# Revoking a node an engineer may reach drops the allow lines naming it (on a copy: db-1 stays
# here), says so, and keeps the engineer's other lines.
cp -a adm adm-revoke
expect_exit 0 "revoke a node an engineer may reach" "$KEYS" -C adm-revoke revoke db-1
check "revoke: alice's allow on db-1 dropped, said so" grep -qx "dropped alice's allow db-1:22" out
check "revoke: no allow names db-1" test "$(grep -c 'allow db-1' adm-revoke/roster)" = 0
check "revoke: alice keeps her other allow" grep -qx '	allow group:web 80-443' adm-revoke/roster
rm -rf adm-revoke
expect_exit 0 "diff: engineer" k diff
check "diff: + engineer alice" grep -qx '+ engineer alice' out
ssh-keygen -q -t ed25519 -N '' -C bob -f bob >/dev/null
expect_exit 0 "engineer add bob" k engineer add bob --ssh-key bob.pub --allow '*'
expect_exit 0 "engineer remove bob" k engineer remove bob
unchanged "engineer remove unknown" k engineer remove bob
check "bob gone" test "$(grep -c '^engineer bob' adm/roster)" = 0
expect_exit 0 "publish 3" k publish
check "publish prints serial 3" test "$(cat out)" = 3

# 8. rotate-admin: old secret kept 0600, the chain verifies from the ORIGINAL key.
expect_exit 0 "rotate-admin" k rotate-admin
check "old admin key kept 0600" test "$(stat -c %a adm/admin.key.old.1)" = 600
admin1=$(k admin-pubkey)
check "admin key changed" test "$admin1" != "$admin0"
expect_exit 0 "diff after rotate-admin" k diff
check "diff: admin key" grep -q "^~ admin key $admin0 -> $admin1" out
expect_exit 0 "publish 4" k publish
check "publish prints serial 4" test "$(cat out)" = 4
check "endorsement recorded" test "$(grep -c "^endorse $admin0 $admin1 " adm/roster.signed)" = 1
expect_exit 0 "verify chain from the original key" k verify adm/roster.signed --admin-key "$admin0"
check "verify chain: serial 4" grep -q '^OK serial 4' out
expect_exit 0 "verify with the new key" k verify adm/roster.signed --admin-key "$admin1"
"$KEYS" -C other init --network prod --cidr 100.64.0.0/16 >/dev/null
stranger=$("$KEYS" -C other admin-pubkey)
expect_exit 1 "verify with an unrelated key" k verify adm/roster.signed --admin-key "$stranger"
expect_exit 1 "verify another network's roster" k verify other/roster.signed --admin-key "$admin0"
expect_exit 0 "rotate-admin twice" k rotate-admin
check "second old key" test -f adm/admin.key.old.2
expect_exit 0 "publish 5" k publish
expect_exit 0 "verify two-link chain" k verify adm/roster.signed --admin-key "$admin0"

# 9. node-config and status.
expect_exit 0 "node-config" k node-config db-1 --listen-port 51999
check "node-config: [Interface]" grep -qx '\[Interface\]' out
check "node-config: key file" grep -qx 'PrivateKeyFile = /var/lib/warren/wg0.key' out
check "node-config: port" grep -qx 'ListenPort = 51999' out
check "node-config: roster" grep -qx 'Roster = /var/lib/warren/roster' out
check "node-config: admin key" grep -qx "AdminKey = $(k admin-pubkey)" out
expect_exit 0 "node-config defaults to the endpoint port" k node-config db-1 --roster-path /srv/r
check "node-config: endpoint port" grep -qx 'ListenPort = 51820' out
check "node-config: roster path" grep -qx 'Roster = /srv/r' out
expect_exit 1 "node-config unknown node" k node-config nope
expect_exit 1 "node-config relative path" k node-config db-1 --private-key-file wg0.key
expect_exit 0 "status" "$KEYS" status --node --roster adm/roster.signed
check "status: serial 5" grep -qx 'serial 5' out
check "status: network" grep -qx 'network prod' out
expect_exit 0 "status --json" "$KEYS" status --node --roster adm/roster.signed --json
check "status --json is JSON" json_ok
check "status --json: serial" test "$(jget 'd["serial"]')" = 5
expect_exit 1 "status of a missing roster" "$KEYS" status --node --roster missing

# 9b. Expiry and renewal, on a copy (adm stays at serial 5).  --renew re-signs exactly what is
# published and never launders a file: a roster.signed restored from an older publish, or
# edited after signing, is refused with nothing changed.
cp -a adm adm-renew
kr() { "$KEYS" -C adm-renew "$@"; }
check "publish wrote an expires line" grep -q '^expires 20' adm-renew/roster.signed
expect_exit 0 "engineer add carol, not published" kr engineer add carol --ssh-key bob.pub --allow db-1:22
expect_exit 0 "publish --renew" kr publish --renew
check "publish --renew: serial 6" test "$(cat out)" = 6
check "publish --renew: carol not published" test "$(grep -c '^engineer carol' adm-renew/roster.signed)" = 0
check "publish --renew: says the edit stays unpublished" grep -q 'unpublished changes stay unpublished' err
expect_exit 0 "diff after --renew" kr diff
check "diff after --renew: carol still pending" grep -qx '+ engineer carol' out
expect_exit 0 "verify after --renew" kr verify adm-renew/roster.signed --admin-key "$admin0"
check "verify shows the expiry" grep -q ' expires 20' out
cp adm/roster.signed stale.signed
expect_exit 0 "publish carol" kr publish
cp stale.signed adm-renew/roster.signed
sums_r() { sha256sum adm-renew/* | sort; }
before=$(sums_r)
expect_exit 1 "publish --renew of a restored older roster.signed" kr publish --renew
check "... says it is not the last published" grep -q 'not the last published roster' err
check "... nothing changed" test "$before" = "$(sums_r)"
kr publish --force >/dev/null 2>&1
sed -i 's/^\tallow db-1 22$/\tallow * 1-65535/' adm-renew/roster.signed
before=$(sums_r)
expect_exit 1 "publish --renew of an edited roster.signed" kr publish --renew
check "... says it does not verify" grep -q 'does not verify under this directory' err
check "... nothing changed" test "$before" = "$(sums_r)"
expect_exit 0 "publish --valid none" kr publish --valid none
check "... warns that it never expires" grep -q 'never expires' err
expect_exit 0 "list after --valid none" kr list
check "... list says the published roster never expires" grep -q 'published roster serial .* never expires: renew it' err
expect_exit 0 "publish --valid 2d" kr publish --valid 2d
expect_exit 0 "list right after a 2-day publish" kr list
check "... no renewal warning yet (the margin is at most a quarter of the validity: 12 h)" \
	test "$(grep -c 'renew it' err)" = 0
expect_exit 1 "publish --valid 0" kr publish --valid 0
expect_exit 2 "publish --valid 1x" kr publish --valid 1x
expect_exit 2 "engineer set --until without --allow" kr engineer set carol --disallow db-1:22 --until +1h
expect_exit 0 "engineer set --allow with --until" kr engineer set carol --allow web-1:22 --until +1h
expect_exit 1 "engineer set --allow of a line carol has" kr engineer set carol --allow db-1:22 --until +2h
check "... names the line as it is (no until)" grep -q 'already has allow db-1:22 (to re-date' err
expect_exit 0 "show carol" kr show carol
check "show: the until" grep -qE 'allow web-1:22 until 20[0-9-]+T[0-9:]+Z$' out

# 10. push through a fake scp and ssh that record their arguments (one line per call), act on
# a fake remote filesystem ($tmp/remote/HOST/...) and fail for hosts named fail*.  The copy goes
# to a temporary name beside the target and is renamed into place: the node never sees a
# half-written Roster.new.
mkdir bin
cat >bin/scp <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >>"$SCP_LOG"
for a; do src=$last; last=$a; done
case $last in fail*) exit 1 ;; esac
host=${last%%:*} path=${last#*:}
mkdir -p "$REMOTE_ROOT/$host$(dirname "$path")" && cp "$src" "$REMOTE_ROOT/$host$path"
EOF
cat >bin/ssh <<'EOF'
#!/bin/sh
printf '%s\n' "$*" >>"$SSH_LOG"
while [ "$1" != -- ]; do shift; done
host=$2; shift 2
case "$1 $2 $3" in "mv -f --" | "mv -fT --") ;; *) exit 99 ;; esac
exec mv "$2" -- "$REMOTE_ROOT/$host$4" "$REMOTE_ROOT/$host$5"
EOF
chmod +x bin/scp bin/ssh
export SCP_LOG=$tmp/scp.log SSH_LOG=$tmp/ssh.log REMOTE_ROOT=$tmp/remote
: >scp.log
: >ssh.log
expect_exit 0 "push two hosts" env PATH="$tmp/bin:$PATH" "$KEYS" -C adm push n1 root@n2
check "push: two scp runs" test "$(wc -l <scp.log)" = 2
check "push: BatchMode, a temporary target beside the real one" grep -qxe "-o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR -- $tmp/adm/roster.signed n1:/var/lib/warren/\.roster\.new\.push-[0-9]*" scp.log
check "push: user@host" grep -q ' root@n2:/var/lib/warren/\.roster\.new\.push-[0-9]*$' scp.log
check "push: renamed into place with ssh mv" grep -qxe "-o BatchMode=yes -o ConnectTimeout=10 -o LogLevel=ERROR -- n1 mv -fT -- /var/lib/warren/\.roster\.new\.push-[0-9]* /var/lib/warren/roster\.new" ssh.log
check "push: the node holds exactly the signed roster" cmp -s adm/roster.signed remote/n1/var/lib/warren/roster.new
check "push: no temporary left" test "$(ls -A remote/n1/var/lib/warren)" = roster.new
check "push: reports each host" test "$(grep -c ': ok (serial' err)" = 2
: >scp.log
: >ssh.log
expect_exit 0 "push with options" env PATH="$tmp/bin:$PATH" "$KEYS" -C adm push n1 \
	--remote-path /srv/roster.new --ssh-option Port=2222
check "push: options passed" grep -q -- '-o Port=2222 -o LogLevel=ERROR -- .* n1:/srv/\.roster\.new\.push-[0-9]*$' scp.log
check "push: options passed to ssh" grep -q -- '-o Port=2222 -o LogLevel=ERROR -- n1 mv -fT -- /srv/' ssh.log
: >scp.log
: >ssh.log
expect_exit 1 "push: one host fails" env PATH="$tmp/bin:$PATH" "$KEYS" -C adm push n1 fail1 n3
check "push: every host tried" test "$(wc -l <scp.log)" = 3
check "push: failure named" grep -q 'fail1: FAILED: scp exit 1' err
check "push: no rename for the failed copy" test "$(wc -l <ssh.log)" = 2
# A directory at the target: the copy is not moved into it (reported ok, never read).
rm -rf remote/n1
mkdir -p remote/n1/var/lib/warren/roster.new
: >scp.log
: >ssh.log
expect_exit 1 "push: a directory at the remote path fails" env PATH="$tmp/bin:$PATH" "$KEYS" -C adm push n1
check "push: nothing moved into the directory" test -z "$(ls -A remote/n1/var/lib/warren/roster.new)"
check "push: the failed rename is named" grep -q 'n1: FAILED: ssh mv exit' err
: >scp.log
: >ssh.log
expect_exit 1 "push: host looking like an option" env PATH="$tmp/bin:$PATH" "$KEYS" -C adm push -- -oProxyCommand=x
expect_exit 1 "push: bad remote path" env PATH="$tmp/bin:$PATH" "$KEYS" -C adm push n1 --remote-path 'x;rm'
expect_exit 1 "push: bad ssh option" env PATH="$tmp/bin:$PATH" "$KEYS" -C adm push n1 --ssh-option 'ProxyCommand=sh -c x'
check "push: nothing run for bad arguments" test ! -s scp.log -a ! -s ssh.log
# One host named twice: its two copies would share one temporary name and race (pushed in
# parallel); refused before anything runs, naming the host.
expect_exit 1 "push: a host named twice" env PATH="$tmp/bin:$PATH" "$KEYS" -C adm push n1 n2 n1
check "push: the repeated host named" grep -q "host 'n1' named twice" err
check "push: nothing run for a repeated host" test ! -s scp.log -a ! -s ssh.log

# 11. Usage errors exit 2 with the usage on stderr; --help exits 0.
usage_error() {
	local name=$1
	shift
	expect_exit 2 "$name" "$KEYS" -C adm "$@"
	check "$name: usage" grep -q 'Usage:' err
}
usage_error "enroll without --pubkey" enroll web-9
usage_error "enroll without a name" enroll --pubkey "$(pubkey)"
usage_error "unknown option" list --frobnicate
usage_error "option missing its value" enroll web-9 --pubkey
usage_error "verify without --admin-key" verify adm/roster.signed
usage_error "show without a name" show
usage_error "list extra argument" list extra
usage_error "publish extra argument" publish now
usage_error "engineer without subcommand" engineer
usage_error "engineer unknown subcommand" engineer promote alice
usage_error "engineer add without --allow" engineer add carol --ssh-key alice.pub
usage_error "status extra argument" status extra
usage_error "status --node extra argument" status --node extra
usage_error "push without hosts" push
usage_error "init without --cidr" init --network x
usage_error "no subcommand after -C DIR"
expect_exit 2 "-C without a directory" "$KEYS" -C
for cmd in init enroll rotate revoke list show diff engineer rotate-admin publish verify push \
    node-config status admin-pubkey; do
	expect_exit 0 "$cmd --help" "$KEYS" "$cmd" --help
	check "$cmd --help: usage" grep -q "Usage: keys $cmd" out
done
expect_exit 0 "engineer add --help" "$KEYS" engineer add --help
check "engineer add --help: usage" grep -q 'Usage: keys engineer add' out
expect_exit 0 "help lists the roster commands" "$KEYS" help
check "help: every command" test "$(grep -cE '^  (init|enroll|rotate|revoke|list|show|diff|engineer|rotate-admin|publish|verify|push|node-config|status|admin-pubkey) ' out)" = 15

echo "keys_roster_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
