#!/usr/bin/env bash
# keys authorized-keys and ssh-config against a roster made with keys in a temp directory:
# allowed, not allowed (node, port), wrong user, node found by its WireGuard key or --node, no
# roster, tampered roster, wrong admin key; ssh-config's bastion and node blocks.
# Usage: KEYS=path/to/keys tests/integration/keys_access_cli.sh   (default: $BUILD/keys)
set -eu

KEYS=${KEYS:-${BUILD:-build}/keys}
if [ ! -f "$KEYS" ] || [ ! -x "$KEYS" ]; then
	echo "keys_access_cli: no keys binary at '$KEYS' (set KEYS=...)" >&2
	exit 1
fi
case $KEYS in /*) ;; *) KEYS=$PWD/$KEYS ;; esac
command -v ssh-keygen >/dev/null || { echo "keys_access_cli: ssh-keygen missing" >&2; exit 1; }

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
sshkey() { ssh-keygen -q -t ed25519 -N '' -C "$1@laptop" -f "$1" && cut -d' ' -f1,2 "$1.pub"; }

# An admin session: two nodes, alice (SSH on web-1 only, db-1 on 5432), bob (everything),
# carol (web group, port 80 only).
mkdir adm
expect_exit 0 "init" k init --network prod --cidr 100.64.0.0/16
umask 077
"$KEYS" genkey >web1.key
"$KEYS" genkey >db1.key
umask 022
expect_exit 0 "enroll web-1" k enroll web-1 --pubkey "$("$KEYS" pubkey <web1.key)" --group web
expect_exit 0 "enroll db-1" k enroll db-1 --pubkey "$("$KEYS" pubkey <db1.key)" --group db
alice=$(sshkey alice)
bob=$(sshkey bob)
carol=$(sshkey carol)
expect_exit 0 "add alice" k engineer add alice --ssh-key alice.pub --allow web-1:22 --allow db-1:5432
expect_exit 0 "add bob" k engineer add bob --ssh-key bob.pub --allow '*'
expect_exit 0 "add carol" k engineer add carol --ssh-key carol.pub --allow group:web:80
expect_exit 0 "publish" k publish
cp adm/roster.signed roster
admin=$(k admin-pubkey)
ak() { "$KEYS" authorized-keys "$@" --roster roster --admin-key "$admin"; }

# 1. Allowed: alice on web-1 (found by its WireGuard key), exactly her key, comment kept.
expect_exit 0 "alice on web-1" ak alice --key-file web1.key
check "alice on web-1: her key" test "$(cat out)" = "$alice alice@laptop"
expect_exit 0 "alice on web-1 by name" ak alice --node web-1
check "alice on web-1 by name: her key" test "$(cat out)" = "$alice alice@laptop"
check "sshd would accept the output" sh -c 'ssh-keygen -l -f out >/dev/null'
# 2. Not allowed: alice on db-1 (port 5432 only), carol anywhere (port 80 only).
expect_exit 0 "alice on db-1" ak alice --key-file db1.key
check "alice on db-1: nothing" test ! -s out
expect_exit 0 "carol on web-1" ak carol --node web-1
check "carol on web-1: nothing" test ! -s out
# 3. bob everywhere.
expect_exit 0 "bob on db-1" ak bob --node db-1
check "bob on db-1: his key" test "$(cat out)" = "$bob bob@laptop"
# 4. Wrong user: login names are engineer names; unknown users get nothing, exit 0.
expect_exit 0 "root on web-1" ak root --node web-1
check "root on web-1: nothing" test ! -s out
expect_exit 0 "Alice on web-1" ak Alice --node web-1
check "Alice on web-1: nothing" test ! -s out
# 5. No roster, an unknown node, a node key not in the roster: exit 1 with a message.
expect_exit 1 "no roster" "$KEYS" authorized-keys alice --roster nonexistent --admin-key "$admin" --node web-1
check "no roster: message" test -s err
check "no roster: no keys" test ! -s out
expect_exit 1 "unknown node" ak alice --node web-9
(umask 077 && "$KEYS" genkey >other.key)
expect_exit 1 "key not enrolled" ak alice --key-file other.key
check "key not enrolled: message" grep -q "not in the roster" err
# 6. Tampered roster (alice given db-1:22 by hand): refused, nothing printed.
sed 's/allow db-1 5432/allow db-1 22/' roster >tampered
check "tampered differs" sh -c '! cmp -s roster tampered'
expect_exit 1 "tampered" "$KEYS" authorized-keys alice --roster tampered --admin-key "$admin" --node db-1
check "tampered: no keys" test ! -s out
check "tampered: says why" grep -q "signature" err
# 7. Another admin key, and no admin key at all: refused.
expect_exit 1 "wrong admin key" "$KEYS" authorized-keys alice --roster roster --admin-key "$("$KEYS" genkey | "$KEYS" pubkey)" --node web-1
expect_exit 1 "no admin key" "$KEYS" authorized-keys alice --roster roster --node web-1
check "no admin key: says so" grep -q "admin-key" err
#    A key file next to the roster is no trust anchor: whoever can write the roster directory
#    plants an admin key there and a roster of their own, even at a lower serial.
(umask 077 && mkdir evil && "$KEYS" -C evil init --network prod --cidr 100.64.0.0/16 >/dev/null)
(umask 077 && "$KEYS" -C evil enroll web-1 --pubkey "$("$KEYS" genkey | "$KEYS" pubkey)" \
	--address 100.64.0.9 >/dev/null)
ssh-keygen -q -t ed25519 -N '' -C mallory@evil -f mallory >/dev/null
"$KEYS" -C evil engineer add mallory --ssh-key mallory.pub --allow web-1:22 >/dev/null
"$KEYS" -C evil publish >/dev/null
cp evil/roster.signed planted
"$KEYS" -C evil admin-pubkey >planted.admin
expect_exit 1 "planted admin key next to the roster, no --admin-key" "$KEYS" authorized-keys mallory --roster planted --node web-1
check "planted: no keys" test ! -s out
check "planted: says there is no trust anchor" grep -q "admin-key" err
expect_exit 1 "planted roster, real --admin-key" "$KEYS" authorized-keys mallory --roster planted --admin-key "$admin" --node web-1
check "planted, real key: no keys" test ! -s out
echo "$admin" >roster.admin
expect_exit 1 "even the real key next to the roster is not an anchor" "$KEYS" authorized-keys alice --roster roster --node web-1
# 8. Revocation: remove alice, publish: her key is gone.
expect_exit 0 "remove alice" k engineer remove alice
expect_exit 0 "publish again" k publish
cp adm/roster.signed roster
expect_exit 0 "alice removed" ak alice --node web-1
check "alice removed: nothing" test ! -s out
expect_exit 2 "usage" "$KEYS" authorized-keys

# 9. ssh-config: the bastion block and a node block with the nodes bob may SSH to.
expect_exit 0 "ssh-config bob" k ssh-config bob --bastion bastion.example.com:2222
check "ssh-config: bastion block" grep -qx 'Host prod-bastion' out
check "ssh-config: HostName" grep -qx $'\tHostName bastion.example.com' out
check "ssh-config: Port" grep -qx $'\tPort 2222' out
check "ssh-config: User" test "$(grep -c $'^\tUser bob$' out)" = 2
check "ssh-config: nodes" grep -qx 'Host db-1 web-1' out
check "ssh-config: ProxyJump" grep -qx $'\tProxyJump prod-bastion' out
check "ssh -G understands it" sh -c 'ssh -T -G -F out web-1 </dev/null 2>/dev/null | grep -qx "proxyjump prod-bastion"'
expect_exit 0 "ssh-config carol" k ssh-config carol --bastion 203.0.113.10
check "carol: port 22 default" grep -qx $'\tPort 22' out
check "carol: no SSH node" grep -q 'no node allows carol' out
check "carol: no node block" test "$(grep -c ProxyJump out)" = 0
expect_exit 0 "ssh-config --user" k ssh-config bob --bastion '[2001:db8::1]:2200' --user ops
check "--user: node login" grep -qx $'\tUser ops' out
check "--user: v6 bastion" grep -qx $'\tHostName 2001:db8::1' out
expect_exit 1 "ssh-config unknown engineer" k ssh-config alice --bastion b.example.com
expect_exit 1 "ssh-config hostile bastion" k ssh-config bob --bastion $'b.example.com\nProxyCommand x'
expect_exit 2 "ssh-config without --bastion" k ssh-config bob
# The bastion's host key pinned: a known_hosts file for the alias, the snippet names it.
ssh-keygen -q -t ed25519 -N '' -C bastion -f hostkey
expect_exit 0 "ssh-config --bastion-host-key" k ssh-config bob --bastion b.example.com \
	--bastion-host-key hostkey.pub --known-hosts "$PWD/kh"
check "pin: known_hosts line for the alias, no comment" \
	test "$(cat kh)" = "prod-bastion $(cut -d' ' -f1-2 hostkey.pub)"
check "pin: HostKeyAlias" grep -qx $'\tHostKeyAlias prod-bastion' out
check "pin: UserKnownHostsFile" grep -qx $'\tUserKnownHostsFile '"$PWD/kh" out
check "pin: StrictHostKeyChecking yes" grep -qx $'\tStrictHostKeyChecking yes' out
check "pin: ssh -G understands it" sh -c 'ssh -T -G -F out prod-bastion </dev/null 2>/dev/null | grep -qx "stricthostkeychecking true"'
expect_exit 0 "pin: ~/ is the home directory" env HOME="$PWD" "$KEYS" -C adm ssh-config bob \
	--bastion b.example.com --bastion-host-key hostkey.pub --known-hosts '~/kh2'
check "pin: ~/kh2 written, named as given" sh -c "test -s kh2 && grep -qx \"$(printf '\t')UserKnownHostsFile ~/kh2\" out"
expect_exit 1 "pin: a private key as --bastion-host-key is refused" k ssh-config bob --bastion b.example.com \
	--bastion-host-key hostkey --known-hosts "$PWD/kh3"
check "pin: refused naming file:line" grep -q '^keys: hostkey:1: not an SSH public host key' err
check "pin: nothing written" test ! -e kh3
expect_exit 2 "pin: --bastion-host-key without --known-hosts" k ssh-config bob --bastion b.example.com \
	--bastion-host-key hostkey.pub
expect_exit 1 "pin: hostile --known-hosts path" k ssh-config bob --bastion b.example.com \
	--bastion-host-key hostkey.pub --known-hosts $'kh\nProxyCommand x'

# 10. Prefix allow lines: hosts inside a gateway's routed subnets (BMCs), and nodes by overlay
# address.  Only prefixes inside a subnet or the overlay are accepted; a revoke drops those
# of the revoked gateway; ssh-config jumps to the subnet hosts, authorized-keys lets dave in
# on the node whose overlay address his prefix covers.
umask 077
"$KEYS" genkey >gw.key
umask 022
expect_exit 0 "enroll gw" k enroll gw --pubkey "$("$KEYS" pubkey <gw.key)" \
	--subnet 100.100.1.0/24 --subnet 100.100.2.0/25
dave=$(sshkey dave)
expect_exit 1 "allow a prefix nobody routes" k engineer add dave --ssh-key dave.pub --allow 100.100.3.0/24:22
check "the refusal names the rule" grep -q "allow names prefix 100.100.3.0/24 that is inside no node's subnet nor the overlay cidr" err
expect_exit 1 "allow a non-canonical prefix" k engineer add dave --ssh-key dave.pub --allow 100.100.1.1/24:22
check "the refusal shows the grammar" grep -q "a prefix such as 100.100.1.0/24" err
check "nothing written" sh -c '! grep -q dave adm/roster'
web1=$(k show web-1 --json | sed -n 's/.*"addresses": \["\([0-9.]*\)".*/\1/p')
expect_exit 0 "add dave" k engineer add dave --ssh-key dave.pub --allow 100.100.1.0/24:22 \
	--allow 100.100.2.0/25:22 --allow 100.100.1.9/32:623 --allow "$web1/32:22"
