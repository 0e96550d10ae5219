#!/usr/bin/env bash
# The bastion's command line and start-up files.  `bastion --help` prints the usage on stdout
# and exits 0; a bad option prints it on stderr and exits 2.  Every file the bastion opens at
# start (configuration, host key, audit key) is refused at once when it is not a regular file:
# a FIFO in its place made start-up hang (read blocks until a writer comes); now the bastion
# exits 1 within seconds, naming the file.  No network: it stops before listening.
. "$(dirname "$0")/lib.sh"

need_bastion
D=$T/b
mkdir -m 0700 "$D"
conf() {
	{
		printf 'ListenAddress = 127.0.0.1:22\nHostKeyFile = %s\n' "${HOSTKEY:-$D/host_key}"
		printf 'Roster = %s/roster\nAdminKey = %s\n' "$D" "$(head -c 32 /dev/urandom | base64)"
		printf 'AuditLog = %s/audit.jsonl\nAuditKeyFile = %s\nAuditSyslog = no\n' "$D" \
			"${AUDITKEY:-$D/audit.key}"
	} >"$1"
	chmod 0600 "$1"
}
# start CONF: runs the bastion (bounded at 15 s); sets rc, out (stdout+stderr) and ms.
start() {
	local t0; t0=$(now_ms); rc=0
	out=$(timeout -k 1 15 "$BASTION_BIN" -c "$1" 2>&1) || rc=$?
	ms=$(( $(now_ms) - t0 ))
}

rc=0; out=$("$BASTION_BIN" --help 2>"$T/help.err") || rc=$?
assert_eq "bastion --help exits 0" 0 "$rc"
assert_match "bastion --help prints the usage on stdout" '^usage: bastion' "$out"
assert_eq "bastion --help prints nothing on stderr" "" "$(cat "$T/help.err")"
rc=0; "$BASTION_BIN" -h >/dev/null 2>&1 || rc=$?
assert_eq "bastion -h exits 0" 0 "$rc"
rc=0; out=$("$BASTION_BIN" --bogus 2>"$T/bogus.err") || rc=$?
assert_eq "bastion --bogus exits 2" 2 "$rc"
assert_eq "bastion --bogus prints nothing on stdout" "" "$out"
assert_match "bastion --bogus prints the usage on stderr" 'usage: bastion' "$(cat "$T/bogus.err")"

# The configuration file is a FIFO.
mkfifo -m 0600 "$D/conf.fifo"
start "$D/conf.fifo"
assert_eq "config FIFO: exit 1" 1 "$rc"
assert_le "config FIFO: refused within 5 s (ms)" 5000 "$ms"
assert_match "config FIFO: the error names the file" "conf\.fi.*: not a regular file" "$out"

# The host key is a FIFO.
mkfifo -m 0600 "$D/host.fifo"
HOSTKEY=$D/host.fifo conf "$D/host.conf"
start "$D/host.conf"
assert_eq "host key FIFO: exit 1" 1 "$rc"
assert_le "host key FIFO: refused within 5 s (ms)" 5000 "$ms"
assert_match "host key FIFO: the error names the file" "host.fifo.*not a regular file" "$out"

# The audit key is a FIFO.
mkfifo -m 0600 "$D/audit.fifo"
AUDITKEY=$D/audit.fifo conf "$D/audit.conf"
start "$D/audit.conf"
assert_eq "audit key FIFO: exit 1" 1 "$rc"
assert_le "audit key FIFO: refused within 5 s (ms)" 5000 "$ms"
assert_match "audit key FIFO: the error names the file" "audit.fifo.*not a regular file" "$out"
finish
