#!/usr/bin/env bash
# Day-2 administration with keys, each step as an operator would type it:
#  - node set / engineer set edit in place (a gateway gains a subnet, an engineer a key) and
#    show up in keys diff; publish signs them;
#  - unpublished changes are said by push and list; publish with nothing to sign says so and
#    keeps the serial (exit 0, the serial on stdout), --force signs anyway;
#  - guard rails: a private key as --pubkey / --ssh-key / --admin-key, an engineer named root,
#    one SSH key on two engineers, an address freed by revoke handed out again, revoking the
#    bastion's node or the last node of an allowed group.
. "$(dirname "$0")/lib.sh"

need_keys
k() { keys_admin "$@" >"$T/out" 2>"$T/err"; }
# refused WHAT CMD...: exit 1 and the working roster untouched.
refused() {
	local what=$1 rc=0; shift
	cp "$ADMIN/roster" "$T/roster.before"
	k "$@" || rc=$?
	assert_eq "$what: exit 1" 1 "$rc"
	check "$what: roster unchanged" cmp -s "$T/roster.before" "$ADMIN/roster"
}
ok() {
	local what=$1 rc=0; shift
	k "$@" || rc=$?
	assert_eq "$what: exit 0" 0 "$rc"
	[ "$rc" = 0 ] || cat "$T/err"
}
pub() { "$KEYS_BIN" genkey | "$KEYS_BIN" pubkey; }
serial() { roster_serial_of "$ADMIN/roster.signed"; }
re() { printf '%s' "$1" | sed 's/[][\\.*^$+?(){}|]/\\&/g'; }	# a literal as an ERE

mkdir -p -m 0700 "$ADMIN"
ok "init" init --network "${RUN}net" --cidr 100.64.0.0/24 --cidr6 fd00:64::/64
ok "enroll gw-1" enroll gw-1 --pubkey "$(pub)" --endpoint 192.0.2.1:51820 --group gw
ok "enroll db-1" enroll db-1 --pubkey "$(pub)" --group db
ok "enroll jump" enroll jump --pubkey "$(pub)" --group bastion
for e in alice bob; do ssh-keygen -q -t ed25519 -N '' -C "$e" -f "$T/$e"; done
ssh-keygen -q -t ed25519 -N '' -C alice-laptop -f "$T/alice2"
ok "engineer add alice" engineer add alice --ssh-key "$T/alice.pub" --allow group:db:22 --allow gw-1:22
ok "publish" publish
s0=$(serial)
gw_addr=$(keys_admin show gw-1 | awk '/address 100/ {print $2}')

# ---- 1. Edit verbs.
ok "node set: a gateway gains a subnet" node set gw-1 --add-subnet 10.20.0.0/16
check "the subnet is in the roster" grep -qx $'\tsubnet 10.20.0.0/16' "$ADMIN/roster"
assert_eq "its address is unchanged" "$gw_addr" "$(keys_admin show gw-1 | awk '/address 100/ {print $2}')"
k diff
assert_match "diff shows the node changed" '^~ node gw-1 \(changed\)' "$(cat "$T/out")"
ok "node set: endpoints replaced, group added" node set gw-1 --endpoint 198.51.100.1:51820 \
	--endpoint '[2001:db8::1]:51820' --add-group edge
assert_eq "endpoints in the order given" "endpoint 198.51.100.1:51820 endpoint [2001:db8::1]:51820" \
	"$(keys_admin show gw-1 | awk '/endpoint/ {printf "%s%s %s", sep, $1, $2; sep=" "}')"
ok "node set: remove an endpoint and a subnet, add one" node set gw-1 \
	--remove-endpoint '[2001:db8::1]:51820' --remove-subnet 10.20.0.0/16 --add-subnet 10.30.0.0/16
check "10.20.0.0/16 gone, 10.30.0.0/16 there" test "$(grep -c $'^\tsubnet' "$ADMIN/roster" || true)" = 1
refused "node set: removing a group it is not in" node set gw-1 --remove-group nosuch
assert_match "says why" "node gw-1 has no group nosuch" "$(cat "$T/err")"
refused "node set: a subnet overlapping the overlay" node set gw-1 --add-subnet 100.64.0.0/25
rc=0; k node set gw-1 --endpoint 192.0.2.9:1 --add-endpoint 192.0.2.8:1 || rc=$?
assert_eq "node set: --endpoint with --add-endpoint is a usage error" 2 "$rc"
rc=0; k node set gw-1 || rc=$?
assert_eq "node set: nothing to change is a usage error" 2 "$rc"
rc=0; k node set --help || rc=$?
assert_eq "node set --help: exit 0" 0 "$rc"
assert_match "node set --help names the options" "--add-subnet" "$(cat "$T/out")"
rc=0; k engineer set --help || rc=$?
assert_match "engineer set --help names the options" "--remove-ssh-key" "$(cat "$T/out")"

ok "engineer set: a second key, one more allow" engineer set alice --add-ssh-key "$T/alice2.pub" \
	--allow 'jump:80-443'
