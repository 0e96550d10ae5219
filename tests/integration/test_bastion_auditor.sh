#!/usr/bin/env bash
# Privilege separation of the audit trail: the audit key and the log's file descriptor live
# only in the auditor process (a child of the bastion, "bastion-audit"); the network-facing
# process holds neither (no fd of the log, the key's bytes nowhere in its memory).  If the
# auditor dies, the bastion says so and stops (exit 1, nothing accepted unrecorded); if the
# network process dies, the auditor records it, writes a final checkpoint and exits; the next
# start marks what it did not sign as "recovered", and `keys audit verify` reports it.
# run-all: early (70 s, most of it waiting on the audit process)
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice '*:22'
bastion_up

out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "alice jumps to web-1" web-1 "$out"

auditor_of() { pgrep -P "$1" | head -n 1; }
aud=$(auditor_of "$BASTION_PID")
check "the bastion has a child process" test -n "$aud"
assert_eq "the child is the auditor" bastion-audit "$(cat "/proc/$aud/comm" 2>/dev/null)"
# fds_on PID PATH: how many of PID's descriptors are PATH.
fds_on() {
	local f c=0
	for f in /proc/"$1"/fd/*; do
		[ "$(readlink "$f" 2>/dev/null)" = "$2" ] && c=$((c + 1))
	done
	echo "$c"
}
assert_eq "the network process holds no descriptor of the audit log" 0 "$(fds_on "$BASTION_PID" "$AUDIT_LOG")"
assert_eq "the auditor holds the audit log open" 1 "$(fds_on "$aud" "$AUDIT_LOG")"
# The audit secret key's 32-byte seed, searched in every readable mapping of a process.
key_in_memory() {
	python3 - "$1" "$BASTION_DIR/audit.key" <<'PY'
import base64, re, sys
pid, keyfile = sys.argv[1], sys.argv[2]
seed = base64.b64decode(open(keyfile).read().strip())[:32]
found = 0
with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb", 0) as mem:
    for line in maps:
        m = re.match(r"([0-9a-f]+)-([0-9a-f]+) (\S+)", line)
        lo, hi, perm = int(m.group(1), 16), int(m.group(2), 16), m.group(3)
        # Readable, and not the sanitizer's huge shadow reservations.
        if perm[0] != "r" or hi - lo > 1 << 30:
            continue
        try:
            mem.seek(lo)
            found += mem.read(hi - lo).count(seed)
        except (OSError, ValueError, OverflowError):
            pass
print(found)
PY
}
assert_eq "the network process's memory does not hold the audit key" 0 "$(key_in_memory "$BASTION_PID")"
assert_ge "the auditor's does (the check can find it)" 1 "$(key_in_memory "$aud")"

# The network process dies (kill -9): the auditor records it, signs, exits.
bastion_kill9
check "the auditor exits by itself" wait_until 10 bash -c "! kill -0 $aud 2>/dev/null"
assert_match "it recorded why" '"event":"stop","reason":"network process exited"' "$(tail -n 2 "$AUDIT_LOG")"
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "the log is signed to its end: $out" '^OK: [0-9]+ lines, [0-9]+ checkpoints, 0 lines after' "$out"

# The auditor dies (kill -9): the bastion says so, stops, exits 1.
bastion_start
aud=$(auditor_of "$BASTION_PID")
check "a new auditor" test -n "$aud"
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "alice jumps (lines the auditor will not sign)" web-1 "$out"
p=$BASTION_PID
kill -9 "$aud"
check "the bastion stops when its auditor dies" wait_until 10 bash -c "! kill -0 $p 2>/dev/null"
rc=0; wait "$p" 2>/dev/null || rc=$?
BASTION_PID=
assert_eq "and exits 1" 1 "$rc"
assert_match "and says why" 'the audit process exited' "$(cat "$T/bastion.log")"
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_nomatch "nothing is accepted without its auditor" '^web-1$' "$out"

# What the killed auditor left unsigned is marked at the next start, not signed as its own.
bastion_start
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "after the restart alice jumps again" web-1 "$out"
bastion_stop || true
assert_eq "one recovered line" 1 "$(audit_count recovered)"
assert_match "the restart said so" 'marked "recovered"' "$(cat "$T/bastion.log")"
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "keys audit verify passes: $out" '^OK: ' "$out"
assert_match "and reports the recovered lines: $out" 'WARNING: [1-9][0-9]* lines recovered, unverified' "$out"
out=$(timeout 30 "$KEYS_BIN" audit verify "$AUDIT_LOG" --key "$(audit_pub)" --json 2>&1 || true)
assert_match "--json too: $out" '"recovered": [1-9]' "$out"

finish
