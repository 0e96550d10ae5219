#!/usr/bin/env bash
# Key probes are not failed logins (issue 8 item 3).  OpenSSH's client offers each key of its
# agent in turn: an engineer whose ssh-agent holds two keys unknown to the roster before hers
# has two keys refused on every login before hers is accepted.  Twenty such logins in a row
# must all succeed (before, the per-address failure bucket refused her from the 5th on, and
# with her every colleague behind the same address).  Then `keys ssh-config --identity` writes
# IdentitiesOnly yes with her key, and logins through that config offer only her key: the
# bastion refuses nothing.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice web-1:22
eng_keygen other1 alice
eng_keygen other2 alice
bastion_up

# alice's agent, in the engineer namespace: other1, other2, then alice's key (offered in order).
AGENT_SOCK=$T/agent.sock
ip netns exec "$ENG" ssh-agent -D -a "$AGENT_SOCK" >"$T/agent.log" 2>&1 &
BG_PIDS+=($!)
wait_until 10 test -S "$AGENT_SOCK" || fail "ssh-agent did not start"
for k in other1 other2 alice; do SSH_AUTH_SOCK=$AGENT_SOCK ssh-add -q "$T/ssh/$k" 2>>"$T/agent.log"; done
assert_eq "the agent holds three keys" 3 "$(SSH_AUTH_SOCK=$AGENT_SOCK ssh-add -l | wc -l)"

# The agent's keys only: IdentityFile names a file that does not exist (ssh skips it), so no
# default key file is tried and the agent's order is the order offered.
{
	printf 'Host bastion\n\tHostName %s\n' "${PUB_ADDR[bastion]}"
	printf 'Host *\n\tUser alice\n\tIdentityAgent %s\n\tIdentityFile %s\n' "$AGENT_SOCK" "$T/ssh/absent"
	printf '\tIdentitiesOnly no\n\tUserKnownHostsFile %s\n\tStrictHostKeyChecking accept-new\n' "$T/ssh/known_hosts"
	printf '\tBatchMode yes\n\tConnectTimeout 5\n\tLogLevel ERROR\n\tControlMaster no\n'
} >"$T/ssh/agent.config"
agent_jump() {
	timeout -k 2 30 ip netns exec "$ENG" ssh -F "$T/ssh/agent.config" -J alice@bastion web-1 uname -n 2>>"$T/ssh.err"
}

ok=0
for i in $(seq 1 20); do
	if [ "$(agent_jump)" = web-1 ]; then ok=$((ok + 1)); else log "login $i refused"; fi
done
assert_eq "20 logins with two unknown agent keys offered first: all succeed" 20 "$ok"
assert_ge "the bastion did see the unknown keys offered (auth_reject key not in roster)" 20 \
	"$(audit_count auth_reject reason='key not in roster')"
assert_eq "none of those connections was refused at accept" 0 \
	"$(grep -c 'refused connection' "$T/bastion.log" || true)"

# keys ssh-config: IdentitiesOnly yes with the roster's key.
out=$(keys_admin ssh-config alice --bastion "${PUB_ADDR[bastion]}" --identity "$T/ssh/alice" 2>&1) || fail "keys ssh-config: $out"
printf '%s\n' "$out" >"$T/ssh/generated.config"
assert_eq "ssh-config: IdentitiesOnly yes in both blocks" 2 "$(grep -c '^	IdentitiesOnly yes$' "$T/ssh/generated.config" || true)"
assert_eq "ssh-config: IdentityFile is the --identity given, in both blocks" 2 \
	"$(grep -cxF "	IdentityFile $T/ssh/alice" "$T/ssh/generated.config" || true)"
check "ssh-config: names the roster key's fingerprint" \
	grep -qF -- "$(ssh-keygen -lf "$T/ssh/alice.pub" | cut -d' ' -f2)" "$T/ssh/generated.config"
out=$(keys_admin ssh-config alice --bastion "${PUB_ADDR[bastion]}" 2>&1) || fail "keys ssh-config: $out"
assert_match "ssh-config: without --identity, ssh-keygen's file for the key type" \
	'IdentityFile ~/.ssh/id_ed25519' "$out"
rc=0; out=$(keys_admin ssh-config alice --bastion "${PUB_ADDR[bastion]}" --identity $'/a\n\tProxyCommand x' 2>&1) || rc=$?
assert_eq "ssh-config: an --identity with a newline is refused (exit)" 1 "$rc"
assert_match "ssh-config: and the error says why" 'identity' "$out"

# Logins through the generated config, the same agent: only alice's key is offered.
{
	cat "$T/ssh/generated.config"
	printf 'Host *\n\tIdentityAgent %s\n\tUserKnownHostsFile %s\n' "$AGENT_SOCK" "$T/ssh/known_hosts"
	printf '\tStrictHostKeyChecking accept-new\n\tBatchMode yes\n\tConnectTimeout 5\n\tLogLevel ERROR\n'
} >"$T/ssh/gen.config"
before=$(audit_count auth_reject)
ok=0
for i in 1 2 3; do
	out=$(timeout -k 2 30 ip netns exec "$ENG" ssh -F "$T/ssh/gen.config" web-1 uname -n 2>>"$T/ssh.err" || true)
	[ "$out" = web-1 ] && ok=$((ok + 1))
done
assert_eq "3 logins through the generated config succeed" 3 "$ok"
assert_eq "through it, the bastion refused no key (auth_reject lines added)" 0 \
	$(( $(audit_count auth_reject) - before ))

check "bastion still running" pid_alive "$BASTION_PID"
finish