assert_eq "alice has two keys" 2 "$(keys_admin show alice | grep -c ssh-key)"
k diff
assert_match "diff shows the engineer changed" '^~ engineer alice \(changed\)' "$(cat "$T/out")"
fp=$(ssh-keygen -l -E sha256 -f "$T/alice.pub" | awk '{print $2}')
ok "engineer set: the old key removed by its fingerprint" engineer set alice --remove-ssh-key "$fp" \
	--disallow jump:80-443
assert_nomatch "the old key is gone" "$(re "$fp")" "$(keys_admin show alice)"
assert_nomatch "the allow is gone" "jump:80-443" "$(keys_admin show alice)"
refused "engineer set: removing the last key" engineer set alice --remove-ssh-key "$T/alice2.pub"
refused "engineer set: a key alice does not have" engineer set alice --remove-ssh-key "$fp"
refused "engineer set: disallowing a line she does not have" engineer set alice --disallow '*'
refused "engineer set: an allow naming no node" engineer set alice --allow nosuch:22

# ---- 3. Unpublished changes.
ok "publish the edits" publish
s1=$(out=$(cat "$T/out"); echo "$out")
assert_eq "publish prints the next serial" "$((s0 + 1))" "$s1"
cp "$ADMIN/roster.signed" "$T/signed.before"
rc=0; k publish || rc=$?
assert_eq "publish with nothing changed: exit 0" 0 "$rc"
assert_eq "it prints the serial in force" "$s1" "$(cat "$T/out")"
assert_match "it says there is nothing to publish" "nothing to publish" "$(cat "$T/err")"
check "roster.signed untouched" cmp -s "$T/signed.before" "$ADMIN/roster.signed"
k list
assert_nomatch "list: no warning when all is published" "unpublished" "$(cat "$T/err")"
ok "engineer remove alice" engineer remove alice
k list
assert_match "list warns of unpublished changes" \
	"working roster has unpublished changes \\(keys diff\\); published is serial $s1" "$(cat "$T/err")"
rc=0; k push 127.0.0.1 --ssh-option Port=1 --ssh-option ConnectTimeout=2 || rc=$?
assert_match "push warns it pushes the old serial" \
	"working roster has unpublished changes \\(keys diff\\); pushing serial $s1" "$(cat "$T/err")"
ok "publish --force with nothing changed" publish
ok "publish --force signs anyway" publish --force
assert_eq "a new serial" "$((s1 + 2))" "$(cat "$T/out")"
ok "engineer add alice again" engineer add alice --ssh-key "$T/alice2.pub" --allow group:db:22
ok "publish" publish

# ---- 4. Guard rails.
# A private key where a public one belongs (RFC 7748's Alice private key), never echoed.
priv=dwdtCnMYpX08FsFyUbJmRd9ML4frwJkqsXf7pR25LCo=
refused "enroll --pubkey PRIVATE" enroll x-1 --pubkey "$priv"
assert_match "it says it is not a public key" "not a WireGuard public key.*private key" "$(cat "$T/err")"
assert_nomatch "the private key is not echoed" "$priv" "$(cat "$T/err")"
refused "rotate --pubkey PRIVATE" rotate db-1 --pubkey "$priv"
refused "engineer add --ssh-key PRIVATE-KEY-FILE" engineer add carol --ssh-key "$T/bob" --allow '*'
assert_match "it names the private key file" "$T/bob is a private key" "$(cat "$T/err")"
assert_nomatch "no line of it is echoed" "$(sed -n 2p "$T/bob")" "$(cat "$T/err")"
refused "engineer set --add-ssh-key PRIVATE-KEY-FILE" engineer set alice --add-ssh-key "$T/bob"
ssh-keygen -q -t rsa -b 2048 -m PEM -N '' -f "$T/pem"
refused "a PEM private key file" engineer add carol --ssh-key "$T/pem" --allow '*'
rc=0; k verify "$ADMIN/roster.signed" --admin-key "$priv" || rc=$?
assert_eq "verify --admin-key SECRET-LOOKING: exit 1" 1 "$rc"
assert_match "it says it is not an Ed25519 public key" "not an Ed25519 public key" "$(cat "$T/err")"
# A system account as an engineer name.
refused "engineer named root" engineer add root --ssh-key "$T/bob.pub" --allow '*'
assert_match "it says why and how" "system account.*--force" "$(cat "$T/err")"
refused "engineer named sshd" engineer add sshd --ssh-key "$T/bob.pub" --allow '*'
sys=$(awk -F: '$3 > 0 && $3 < 1000 && $1 ~ /^[a-z0-9][a-z0-9.-]*$/ {print $1}' /etc/passwd |
	grep -vxE 'daemon|bin|sys|sync|games|man|lp|mail|news|uucp|proxy|www-data|backup|list|irc|gnats|nobody|sshd|messagebus|polkitd|systemd-.*' | head -n 1 || true)
