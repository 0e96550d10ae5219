#!/usr/bin/env bash
# The audit log, with real OpenSSH traffic: the run's log verifies (`keys audit verify`); one
# edited byte, a deleted line, two swapped lines, a cut inside the signed part, a flipped
# signature byte and the wrong key each make it fail at the right line.  kill -9 of the
# bastion while jumps open and a bulk transfer runs, then a restart: the log still verifies,
# the chain continues, and every jump a client saw open before the kill is in the log.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1 db-1
eng_add alice '*:22'
eng_add bob web-1:22
eng_add dave web-1:22
bastion_up

# Traffic: jumps allowed and denied, enough lines for the first 100-line checkpoint.
for i in $(seq 30); do
	printf 'SSH-2.0-probe\r\n' | eng_ssh alice -W web-1:22 bastion >/dev/null 2>&1 || true
	[ $((i % 10)) -ne 0 ] || eng_ssh bob -W db-1:22 bastion </dev/null >/dev/null 2>&1 || true
done
out=$(eng_ssh bob -J bob@bastion web-1 uname -n 2>&1 || true)
assert_eq "bob jumps to web-1" web-1 "$out"
lines=$(wc -l <"$AUDIT_LOG")
assert_ge "audit log has at least 100 lines after the traffic" 100 "$lines"
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "the live log verifies, with a checkpoint: $out" '^OK: [0-9]+ lines, [1-9][0-9]* checkpoints' "$out"

# kill -9 during traffic: dave opens jumps one after the other (each success recorded by the
# client after the jump was open end to end), alice streams 4 GiB through another jump.
(
	i=0
	while [ $i -lt 400 ]; do
		if eng_ssh dave -J dave@bastion web-1 true </dev/null >/dev/null 2>&1; then echo ok >>"$T/dave.acked"; fi
		i=$((i + 1))
	done
) &
loop_pid=$!
BG_PIDS+=($loop_pid)
SSH_TIMEOUT=120 eng_ssh alice -J alice@bastion web-1 'cat >/dev/null' < <(head -c 4G /dev/zero) >/dev/null 2>&1 &
bulk_pid=$!
BG_PIDS+=($bulk_pid)
check "dave's jumps go through before the kill" wait_until 30 bash -c "[ \$(wc -l <'$T/dave.acked' 2>/dev/null || echo 0) -ge 8 ]"
sleep 0.$((RANDOM % 9 + 1))
acked=$(wc -l <"$T/dave.acked")
bastion_kill9
log "bastion killed (-9) after $acked of dave's jumps were acknowledged to the client"
check "the bulk jump died with the bastion" wait_until 10 bash -c "! kill -0 $bulk_pid"
kill "$loop_pid" 2>/dev/null || true
wait "$loop_pid" 2>/dev/null || true
opened=$(audit_count jump_open engineer=dave)
assert_ge "every jump acknowledged before the kill is in the log (jump_open dave)" "$acked" "$opened"
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "the log verifies right after kill -9: $out" '^OK: ' "$out"
before=$(wc -l <"$AUDIT_LOG")

bastion_start
out=$(eng_ssh dave -J dave@bastion web-1 uname -n 2>&1 || true)
assert_eq "after the restart dave jumps again" web-1 "$out"
assert_eq "the restarted bastion continues the chain (seq of line $((before + 1)))" "$before" \
	"$(sed -n "$((before + 1))p" "$AUDIT_LOG" | sed -n 's/^{"seq":\([0-9]*\),.*/\1/p')"
assert_eq "exactly one genesis line" 1 "$(grep -c '"event":"genesis"' "$AUDIT_LOG")"
assert_ge "a start event per start" 2 "$(audit_count start)"
bastion_stop || true
assert_match "the stop is logged" '"event":"stop"' "$(tail -n 3 "$AUDIT_LOG")"
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "after a clean stop the whole log verifies and is signed: $out" \
	'^OK: [0-9]+ lines, [0-9]+ checkpoints, 0 lines after the last checkpoint unsigned' "$out"
assert_eq "the last line is a checkpoint" checkpoint \
	"$(tail -n 1 "$AUDIT_LOG" | sed -n 's/.*"event":"\([a-z_]*\)".*/\1/p')"
