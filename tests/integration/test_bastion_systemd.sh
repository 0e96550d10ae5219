#!/usr/bin/env bash
# dist/systemd/bastion.service under real systemd (252, booted by systemd-nspawn in a test
# namespace, see /work/shared/reference/systemd-in-container.md): systemd starts the bastion
# as root with the unit's bounding set and system call filter; the bastion binds port 22, reads
# its keys, then its network process runs as the static user bastion with no capability,
# no_new_privs and its own seccomp filter (Seccomp 2).  Under the unit it still does its job:
# a jump (ssh -W) reaches a target, a new roster dropped into tunneld's directory (0711) is
# applied, `systemctl reload` keeps it running, `systemctl stop` succeeds and the audit log
# verifies.  Then a forbidden system call (execve, injected with gdb) kills it and systemd
# says so: "code=killed, status=31/SYS".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_nspawn.sh"

command -v gdb >/dev/null || { fail "gdb not installed (make deps)"; exit 1; }
need_bastion
need_keys

UNIT=$ROOT/dist/systemd/bastion.service
unit_key() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }
assert_eq "CapabilityBoundingSet" "CAP_NET_BIND_SERVICE CAP_SETUID CAP_SETGID CAP_SETPCAP" \
	"$(unit_key CapabilityBoundingSet)"
assert_eq "Type (READY=1 once listening, the audit process up)" notify "$(unit_key Type)"
assert_eq "the drop's system calls are allowed last" "@setuid capset seccomp" "$(unit_key SystemCallFilter)"
assert_eq "ExecReload with full privileges (the bastion no longer runs as root)" '+/bin/kill -HUP $MAINPID' "$(unit_key ExecReload)"
mkdir "$T/units"
sed "s#^ExecStart=/usr/local/sbin/bastion #ExecStart=$BASTION_BIN #" "$UNIT" >"$T/units/bastion.service"
out=$(systemd-analyze verify --man=no "$T/units/bastion.service" 2>&1) && rc=0 || rc=$?
assert_eq "systemd-analyze verify bastion.service exit status (output: ${out:-none})" 0 "$rc"

# The roster: the bastion host (jump) and a target (web-1, 100.64.0.3 on the namespace's
# loopback, where nc plays the node's sshd); alice may reach web-1:22.  A second serial adds bob.
roster_admin_init
ADMIN_PUB=$(keys_admin admin-pubkey)
keys_admin enroll jump --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.1 >>"$T/keys.out" 2>>"$T/keys.err"
keys_admin enroll web-1 --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.3 >>"$T/keys.out" 2>>"$T/keys.err"
mkdir -m 0700 "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -C alice -f "$T/ssh/alice"
ssh-keygen -q -t ed25519 -N '' -C bob -f "$T/ssh/bob"
keys_admin engineer add alice --ssh-key "$T/ssh/alice.pub" --allow 'web-1:22' >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
S1=$SERIAL
nspawn_init
mkdir -p "$C/etc" "$C/lib"
chmod 0711 "$C/lib"
install -m 0644 "$ADMIN/roster.signed" "$C/lib/roster"
keys_admin engineer add bob --ssh-key "$T/ssh/bob.pub" --allow 'web-1:22' >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
S2=$SERIAL
install -m 0644 "$ADMIN/roster.signed" "$C/roster2"
cp "$T/ssh/alice" "$T/ssh/bob" "$C/"
chmod 0600 "$C/alice" "$C/bob"