if [ -n "$sys" ]; then
	refused "engineer named after this machine's system account $sys" \
		engineer add "$sys" --ssh-key "$T/bob.pub" --allow '*'
fi
ok "engineer root with --force" engineer add root --ssh-key "$T/bob.pub" --allow '*' --force
assert_match "--force still warns" "warning: engineer 'root' is a system account" "$(cat "$T/err")"
ok "engineer remove root" engineer remove root
# One SSH key, two engineers.
fp2=$(ssh-keygen -l -E sha256 -f "$T/alice2.pub" | awk '{print $2}')
refused "alice's key given to bob" engineer add bob --ssh-key "$T/alice2.pub" --allow '*'
assert_match "it names alice and the key's fingerprint" "$(re "$fp2") is already engineer alice's" "$(cat "$T/err")"
ok "engineer add bob" engineer add bob --ssh-key "$T/bob.pub" --allow '*'
refused "alice's key added to bob" engineer set bob --add-ssh-key "$T/alice2.pub"
assert_match "engineer set names alice too" "already engineer alice's" "$(cat "$T/err")"

# An address freed by revoke is held back (AddressHold, default 30 days).
ok "enroll tmp-1" enroll tmp-1 --pubkey "$(pub)"
a4=$(keys_admin show tmp-1 | awk '/address 100/ {print $2}')
a6=$(keys_admin show tmp-1 | awk '/address fd00/ {print $2}')
ok "revoke tmp-1" revoke tmp-1
check "addresses.held names tmp-1's address" grep -q "^$a4 [0-9]* tmp-1$" "$ADMIN/addresses.held"
ok "enroll tmp-2" enroll tmp-2 --pubkey "$(pub)"
assert_nomatch "tmp-2 does not get tmp-1's IPv4 address" " $a4( |\$)" "$(cat "$T/out")"
assert_nomatch "nor its IPv6 address" " $a6( |\$)" "$(cat "$T/out")"
refused "enroll --address HELD" enroll tmp-3 --pubkey "$(pub)" --address "$a4"
assert_match "it names the revoked node and the hold" "freed by revoking tmp-1 and is held until" "$(cat "$T/err")"
ok "enroll --address HELD --force" enroll tmp-3 --pubkey "$(pub)" --address "$a4" --force
ok "revoke tmp-3" revoke tmp-3
printf 'AddressHold = 0\n' >"$ADMIN/keys.conf"
ok "enroll tmp-4 with AddressHold = 0" enroll tmp-4 --pubkey "$(pub)"
assert_match "the address is reused at once" "^enrolled tmp-4 $a4 " "$(cat "$T/out")"
printf 'AddressHold = 3 weeks\n' >"$ADMIN/keys.conf"
refused "a bad keys.conf" enroll tmp-5 --pubkey "$(pub)"
assert_match "keys.conf errors are FILE:LINE:" "keys.conf:1: AddressHold '3 weeks'" "$(cat "$T/err")"
rm -f "$ADMIN/keys.conf"

# Revoking what engineers depend on.
refused "revoke the bastion's node (group bastion)" revoke jump
assert_match "it says what breaks" "bastion's node.*cuts every jump" "$(cat "$T/err")"
printf 'BastionNode = gw-1\n' >"$ADMIN/keys.conf"
refused "revoke the BastionNode of keys.conf" revoke gw-1
rm -f "$ADMIN/keys.conf"
refused "revoke the last node of group db (alice's allow group:db:22)" revoke db-1
assert_match "it names the allow line that breaks" "group db empty: alice's allow group:db:22" "$(cat "$T/err")"
refused "node set: db-1 leaving group db" node set db-1 --remove-group db
ok "revoke db-1 --force" revoke db-1 --force
assert_match "it says what it dropped" "^dropped alice's allow group:db:22" "$(cat "$T/out")"
ok "revoke jump --force" revoke jump --force

# The 1 private key in 16 that is a point of the group: refused if it is an enrolled node's.
# Found by trying keys in a scratch directory (bounded: 400 tries miss with p = 6e-12).
cp -a "$ADMIN" "$T/scratch"
lucky=
for i in $(seq 1 400); do
	p=$("$KEYS_BIN" genkey)
	if "$KEYS_BIN" -C "$T/scratch" enroll "probe-$i" --pubkey "$p" >/dev/null 2>&1; then
		lucky=$p
		break
	fi
done
check "a private key that is a point of the group was found" test -n "$lucky"
ok "enroll lucky-1 with that key's public key" enroll lucky-1 --pubkey "$(printf '%s\n' "$lucky" | "$KEYS_BIN" pubkey)"
refused "enroll --pubkey (lucky-1's private key)" enroll lucky-2 --pubkey "$lucky"
assert_match "it names the node whose private key it is" "node 'lucky-1''s private key" "$(cat "$T/err")"
assert_nomatch "without echoing it" "$lucky" "$(cat "$T/err")"
refused "rotate --pubkey (lucky-1's private key)" rotate db-1 --pubkey "$lucky"
ok "revoke lucky-1" revoke lucky-1
finish
