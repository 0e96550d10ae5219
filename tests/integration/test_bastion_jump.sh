#!/usr/bin/env bash
# The bastion with real OpenSSH: an engineer namespace that reaches only the bastion's public
# address jumps (ssh -J) to nodes reachable only over the overlay, each running Debian's sshd
# with AuthorizedKeysCommand = keys authorized-keys.  `uname -n` names the node jumped to,
# scp -J of 100 MiB arrives with the same SHA-256, rsync over the jump copies a tree, and the
# audit log records the jumps.
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1 db-1
eng_add alice '*:22'
bastion_up

# The engineer reaches the bastion and nothing else.
check "engineer namespace has no route to the overlay" \
	bash -c "! ip netns exec $ENG ping -n -q -c 1 -W 1 ${OV4[web-1]} >/dev/null 2>&1"
check "engineer namespace cannot reach web-1's underlay address" \
	bash -c "! ip netns exec $ENG ping -n -q -c 1 -W 1 ${UL[web-1]} >/dev/null 2>&1"

out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "ssh -J alice@bastion web-1 uname -n" "web-1" "$out"
out=$(eng_ssh alice -J alice@bastion db-1 'uname -n; id -un' 2>&1 || true)
assert_eq "ssh -J alice@bastion db-1 'uname -n; id -un'" "db-1 alice" "$(printf '%s' "$out" | tr '\n' ' ' | sed 's/ $//')"
out=$(eng_ssh alice -J alice@bastion "alice@${OV4[web-1]}" uname -n 2>&1 || true)
assert_eq "ssh -J to web-1's overlay address ${OV4[web-1]}" "web-1" "$out"
out=$(eng_ssh alice -o "ProxyCommand=ssh -F $T/ssh/alice.config -W %h:%p bastion" web-1 uname -n 2>&1 || true)
assert_eq "ProxyCommand ssh -W %h:%p bastion, then web-1" "web-1" "$out"

# scp -J of 100 MiB, checksummed at both ends.
head -c 100M /dev/urandom >"$T/big.src"
sum_src=$(sha256sum <"$T/big.src" | cut -d' ' -f1)
t0=$(now_ms)
if eng_scp alice -J alice@bastion "$T/big.src" "web-1:$T/home/alice/big"; then
	ms=$(( $(now_ms) - t0 ))
	sum_dst=$(sha256sum <"$T/home/alice/big" | cut -d' ' -f1)
	assert_eq "scp -J of 100 MiB to web-1 arrives intact ($ms ms)" "$sum_src" "$sum_dst"
else
	fail "scp -J of 100 MiB to web-1 failed"
fi
rm -f "$T/home/alice/big"
out=$(eng_ssh alice -J alice@bastion db-1 "head -c 1048576 /dev/zero | sha256sum" 2>&1 || true)
assert_eq "1 MiB back from db-1 over the jump" "$(head -c 1048576 /dev/zero | sha256sum)" "$out"

# rsync over the jump: a small tree with a symlink and modes, then an incremental pass.
if command -v rsync >/dev/null; then
	mkdir -p "$T/tree/sub"
	for i in 1 2 3 4 5; do head -c $((i * 40000)) /dev/urandom >"$T/tree/f$i"; done
	printf 'hello\n' >"$T/tree/sub/note"
	chmod 0640 "$T/tree/sub/note"
	ln -s f1 "$T/tree/link"
	if eng_rsync alice -a "$T/tree/" "alice@web-1:$T/home/alice/tree/" 2>"$T/rsync.err"; then
		check "rsync -a over the jump copies the tree (diff -r)" diff -r "$T/tree" "$T/home/alice/tree"
		assert_eq "the symlink arrives as a symlink" f1 "$(readlink "$T/home/alice/tree/link" || true)"
		assert_eq "file modes kept" 640 "$(stat -c %a "$T/home/alice/tree/sub/note")"
		printf 'changed\n' >>"$T/tree/f3"
		out=$(eng_rsync alice -ai "$T/tree/" "alice@web-1:$T/home/alice/tree/" 2>>"$T/rsync.err" || true)
		assert_match "incremental rsync sends only the changed file ($out)" '^<f[.+]s[.t][.a-z]* f3$' "$out"
	else
		fail "rsync over the jump failed: $(head -c 300 "$T/rsync.err")"
	fi
else
	fail "rsync not installed"
fi

# The audit log names the engineer, key, source, target and bytes.
fp=$(ssh-keygen -l -f "$T/ssh/alice.pub" | awk '{ print $2 }')
assert_ge "audit: jump_open lines for alice to web-1" 3 "$(audit_count jump_open engineer=alice target=web-1)"
assert_ge "audit: auth_accept with alice's fingerprint $fp" 1 "$(audit_count auth_accept engineer=alice fingerprint="$fp")"
assert_ge "audit: jump_open from the engineer's address" 1 "$(audit_count jump_open src="$ENG_ADDR" target_addr="${OV4[db-1]}")"
check "audit: some jump_close counted >= 100 MiB in one direction" awk '
	/"event":"jump_close"/ && match($0, /"bytes_(in|out)":[0-9]+/) {
		s = $0
		while (match(s, /"bytes_(in|out)":[0-9]+/)) {
			v = substr(s, RSTART, RLENGTH); sub(/.*:/, "", v)
			if (v + 0 >= 104857600) found = 1
			s = substr(s, RSTART + RLENGTH)
		}
	}
	END { exit !found }' "$AUDIT_LOG"
check "bastion still running" pid_alive "$BASTION_PID"
for n in jump web-1 db-1; do check "$n's tunneld still running" pid_alive "${PID[$n]}"; done
bastion_stop || true
out=$(audit_verify "$AUDIT_LOG" || true)
assert_match "keys audit verify: the run's log verifies" '^OK: ' "$out"

finish