BUID=$((61000 + $$ % 3000))
nspawn_user bastion "$BUID" /nonexistent
# The bastion host runs tunneld too: bastion.service starts in its group (SupplementaryGroups=).
nspawn_user tunneld "$((BUID + 1))" /var/lib/warren
printf 'ListenAddress = 127.0.0.1:22\nAdminKey = %s\nConnectTimeout = 5\n' "$ADMIN_PUB" >"$C/etc/bastion.conf"
chmod 0600 "$C/etc/bastion.conf"
nspawn_unit "$UNIT" "$BASTION_BIN" '/opt/warren/bastion -c /etc/warren/bastion.conf -v'
cat >"$C/scenario.sh" <<'SCENARIO'
#!/bin/sh
# Runs inside the container once bastion.service is started; results in /out, then power off.
exec >/out/scenario.log 2>&1
set -x
up() { systemctl is-active -q bastion && journalctl -u bastion --no-pager | grep -q 'running as user'; }
i=0; while [ $i -lt 100 ] && ! up; do sleep 0.1; i=$((i + 1)); done
pid=$(systemctl show -p MainPID --value bastion)
cat /proc/$pid/status >/out/status
stat -c '%U %a %n' /var/lib/warren/bastion /var/lib/warren/bastion/audit.key /var/log/warren >/out/owners
# web-1's "sshd": one banner.
printf 'SSH-2.0-web-1-target\r\n' | timeout 20 nc.openbsd -l -N 100.64.0.3 22 &
sleep 0.3
jump() {
	timeout 20 ssh -F /dev/null -i "/opt/warren/$1" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o UserKnownHostsFile=/dev/null -o StrictHostKeyChecking=no -o LogLevel=ERROR \
		-W 100.64.0.3:22 "$1@127.0.0.1" </dev/null
}
jump alice >/out/jump1 2>&1; echo $? >>/out/jump1
# A new roster, as tunneld writes it: a temporary file renamed over the roster.
cp /opt/warren/roster2 /var/lib/warren/.roster.tmp && mv /var/lib/warren/.roster.tmp /var/lib/warren/roster
i=0; while [ $i -lt 100 ] && ! journalctl -u bastion --no-pager | grep -q "roster serial $S2 applied"; do sleep 0.1; i=$((i + 1)); done
printf 'SSH-2.0-web-1-target\r\n' | timeout 20 nc.openbsd -l -N 100.64.0.3 22 &
sleep 0.3
jump bob >/out/jump2 2>&1; echo $? >>/out/jump2
systemctl reload bastion
sleep 1
systemctl is-active bastion >/out/active
systemctl stop bastion
systemctl show -p Result --value bastion >/out/result
cp /var/log/warren/audit.jsonl /var/lib/warren/bastion/audit.key.pub /out/
# A forbidden system call in the running network process.
systemctl start bastion
i=0; while [ $i -lt 100 ] && ! up; do sleep 0.1; i=$((i + 1)); done
pid=$(systemctl show -p MainPID --value bastion)
timeout 60 gdb -p "$pid" -batch -nx -ex 'call (int)execve((char *)0, (char **)0, (char **)0)' >/out/gdb 2>&1
sleep 1
systemctl show -p ExecMainCode,ExecMainStatus bastion >/out/killed
journalctl -u bastion --no-pager >/out/journal
echo done >/out/done
systemctl poweroff --no-block
SCENARIO
sed -i "s/\$S2/$S2/" "$C/scenario.sh"
nspawn_scenario "$C/scenario.sh" bastion.service bastion.service
for f in roster2 alice bob; do nspawn_bind_ro "$C/$f" "/opt/warren/$f"; done
nspawn_bind_ro "$C/etc" /etc/warren
nspawn_bind "$C/lib" /var/lib/warren
nspawn_mask tunneld@wg0.service
NSB=${RUN}b
ns_add "$NSB"
ip -n "$NSB" link set lo up
ip -n "$NSB" addr add 100.64.0.3/32 dev lo
nspawn_boot "$NSB" 150
cp "$C/out/journal" "$T/bastion.log" 2>/dev/null || true
check "the scenario ran to its end under systemd" test -e "$C/out/done"
st() { awk -v k="$1:" '$1 == k { $1 = ""; sub(/^ /, ""); print }' "$C/out/status" 2>/dev/null; }
assert_eq "Uid: the bastion user" "$BUID $BUID $BUID $BUID" "$(st Uid)"
assert_eq "Gid: the bastion user's group" "$BUID $BUID $BUID $BUID" "$(st Gid)"
assert_eq "no supplementary groups" "" "$(st Groups)"
for c in CapEff CapPrm CapInh CapAmb CapBnd; do assert_eq "$c" 0000000000000000 "$(st "$c")"; done
assert_eq "NoNewPrivs" 1 "$(st NoNewPrivs)"
assert_eq "Seccomp (2: filter)" 2 "$(st Seccomp)"
assert_eq "the keys and the log stay root's" \
	"root 700 /var/lib/warren/bastion|root 600 /var/lib/warren/bastion/audit.key|root 700 /var/log/warren" \
	"$(paste -sd'|' "$C/out/owners" 2>/dev/null)"
assert_match "alice's jump reached web-1 (ssh -W)" "SSH-2.0-web-1-target" "$(cat "$C/out/jump1" 2>/dev/null)"
assert_match "serial $S2 (dropped after the drop) applied" "roster serial $S2 applied" "$(cat "$C/out/journal" 2>/dev/null)"
assert_match "bob's jump (added by serial $S2) reached web-1" "SSH-2.0-web-1-target" "$(cat "$C/out/jump2" 2>/dev/null)"
assert_eq "active after systemctl reload" active "$(cat "$C/out/active" 2>/dev/null)"
assert_nomatch "systemctl reload delivered SIGHUP (root without CAP_KILL cannot signal the User)" \
	"Reload failed" "$(cat "$C/out/journal" 2>/dev/null)"
assert_eq "systemctl stop: result success" success "$(cat "$C/out/result" 2>/dev/null)"
if [ -s "$C/out/audit.key.pub" ]; then
	out=$(timeout 30 "$KEYS_BIN" audit verify "$C/out/audit.jsonl" --key "$(tr -d '\n' <"$C/out/audit.key.pub")" 2>&1) && rc=0 || rc=$?
else
	out="no audit key" rc=1
fi
assert_eq "keys audit verify (output: $out)" 0 "$rc"
assert_eq "execve under systemd: killed by SIGSYS" "ExecMainCode=2|ExecMainStatus=31" \
	"$(paste -sd'|' "$C/out/killed" 2>/dev/null)"
assert_match "systemd logs the kill" "code=killed, status=31/SYS" "$(cat "$C/out/journal" 2>/dev/null)"

finish
