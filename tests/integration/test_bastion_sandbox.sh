#!/usr/bin/env bash
# Privilege separation, the network half (issue 8, item 9): once the listeners, the host key,
# the roster watch, the signal fd and the audit log are open, the bastion runs as its User
# (here a user known only to the bastion's namespace): every uid and gid that user's, no
# supplementary group, no capability in any set, no_new_privs, a seccomp filter.  As that user
# it still does its job: jumps end to end, a new roster (written by tunneld) applied, SIGHUP,
# a clean stop with its final audit checkpoint.  It can read neither key nor write the log
# directory.  A forbidden system call made inside the running daemon (execve, injected with
# gdb) kills it with SIGSYS.  A User that does not exist, or root, is refused at start.
. "$(dirname "$0")/lib.sh"

need_bastion
command -v gdb >/dev/null || { fail "gdb not installed (make deps)"; exit 1; }
bastion_net_init
bastion_nodes_add web-1
eng_add alice 'web-1:22'
# bob has a Unix account on web-1 but enters the bastion's roster only after the drop.
eng_add bob 'web-1:22'
keys_admin engineer remove bob >>"$T/keys.out" 2>>"$T/keys.err"
bastion_up
pid=$BASTION_PID

status_field() { awk -v k="$2:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "/proc/$1/status"; }
id4="$BASTION_UID $BASTION_UID $BASTION_UID $BASTION_UID"
assert_eq "Uid (real effective saved fs)" "$id4" "$(status_field "$pid" Uid)"
assert_eq "Gid (real effective saved fs)" "$id4" "$(status_field "$pid" Gid)"
assert_eq "no supplementary groups" "" "$(status_field "$pid" Groups)"
for c in CapEff CapPrm CapInh CapAmb CapBnd; do
	assert_eq "$c" 0000000000000000 "$(status_field "$pid" "$c")"
done
assert_eq "NoNewPrivs" 1 "$(status_field "$pid" NoNewPrivs)"
assert_eq "Seccomp (2: filter)" 2 "$(status_field "$pid" Seccomp)"
assert_eq "one thread" 1 "$(status_field "$pid" Threads)"
assert_match "the drop is logged" "running as user $BASTION_USER \(uid $BASTION_UID" "$(cat "$T/bastion.log")"

# What that user may touch: neither key, not the audit log's directory.
as_user() { ip netns exec "${NS[jump]}" setpriv --reuid="$BASTION_UID" --regid="$BASTION_UID" --clear-groups "$@"; }
refused_as_user() { ! as_user "$@" 2>/dev/null; }
check "setpriv runs as $BASTION_USER" as_user true
check "as $BASTION_USER the host key is unreadable" refused_as_user cat "$BASTION_DIR/ssh_host_ed25519_key"
check "as $BASTION_USER the audit key is unreadable" refused_as_user cat "$BASTION_DIR/audit.key"
check "as $BASTION_USER the audit log is not writable" refused_as_user sh -c ': >>"$1"' sh "$AUDIT_LOG"

# Jumps still work end to end.
assert_eq "alice jumps to web-1 (ssh -J)" web-1 "$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)"
head -c 200000 /dev/urandom >"$T/blob"
eng_scp alice -J alice@bastion "$T/blob" "web-1:blob" 2>&1 || true
assert_eq "200 kB through the jump, intact (scp -J, sha256)" "$(sha256sum <"$T/blob")" \
	"$(eng_ssh alice -J alice@bastion web-1 'sha256sum <blob' 2>&1 || true)"

# The roster changes after the drop: tunneld persists the new one (0644), the bastion, as its
# user, re-reads and applies it.
assert_match "bob is refused before" 'Permission denied' "$(eng_ssh bob -J bob@bastion web-1 uname -n 2>&1 || true)"
keys_admin engineer add bob --ssh-key "$T/ssh/bob.pub" --allow 'web-1:22' >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
mark=$(stat -c %s "$T/bastion.log")
roster_hand jump
check "the bastion applied serial $SERIAL as $BASTION_USER" wait_until 20 \
	bash -c "tail -c +$((mark + 1)) '$T/bastion.log' | grep -q 'roster serial $SERIAL applied'"
check "web-1 has serial $SERIAL too (its sshd trusts bob)" wait_until 20 all_at_serial "$SERIAL" web-1
assert_eq "bob (added by that roster) jumps to web-1" web-1 "$(eng_ssh bob -J bob@bastion web-1 uname -n 2>&1 || true)"
kill -HUP "$pid"
assert_eq "after SIGHUP alice still jumps" web-1 "$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)"
check "still running, still sandboxed" test "$(status_field "$pid" Seccomp)" = 2

# A clean stop under the filter: exit 0, final checkpoint, the log verifies.
rc=0
bastion_stop || rc=$?
assert_eq "exit status after SIGTERM" 0 "$rc"
assert_eq "one config_reload line (serial $SERIAL)" 1 "$(grep -c "\"event\":\"config_reload\".*\"serial\":$SERIAL" "$AUDIT_LOG" || true)"
out=$(audit_verify "$AUDIT_LOG") && rc=0 || rc=$?
assert_eq "keys audit verify after the sandboxed run (output: $out)" 0 "$rc"

# A forbidden system call inside the running daemon kills it (SIGSYS: 128 + 31).
bastion_start
pid=$BASTION_PID
timeout -k 2 60 gdb -p "$pid" -batch -nx -ex 'call (int)execve((char *)0, (char **)0, (char **)0)' \
	>"$T/gdb.out" 2>&1 || true
check "execve killed the bastion" wait_until 10 bash -c "! kill -0 $pid"
kill -9 "$pid" 2>/dev/null || true	# if it survived: the check above failed
rc=0
wait "$pid" 2>/dev/null || rc=$?
BASTION_PID=
assert_eq "killed by SIGSYS (exit status 128 + 31)" 159 "$rc"
assert_match "gdb saw the SIGSYS" "SIGSYS" "$(cat "$T/gdb.out")"

# Users the bastion refuses to run as: nothing is listening afterwards.
for u in "${RUN}nouser" root; do
	bastion_conf jump "User = $u"
	rc=0
	out=$(ip netns exec "${NS[jump]}" timeout 20 "$BASTION_BIN" -c "$T/bastion.conf" 2>&1) || rc=$?
	assert_eq "User = $u: exit status" 1 "$rc"
	assert_match "User = $u: the reason is given" "User: (no user '${RUN}nouser'|'root' has uid or gid 0)" "$out"
done

finish
