#!/usr/bin/env bash
# The bastion end to end, quickly: an engineer namespace that reaches only the bastion's public
# address (203.0.113.1) jumps with real OpenSSH to a node reachable only over the overlay (its
# sshd trusts the roster through keys authorized-keys).  ssh -J prints the node's name, a plain
# `ssh bastion` gets the one-line explanation and no shell, a node or port the engineer may not
# reach is refused, and the audit log records accept, open, deny and close.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1 db-1
eng_add alice web-1:22
SSHD_EXTRA=("MaxStartups 400")		# the concurrent jumps below all reach web-1's sshd at once
bastion_up "MaxStartups = 400" "PerSourceMaxStartups = none"	# all from one address

out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "ssh -J alice@bastion web-1 uname -n" "web-1" "$out"

out=$(eng_ssh alice bastion 2>&1 </dev/null || true)
assert_match "ssh bastion gets the explanation" "warren bastion: jump only. Use: ssh -J USER@BASTION NODE" "$out"
out=$(eng_ssh alice bastion id 2>&1 </dev/null || true)
assert_nomatch "ssh bastion id runs nothing" "uid=" "$out"
# Through one ControlMaster connection every `ssh bastion` opens a session channel of its own:
# each gets the explanation (the second was refused: "channel open failed").
CM=(-o ControlMaster=auto -o "ControlPath=$T/cm.%C" -o ControlPersist=30)
eng_ssh alice "${CM[@]}" -fN bastion </dev/null >/dev/null 2>&1 || true
check "ControlMaster: the master runs" eng_ssh alice "${CM[@]}" -O check bastion
for i in 1 2 3; do
	out=$(eng_ssh alice "${CM[@]}" bastion 2>&1 </dev/null || true)
	assert_match "ControlMaster: ssh bastion #$i gets the explanation" \
		"warren bastion: jump only" "$out"
	# Refused, OpenSSH falls back to a connection of its own: that must not be needed.
	assert_nomatch "ControlMaster: ssh bastion #$i through the master (not refused)" \
		"refused|disabling multiplexing" "$out"
done
assert_eq "audit: no session_deny second session channel" 0 \
	"$(audit_count session_deny reason="second session channel")"
eng_ssh alice "${CM[@]}" -O exit bastion >/dev/null 2>&1 || true

check "a node alice may not reach (db-1) is refused" \
	bash -c "! timeout -k 2 20 ip netns exec $ENG ssh -F $T/ssh/alice.config -i $T/ssh/alice -J alice@bastion db-1 true"
out=$(eng_ssh alice -o LogLevel=INFO -W "web-1:80" bastion 2>&1 </dev/null || true)
assert_match "a port alice may not use (web-1:80) is refused" "open failed: administratively prohibited" "$out"
out=$(eng_ssh alice -J alice@bastion "alice@${OV4[web-1]}" uname -n 2>&1 || true)
assert_eq "ssh -J to web-1's overlay address ${OV4[web-1]}" "web-1" "$out"
assert_ge "audit: jump_deny alice -> web-1:80" 1 "$(audit_count jump_deny engineer=alice target=web-1 reason="not allowed")"

assert_ge "audit: auth_accept for alice" 1 "$(audit_count auth_accept engineer=alice)"
assert_ge "audit: jump_open alice -> web-1" 1 "$(audit_count jump_open engineer=alice target=web-1)"
assert_ge "audit: jump_deny alice -> db-1" 1 "$(audit_count jump_deny engineer=alice target=db-1 reason="not allowed")"
assert_ge "audit: session_deny (shell)" 1 "$(audit_count session_deny engineer=alice reason=shell)"
wait_until 5 bash -c "grep -q '\"event\":\"jump_close\"' $AUDIT_LOG" || true
assert_ge "audit: jump_close alice -> web-1" 1 "$(audit_count jump_close engineer=alice target=web-1)"

# 120 concurrent jumps, one thread: each holds its channel open until web-1's sshd answers.
N=120
CONC=()
for i in $(seq 1 $N); do
	# stdin stays open (as in real use) for 8 s: the jump is held, not half-closed at once.
	( sleep 8 | timeout -k 2 60 ip netns exec "$ENG" ssh -F "$T/ssh/alice.config" \
		-i "$T/ssh/alice" -o ConnectTimeout=30 -W web-1:22 bastion 2>"$T/conc.$i.err" |
		head -c 7 >"$T/conc.$i" || true ) &
	CONC+=($!)
done
wait "${CONC[@]}"
ok=0
for i in $(seq 1 $N); do
	if [ "$(cat "$T/conc.$i" 2>/dev/null)" = "SSH-2.0" ]; then ok=$((ok + 1))
	else log "jump $i: $(head -c 300 "$T/conc.$i.err" | tr '\n' ' ')"; fi
done
# Under ASan on a loaded machine one jump of the 120 has been seen failing at its channel open
# ("stdio forwarding failed"), once in four CI runs; the cause is open (issue 10's and 11's
# notes).  There at most 2 may fail, each logged above; the plain build must get all of them.
min=$N
case $(basename "$BUILD") in build-san|build-tsan) min=$((N - 2)) ;; esac
assert_ge "$N concurrent ssh -W web-1:22 reach sshd's banner (at least $min)" "$min" "$ok"
check "bastion still running after the concurrent jumps" pid_alive "$BASTION_PID"

check "bastion stops cleanly on SIGTERM" bastion_stop
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "the audit log verifies" "^OK" "$out"
finish