check "roster: prefix allow, canonical" grep -qx $'\tallow 100.100.1.0/24 22' adm/roster
expect_exit 0 "publish with prefixes" k publish
expect_exit 0 "ssh-config dave" k ssh-config dave --bastion bastion.example.com
check "ssh-config: web-1 by its overlay address prefix" grep -qx 'Host web-1' out
check "ssh-config: the /24 as a pattern" grep -qx 'Host 100.100.1.\*' out
check "ssh-config: the /25 named, no pattern" grep -q '^# 100.100.2.0/25: no ssh_config pattern' out
check "ssh-config: port 623 not an SSH host" sh -c '! grep -q "100.100.1.9" out'
check "ssh -G: a subnet host jumps" sh -c 'ssh -T -G -F out 100.100.1.7 </dev/null 2>/dev/null | grep -qx "proxyjump prod-bastion"'
cp adm/roster.signed roster
expect_exit 0 "authorized-keys: dave on web-1 (overlay prefix)" ak dave --node web-1
check "dave's key on web-1" test "$(cat out)" = "$dave dave@laptop"
expect_exit 0 "authorized-keys: dave not on db-1" ak dave --node db-1
check "no key for dave on db-1" test ! -s out
expect_exit 0 "revoke gw" k revoke gw
check "revoke: the gateway's prefixes dropped, named" grep -q "dropped dave's allow 100.100.1.0/24:22" out
check "revoke: the overlay prefix kept" grep -q "allow $web1/32 22" adm/roster
expect_exit 0 "publish after the revoke" k publish

echo "keys_access_cli: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