cp "$AUDIT_LOG" "$T/good.jsonl"

# Tampering.  K is an ordinary line well inside the signed part.
K=7
total=$(wc -l <"$T/good.jsonl")
# tampered NAME EXPECTED-LINE WHY-REGEX: verifies $T/NAME.jsonl, expects failure there.
tampered() {
	local rc=0 out
	out=$(timeout 30 "$KEYS_BIN" audit verify "$T/$1.jsonl" --key "$(audit_pub)" 2>&1) || rc=$?
	assert_eq "$1: keys audit verify exits 1" 1 "$rc"
	assert_match "$1: fails at line $2 ($3)" "^$T/$1\\.jsonl:$2: .*($3)" "$out"
}
# One byte edited on line K (a digit of its time, still valid JSON): line K+1's prev breaks.
awk -v k=$K 'NR == k { i = index($0, "\"time\":\"") + 25; c = substr($0, i, 1);
	$0 = substr($0, 1, i - 1) (c == "1" ? "2" : "1") substr($0, i + 1) } { print }' \
	"$T/good.jsonl" >"$T/edit.jsonl"
assert_eq "edit: exactly one byte differs" 1 "$(cmp -l "$T/good.jsonl" "$T/edit.jsonl" | wc -l)"
tampered edit $((K + 1)) "prev"
sed "${K}d" "$T/good.jsonl" >"$T/delete.jsonl"
tampered delete "$K" "seq"
awk -v k=$K 'NR == k { held = $0; next } { print } NR == k + 1 { print held }' "$T/good.jsonl" >"$T/swap.jsonl"
tampered swap "$K" "seq"
# Cut in the middle of line K.
cut_at=$(( $(head -n $((K - 1)) "$T/good.jsonl" | wc -c) + $(sed -n "${K}p" "$T/good.jsonl" | wc -c) / 2 ))
head -c "$cut_at" "$T/good.jsonl" >"$T/truncate.jsonl"
tampered truncate "$K" "incomplete|truncat|cut"
# One byte of the first checkpoint's signature.
ck=$(grep -n '"event":"checkpoint"' "$T/good.jsonl" | head -n 1 | cut -d: -f1)
awk -v k="$ck" 'NR == k { i = index($0, "\"sig\":\"") + 7; c = substr($0, i, 1);
	$0 = substr($0, 1, i - 1) (c == "A" ? "B" : "A") substr($0, i + 1) } { print }' \
	"$T/good.jsonl" >"$T/sig.jsonl"
tampered sig "$ck" "signature|sig"
# The wrong key: line 1.
rc=0; out=$(timeout 30 "$KEYS_BIN" audit verify "$T/good.jsonl" --key "$(keys_admin admin-pubkey)" 2>&1) || rc=$?
assert_eq "wrong key: exits 1" 1 "$rc"
assert_match "wrong key: fails at line 1" "^$T/good\\.jsonl:1: " "$out"
log "log of $total lines, tampered at line $K; first checkpoint at line $ck"
out=$(timeout 30 "$KEYS_BIN" audit verify "$T/good.jsonl" --key "$(audit_pub)" --json 2>&1 || true)
assert_match "keys audit verify --json reports ok" '"ok": ?true' "$out"
# The verify command as docs/audit.md and keys(1) give it, with the default AuditKeyFile's
# directory mapped to this run's: the public key file it names is the one the bastion wrote.
for doc in docs/audit.md docs/keys.1; do
	cmdkey=$(sed -n 's/.*keys audit verify [^ ]* \\\{0,1\}-\\\{0,1\}-key \(\/var\/lib\/warren\/bastion\/[^ ]*\).*/\1/p' \
		"$ROOT/$doc" | head -n 1)
	rc=0; out=$(timeout 30 "$KEYS_BIN" audit verify "$T/good.jsonl" \
		--key "$BASTION_DIR/${cmdkey##*/}" 2>&1) || rc=$?
	assert_eq "$doc's verify command (--key $cmdkey) works ($out)" 0 "$rc"
done

finish
