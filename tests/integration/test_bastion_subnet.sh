#!/usr/bin/env bash
# Hosts inside a node's routed subnet through the bastion: gw routes 100.100.1.0/24 (a BMC
# namespace at 100.100.1.5 running sshd, linked only to gw); the bastion is on its own node
# (jump).  alice, allowed on 100.100.1.5/32 port 22, reaches the BMC with plain ssh -J; port 23
# and the neighbour 100.100.1.6 are refused (administratively prohibited), and so is bob, whose
# allow * covers nodes, never hosts behind them.  Every decision is audited under the router's
# name with the address asked for; an open jump is cut when a new roster takes the host away.  An allow prefix outside every subnet and the overlay is
# refused when it is written.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
rnode_add jump 1
pub_link jump 1 bastion
rnode_enroll jump
rnode_add gw 3
rnode_enroll gw --subnet 100.100.1.0/24
# The BMC: only gw reaches it; its way back to the overlay is gw (the return route).
ns_add "${RUN}bmc"
NS[bmc]=${RUN}bmc
ip -n "${NS[gw]}" link add sub0 type veth peer name sub0 netns "${NS[bmc]}"
ip -n "${NS[gw]}" addr add 100.100.1.1/24 dev sub0
ip -n "${NS[gw]}" link set sub0 up
ip -n "${NS[bmc]}" addr add 100.100.1.5/24 dev sub0
ip -n "${NS[bmc]}" link set sub0 up
ip -n "${NS[bmc]}" route add default via 100.100.1.1
ip netns exec "${NS[gw]}" sysctl -qw net.ipv4.ip_forward=1

# Refused when written: a prefix nobody routes, and one straddling the subnet.
eng_keygen carol
for p in 100.101.0.0/24:22 100.100.0.0/16:22; do
	rc=0
	keys_admin engineer add carol --ssh-key "$T/ssh/carol.pub" --allow "$p" >"$T/out" 2>&1 || rc=$?
	assert_eq "allow $p refused" 1 "$rc"
	assert_match "allow $p: the error says why" "inside no node's subnet nor the overlay cidr" "$(cat "$T/out")"
done
check "nothing written for the refused allows" bash -c "! grep -q carol '$ADMIN/roster'"
rc=0
keys_admin engineer add carol --ssh-key "$T/ssh/carol.pub" --allow 100.100.1.5/24:22 >"$T/out" 2>&1 || rc=$?
assert_eq "allow with host bits set: refused (one spelling per rule)" 1 "$rc"

eng_add alice 100.100.1.5/32:22
eng_add bob '*:22'
check "the roster carries the prefix allow" grep -qxF $'\tallow 100.100.1.5/32 22' "$ADMIN/roster"
roster_publish
for n in jump gw; do rnode_provision "$n"; rnode_start "$n"; done
wait_until 10 ping_ok jump 100.100.1.1 || fail "jump cannot reach gw's subnet address"

# The BMC's sshd: alice's key, a fixed answer.
d=$T/sshd-bmc
mkdir -m 0700 "$d"
ssh-keygen -q -t ed25519 -N '' -C bmc -f "$d/host"
cat >"$d/sshd_config" <<CONF
ListenAddress 100.100.1.5:22
HostKey $d/host
PidFile none
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
AuthorizedKeysFile $T/ssh/alice.pub
StrictModes no
ForceCommand echo inside-the-subnet; [ "\$SSH_ORIGINAL_COMMAND" != hold ] || for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do sleep 1; echo tick; done
CONF
ip netns exec "${NS[bmc]}" "$SSHD_BIN" -D -e -f "$d/sshd_config" >>"$T/sshd-bmc.log" 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening bmc 22 || fail "bmc sshd not listening"
bastion_conf jump
bastion_start

out=$(eng_ssh alice -J alice@bastion root@100.100.1.5 2>&1 || true)
assert_eq "alice reaches the BMC inside gw's subnet with ssh -J" inside-the-subnet "$out"
out=$(eng_ssh alice -o LogLevel=INFO -W 100.100.1.5:23 bastion </dev/null 2>&1 || true)
assert_match "another port on the BMC is refused" "open failed: administratively prohibited" "$out"
out=$(eng_ssh alice -o LogLevel=INFO -W 100.100.1.6:22 bastion </dev/null 2>&1 || true)
assert_match "another host in the subnet is refused" "open failed: administratively prohibited" "$out"
out=$(eng_ssh bob -o LogLevel=INFO -W 100.100.1.5:22 bastion </dev/null 2>&1 || true)
assert_match "allow * (nodes) does not cover hosts behind them" "open failed: administratively prohibited" "$out"

# An open jump into the subnet ends when the roster takes the host away from alice.
SSH_TIMEOUT=60 eng_ssh alice -J alice@bastion root@100.100.1.5 hold >"$T/alice.jump" 2>&1 </dev/null &
BG_PIDS+=($!)
check "alice's long jump into the subnet is open" wait_until 15 grep -q '^tick' "$T/alice.jump"
keys_admin engineer remove alice >>"$T/keys.out" 2>>"$T/keys.err"
keys_admin engineer add alice --ssh-key "$T/ssh/alice.pub" --allow 100.100.1.6/32:22 \
	>>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand jump
check "the open jump is cut when the allow goes (access revoked)" wait_until 20 grep -q \
	'"event":"jump_close".*"target_addr":"100.100.1.5".*"reason":"access revoked"' "$AUDIT_LOG"

log "audit lines: $(grep -c . "$AUDIT_LOG")"
grep -F 100.100.1. "$AUDIT_LOG" | sed 's/^/     /' | cut -c1-300
check "the jump is audited under the router's name with the host's address" \
	grep -q '"event":"jump_open".*"engineer":"alice".*"target":"gw".*"target_addr":"100.100.1.5","target_port":22' "$AUDIT_LOG"
check "the refusals are audited" grep -q '"event":"jump_deny".*"target_addr":"100.100.1.6"' "$AUDIT_LOG"
bastion_stop || fail "bastion exit status"
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "the audit log verifies: $out" "^OK: " "$out"
finish
