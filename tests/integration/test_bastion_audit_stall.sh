#!/usr/bin/env bash
# An audit process that stops taking messages (a hung fsync on a stalled disk, here SIGSTOP)
# must not freeze the network process: past LINK_OUT_HIGH queued bytes it fails closed as with
# a full disk (logins refused with the banner, no new jump) while open jumps go on; when the
# auditor resumes the queue drains, logins work again and the log verifies.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice 'web-1:22'
eng_keygen mallory alice
# mallory offers 30 keys none of which is in the roster, and the bastion takes that many tries
# (MaxAuthTries): 30 auth_reject lines a connection.  With OpenSSH's six (the default) the
# queue filled after 20 rounds of 16 connections, whose key exchanges and ssh processes were
# most of the test's CPU time; the lines are what fills it.
MKEYS=29
mkeys=()
for k in $(seq 1 "$MKEYS"); do
	ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/mallory$k"
	mkeys+=(-i "$T/ssh/mallory$k")
done
bastion_up 'PerSourceMaxStartups = none' 'PerSourcePenalties = no' "MaxAuthTries = $((MKEYS + 1))"
pid=$BASTION_PID
apid=$(pgrep -P "$pid" | head -n 1)

# A jump opened before the stall, whose node sends 100 kB later.
eng_ssh alice -J alice@bastion web-1 'sleep 8; head -c 100000 /dev/zero' 2>/dev/null | wc -c >"$T/open.out" &
BG_PIDS+=($!)
wait_until 10 bash -c "grep -q jump_open '$AUDIT_LOG'" || true
kill -STOP "$apid"
login() { SSH_TIMEOUT=10 eng_ssh alice -o LogLevel=INFO bastion 2>&1 || true; }
refused=0 hung=0
for i in $(seq 1 100); do
	ps=()
	for j in $(seq 1 16); do SSH_TIMEOUT=10 eng_ssh mallory "${mkeys[@]}" bastion >/dev/null 2>&1 & ps+=($!); done
	wait "${ps[@]}" || true
	out=$(login)
	case $out in
	*"audit log cannot be written"*) refused=1; log "logins refused from round $i"; break ;;
	*"jump only"*) ;;
	*) hung=1; log "round $i: $out"; break ;;
	esac
done
assert_eq "the network process kept answering while the auditor was stalled" 0 "$hung"
assert_eq "logins refused (banner) once the queue is full" 1 "$refused"
check "the jump opened before the stall delivers its 100 kB" wait_until 30 \
	bash -c "[ \"\$(cat '$T/open.out')\" = 100000 ]"
kill -CONT "$apid"
check "logins work again once the auditor resumes" wait_until 20 bash -c \
	"SSH_TIMEOUT=10 ip netns exec $ENG ssh -F $T/ssh/alice.config -i $T/ssh/alice bastion 2>&1 | grep -q 'jump only'"
assert_eq "one log line each way" 2 "$(grep -c 'audit process not keeping up' "$T/bastion.log" || true)"
rc=0
bastion_stop || rc=$?
assert_eq "exit status after SIGTERM" 0 "$rc"
out=$(audit_verify "$AUDIT_LOG") && rc=0 || rc=$?
assert_eq "keys audit verify (output: $out)" 0 "$rc"
finish
