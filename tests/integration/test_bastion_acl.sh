#!/usr/bin/env bash
# Who may reach what, with real OpenSSH: bob may reach web-1 (port 22) only.  Refused at the
# bastion: bob to db-1, bob to web-1 port 8080, an unknown key, a password attempt; `ssh
# bastion` with no jump gets the one-line explanation and no shell; exec and remote forwarding
# are refused.  Each denial is in the audit log with a reason, and tells the client only that
# the target is not permitted.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1 db-1
eng_add alice '*:22'
eng_add bob web-1:22
eng_keygen mallory bob          # a key no roster knows, offered as bob
# Every client here, the refused ones included, comes from one address: without penalties
# (test_bastion_admission covers them) so that the refusals do not lock out the checks after.
bastion_up "PerSourcePenalties = no"
# Something to connect to on web-1:8080, so a refusal there is the bastion's decision.
ip netns exec "${NS[web-1]}" timeout -k 2 "$(time_left)" nc -n -k -l "${OV4[web-1]}" 8080 >/dev/null 2>&1 </dev/null &
BG_PIDS+=($!)
wait_until 10 listening web-1 8080 || fail "test listener on web-1:8080 did not start"

out=$(eng_ssh bob -J bob@bastion web-1 uname -n 2>&1 || true)
assert_eq "bob: ssh -J bob@bastion web-1 (allowed)" web-1 "$out"
rc=0; out=$(eng_ssh bob -J bob@bastion db-1 uname -n 2>&1) || rc=$?
assert_eq "bob: ssh -J to db-1 exits 255" 255 "$rc"
# Through -J the client's jump process runs at the config's LogLevel ERROR: OpenSSH then says
# only that forwarding failed; the -W checks below run at INFO and see the refusal code.
assert_match "bob: db-1 refused" 'open failed: administratively prohibited|stdio forwarding failed' "$out"
assert_nomatch "bob: db-1 refusal gives no detail (no roster, group or port named)" 'group|roster|allow|db' \
	"$(printf '%s' "$out" | grep -i 'open failed' || true)"
out=$(eng_ssh alice -J alice@bastion db-1 uname -n 2>&1 || true)
assert_eq "alice (allowed everywhere on 22) reaches db-1" db-1 "$out"

# A port not allowed: ssh -W web-1:8080 (a listener is there) is refused; web-1:22 is not.
rc=0; out=$(eng_ssh bob -o LogLevel=INFO -W web-1:8080 bastion </dev/null 2>&1) || rc=$?
assert_match "bob: ssh -W web-1:8080 refused as not permitted (exit $rc)" \
	'open failed: administratively prohibited' "$out"
out=$(printf 'SSH-2.0-probe\r\n' | eng_ssh bob -W web-1:22 bastion 2>&1 | head -n 1 || true)
assert_match "bob: ssh -W web-1:22 reaches web-1's sshd banner" '^SSH-2\.0-OpenSSH' "$out"
rc=0; out=$(eng_ssh bob -o LogLevel=INFO -W "${OV4[db-1]}:22" bastion </dev/null 2>&1) || rc=$?
assert_match "bob: ssh -W to db-1's overlay address refused too" \
	'open failed: administratively prohibited' "$out"
rc=0; out=$(eng_ssh bob -o LogLevel=INFO -W 192.0.2.200:22 bastion </dev/null 2>&1) || rc=$?
assert_match "bob: ssh -W to an address outside the roster refused" \
	'open failed: administratively prohibited' "$out"

# An unknown key, offered as bob: no authentication, not even to the bastion.
rc=0; out=$(eng_ssh mallory -J bob@bastion web-1 uname -n 2>&1) || rc=$?
assert_eq "unknown key: ssh -J exits 255" 255 "$rc"
assert_nomatch "unknown key: never reaches web-1" '^web-1$' "$out"
rc=0; out=$(eng_ssh mallory -W web-1:22 bastion </dev/null 2>&1) || rc=$?
assert_match "unknown key: permission denied at the bastion" 'Permission denied' "$out"
rc=0; out=$(eng_ssh alice -o User=bob -W web-1:22 bastion </dev/null 2>&1) || rc=$?
assert_match "alice's key offered as bob: permission denied" 'Permission denied' "$out"

# A password attempt: the askpass helper answers; the bastion must not accept, nor even offer.
printf '#!/bin/sh\necho asked >>%s\necho hunter2\n' "$T/askpass.log" >"$T/askpass"
chmod 0700 "$T/askpass"
rc=0
out=$(SSH_ASKPASS=$T/askpass SSH_ASKPASS_REQUIRE=force DISPLAY=none eng_ssh bob -v \
	-o BatchMode=no -o PubkeyAuthentication=no \
	-o PreferredAuthentications=password,keyboard-interactive -W web-1:22 bastion </dev/null 2>&1) || rc=$?
assert_eq "password attempt: exits 255" 255 "$rc"
assert_match "password attempt: permission denied" 'Permission denied' "$out"
assert_nomatch "password attempt: the bastion offers neither password nor keyboard-interactive" \
	'Authentications that can continue:.*(password|keyboard-interactive)' "$out"
assert_nomatch "password attempt: never authenticated" 'Authenticated to|Authentication succeeded' "$out"

# ssh bastion, no jump: the explanation, no shell; exec, a subsystem and -R are refused.
rc=0; out=$(printf 'echo SHELL-RAN\n' | eng_ssh bob bastion 2>&1) || rc=$?
assert_match "ssh bastion: prints the explanation" \
	'warren bastion: jump only\. Use: ssh -J USER@BASTION NODE' "$out"
assert_nomatch "ssh bastion: no shell" 'SHELL-RAN' "$out"
rc=0; out=$(eng_ssh bob bastion 'echo EXEC-RAN' </dev/null 2>&1) || rc=$?
assert_nomatch "ssh bastion CMD: not executed" 'EXEC-RAN' "$out"
assert_ge "ssh bastion CMD: fails (exit $rc)" 1 "$rc"
rc=0; out=$(eng_ssh bob -s bastion sftp </dev/null 2>&1) || rc=$?
assert_ge "ssh -s bastion sftp: refused (exit $rc)" 1 "$rc"
rc=0; out=$(eng_ssh bob -N -o ExitOnForwardFailure=yes -R 127.0.0.1:2201:127.0.0.1:22 bastion </dev/null 2>&1) || rc=$?
assert_match "ssh -R through the bastion: remote forwarding refused (exit $rc)" \
	'remote port forwarding failed|forwarding.*(failed|refused|prohibited)' "$out"
check "bastion has no listener on 2201 after -R" bash -c "! ip netns exec ${NS[jump]} ss -Hltn 'sport = :2201' | grep -q ."

# The audit log recorded the denials, with reasons.
assert_ge "audit: jump_deny bob -> db-1" 1 "$(audit_count jump_deny engineer=bob target=db-1)"
check "audit: every jump_deny has a reason" bash -c "! grep '\"event\":\"jump_deny\"' '$AUDIT_LOG' | grep -q '\"reason\":null'"
assert_ge "audit: auth_reject lines (unknown key, wrong user, password)" 2 "$(audit_count auth_reject)"
assert_ge "audit: session_deny lines (shell, exec, subsystem, forwarding)" 3 "$(audit_count session_deny)"
assert_eq "audit: mallory's key never accepted" 0 \
	"$(audit_count auth_accept fingerprint="$(ssh-keygen -l -f "$T/ssh/mallory.pub" | awk '{ print $2 }')")"
check "bastion still running" pid_alive "$BASTION_PID"
bastion_stop || true
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "keys audit verify: the run's log verifies" '^OK: ' "$out"

finish
