#!/usr/bin/env bash
# The bastion with its own defaults, started by hand (no systemd to make its directories): a
# config of only AdminKey and User must start it listening on port 22 (what docs/bastion.md,
# `keys ssh-config` and `ssh -J HOST` assume; it was 2222), with /var/lib/warren/bastion (host
# key, audit key) and /var/log/warren (audit log) created root's, 0700, when missing; with
# /var/lib/warren itself missing it exits 1 naming it.  /var/lib and /var/log are fresh tmpfs
# in a mount namespace of the test (unshare -m), in a network namespace of the test.  And
# --help / --version of tunneld, the bastion and keys: exit 0, stdout, the one VERSION
# (`make version`: debian/changelog's).
. "$(dirname "$0")/lib.sh"

need_bastion
need_keys
need_tunneld
version=$(make -s --no-print-directory -C "$ROOT" version)
for p in "$TUNNELD" "$BASTION_BIN" "$KEYS_BIN"; do
	name=$(basename "$p")
	rc=0; out=$("$p" --version 2>"$T/err") || rc=$?
	assert_eq "$name --version: exit 0, stdout, make version (stderr: $(head -c 200 "$T/err"))" \
		"0 $name $version" "$rc $out"
	rc=0; out=$("$p" --help 2>"$T/err") || rc=$?
	assert_eq "$name --help exits 0" 0 "$rc"
	assert_match "$name --help prints its usage on stdout" '^[Uu]sage: ' "$out"
done

NSB=${RUN}b
NS[b]=$NSB
trap bastion_exit EXIT
ns_add "$NSB"
ip -n "$NSB" link set lo up
bastion_user_install b
printf 'User = %s\nAdminKey = %s\n' "$BASTION_USER" "$(head -c 32 /dev/urandom | base64)" >"$T/bastion.conf"
chmod 0600 "$T/bastion.conf"
# run_fresh SETUP: the bastion in its own mount namespace, /var/lib and /var/log empty tmpfs,
# SETUP run first (as sh -c); exec'd, so $! is the bastion.
run_fresh() {
	ip netns exec "$NSB" unshare -m --propagation private sh -c \
		"mount -t tmpfs -o mode=0755 warren-lib /var/lib && mount -t tmpfs -o mode=0755 warren-log /var/log && $1 && exec \"\$0\" -c \"\$1\" -v" \
		"$BASTION_BIN" "$T/bastion.conf" >>"$T/bastion.log" 2>&1 &
	BASTION_PID=$!
	BG_PIDS+=($!)
}

# 1. /var/lib/warren exists (tunneld's, 0711), nothing below it, no /var/log/warren.
run_fresh 'mkdir -m 0711 /var/lib/warren'
BASTION_NODE=b
wait_until 10 bastion_ready_or_dead || true
check "the bastion with default paths is running" pid_alive "$BASTION_PID"
check "it listens on port 22 by default" listening b 22
owners=$(nsenter -t "$BASTION_PID" -m stat -c '%U %a %n' /var/lib/warren/bastion /var/log/warren \
	/var/log/warren/audit.jsonl /var/lib/warren/bastion/ssh_host_ed25519_key 2>&1 | paste -sd'|') || true
assert_eq "its directories were created root's, 0700 (keys and log 0600)" \
	"root 700 /var/lib/warren/bastion|root 700 /var/log/warren|root 600 /var/log/warren/audit.jsonl|root 600 /var/lib/warren/bastion/ssh_host_ed25519_key" \
	"$owners"
assert_match "it says what it created" "created /var/log/warren \\(0700\\)" "$(cat "$T/bastion.log")"
check "SIGTERM: a clean stop" bastion_stop

# 2. /var/lib/warren missing: exit 1, naming it.
: >"$T/bastion.log"
run_fresh 'true'
rc=0; wait_until 10 bash -c "! kill -0 $BASTION_PID" || true
wait "$BASTION_PID" 2>/dev/null || rc=$?
BASTION_PID=
assert_eq "without /var/lib/warren: exit 1" 1 "$rc"
assert_match "the error names the missing directory" \
	"/var/lib/warren/bastion: missing, and so is /var/lib/warren" "$(cat "$T/bastion.log")"

finish
