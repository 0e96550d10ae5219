#!/usr/bin/env bash
# When the audit log cannot be written (its file system full, ENOSPC), the bastion fails
# closed: logins and new jumps are refused (the client is told why) while the log cannot
# record them; jumps already open go on; the operator gets one log line when it starts and
# one when it ends, not one per attempt; once space returns it recovers by itself, and a
# "lost" line records how many events could not be written.  The log is on a 512 KiB tmpfs.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
AFS=$T/afs
mkdir -m 0700 "$AFS"
mount -t tmpfs -o size=512k,mode=0700 wt-audit-full "$AFS"
afs_exit() {
	local rc=$?
	set +eE
	trap - ERR
	umount -l "$AFS" 2>/dev/null
	(exit "$rc")
	bastion_exit
}
trap afs_exit EXIT
bastion_nodes_add web-1
eng_add alice '*:22'
eng_add bob '*:22'
roster_publish
for n in jump web-1; do rnode_provision "$n"; rnode_start "$n"; done
sshd_start web-1
ping_ok jump "${OV4[web-1]}" || fail "jump cannot ping web-1"
bastion_conf jump
sed -i "s|^AuditLog = .*|AuditLog = $AFS/audit.jsonl|" "$T/bastion.conf"
AUDIT_LOG=$AFS/audit.jsonl
bastion_start

out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "alice jumps while there is room" web-1 "$out"

# A jump that stays open across the full disk: bob's lines go through it, echoed back.
mkfifo "$T/bob.in"
eng_ssh bob -J bob@bastion web-1 'while read l; do echo "got $l"; done' <"$T/bob.in" >"$T/bob.out" 2>&1 &
bob_pid=$!
BG_PIDS+=($bob_pid)
exec 7>"$T/bob.in"
echo one >&7
check "bob's jump is open" wait_until 20 grep -q 'got one' "$T/bob.out"

# Fill the file system.  The log's last page may still take a few lines: jumps go on until
# the log refuses one, and each that went through has its jump_open line.
dd if=/dev/zero of="$AFS/fill" bs=4k 2>/dev/null || true
log "file system full: $(df -k "$AFS" | tail -n 1)"
ok=0
for i in $(seq 30); do
	out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
	[ "$out" = web-1 ] || break
	ok=$((ok + 1))
done
log "$ok jumps fitted in the log's last page"
assert_eq "every jump that went through was recorded" $((ok + 1)) "$(audit_count jump_open engineer=alice)"
# -W: the bastion is the host ssh logs in to, so its banner shows (LogLevel INFO).
for i in 1 2 3; do
	eng_ssh alice -o LogLevel=INFO -W web-1:22 bastion </dev/null >"$T/full.$i" 2>&1 || true
done
assert_nomatch "no jump opens while the log cannot record it" 'SSH-2.0' "$(cat "$T"/full.*)"
assert_eq "the client is told why, every time" 3 "$(grep -l 'audit log cannot be written' "$T"/full.* | wc -l)"
assert_eq "no jump_open was written for the refused jumps" $((ok + 1)) "$(audit_count jump_open engineer=alice)"
echo two >&7
check "the jump already open goes on" wait_until 20 grep -q 'got two' "$T/bob.out"
assert_eq "one operational line for the failure, not one per attempt" 1 \
	"$(grep -c 'cannot write, refusing logins' "$T/bastion.log")"

# Space returns: the bastion recovers by itself.
rm -f "$AFS/fill"
check "jumps work again once there is room" wait_until 20 bash -c \
	"[ \"\$(timeout -k 2 30 ip netns exec $ENG ssh -F $T/ssh/alice.config -i $T/ssh/alice -J alice@bastion web-1 uname -n 2>/dev/null)\" = web-1 ]"
assert_eq "one operational line for the recovery" 1 "$(grep -c 'writable again' "$T/bastion.log")"
echo three >&7
check "bob's jump is still open" wait_until 20 grep -q 'got three' "$T/bob.out"
exec 7>&-
wait "$bob_pid" 2>/dev/null || true
bastion_stop || true
assert_ge "a lost line counts what could not be written" 1 "$(audit_count lost)"
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "the log verifies: $out" '^OK: [0-9]+ lines, [0-9]+ checkpoints, 0 lines after' "$out"
assert_match "and says events were lost: $out" 'WARNING: [1-9][0-9]* events lost' "$out"

finish
