#!/usr/bin/env bash
# The documented deployment under real systemd (252, nspawn in node a's network namespace,
# lib_nspawn.sh): tunneld@wg0 in roster mode and bastion.service as shipped, on one host, with
# the ssh.service drop-in and Debian's own ssh.service (sshd on a's overlay address).
#  - Readiness (Type=notify): sshd, ordered after tunneld@wg0 by the drop-in, starts only once
#    the overlay address exists (its ExecStartPre records what it sees) and is bound at boot.
#  - Roster mode under ProtectSystem=strict: a pushed Roster.new is claimed and persisted in
#    /var/lib/warren (StateDirectory= is writable by itself; a control run with the same
#    sandbox but no StateDirectory= cannot write there), b is reached, the bastion (same
#    host, its own defaults but AdminKey: port 22, /var/lib/warren/bastion, /var/log/warren)
#    applies the roster tunneld keeps.  A key rotation: Roster.new naming a's new key and
#    `systemctl reload` rename wg0.key.next over wg0.key.  STATUS= lines name the serial.
#  - An engineer's first connection with `keys ssh-config --bastion-host-key`: OpenSSH's
#    client, StrictHostKeyChecking yes, verifies the pinned key and jumps to b; a wrong pin
#    is refused ("Host key verification failed").
#  - systemctl stop: both succeed; `systemd-analyze security`: exposure <= 2.5 each.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "checks tunneld's own unit"
. "$(dirname "$0")/lib_nspawn.sh"
need_tunneld
need_bastion
need_keys
need_openssh

TUNIT=$ROOT/dist/systemd/tunneld@.service
BUNIT=$ROOT/dist/systemd/bastion.service
DROPIN=$ROOT/dist/systemd/ssh.service.d/warren.conf
for u in "$TUNIT:$TUNNELD" "$BUNIT:$BASTION_BIN"; do
	score=$(nspawn_security "${u%%:*}" "${u#*:}")
	log "systemd-analyze security $(basename "${u%%:*}"): exposure $score (x10)"
	assert_le "$(basename "${u%%:*}"): exposure level x10 (systemd-analyze security)" 25 "$score"
done

# The roster: a (this host: node, bastion), b (a node outside, reached over the tunnel, where
# nc plays sshd on the overlay address), engineer alice allowed b:22.  S1 then S2 (a's new key).
roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_enroll a
rnode_enroll b
mkdir -m 0700 "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -C alice -f "$T/ssh/alice"
ssh-keygen -q -t ed25519 -N '' -C wrong -f "$T/ssh/wrong_host"
keys_admin engineer add alice --ssh-key "$T/ssh/alice.pub" --allow 'b:22' >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
S1=$SERIAL
NET=$(sed -n 's/^network \(.*\)$/\1/p' "$ADMIN/roster.signed" | head -n 1)
nspawn_init
install -m 0644 "$ADMIN/roster.signed" "$C/roster1"
new_priv=$(timeout 10 "$KEYS_BIN" genkey)
new_pub=$(printf '%s\n' "$new_priv" | timeout 10 "$KEYS_BIN" pubkey)
keys_admin rotate a --pubkey "$new_pub" >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
S2=$SERIAL
install -m 0644 "$ADMIN/roster.signed" "$C/roster2"
(umask 077; printf '%s\n' "$new_priv" >"$C/a.key.next")
rnode_provision b "$C/roster1"
rnode_start b
ip netns exec "${NS[b]}" timeout -k 2 90 sh -c \
	"i=0; while [ \$i -lt 5 ]; do printf 'SSH-2.0-b-target\r\n' | nc.openbsd -l -N ${OV4[b]} 22; i=\$((i + 1)); done" \
	>/dev/null 2>&1 &
BG_PIDS+=($!)

# The container: users, a's config as `keys node-config` writes it, its key in the state
# directory with the roster of a previous push, the bastion's config (AdminKey alone), sshd on
# a's overlay address (port 2022: the bastion holds 22 on every address).
TUID=$((60000 + $$ % 3000))
BUID=$((63000 + $$ % 2000))
nspawn_user tunneld "$TUID" /var/lib/warren
nspawn_user bastion "$BUID" /nonexistent
mkdir -p "$C/etc" "$C/state" "$C/sshd"
(umask 077; keys_admin node-config a --private-key-file /var/lib/warren/wg0.key \
	--roster-path /var/lib/warren/roster --listen-port "${PORT[a]}" >"$C/etc/wg0.conf" 2>>"$T/keys.err")
printf 'AdminKey = %s\n' "$(keys_admin admin-pubkey)" >"$C/etc/bastion.conf"
chgrp "$TUID" "$C/etc" "$C/etc/wg0.conf"
chmod 0750 "$C/etc"
chmod 0640 "$C/etc/wg0.conf"
chmod 0600 "$C/etc/bastion.conf"
(umask 077; printf '%s\n' "${PRIV[a]}" >"$C/state/wg0.key")
# The roster a persisted from an earlier push: this boot is a reboot, when the overlay address
# (from the roster) must exist before sshd starts.  (On a node's very first start there is no
# roster, hence no address, until the first push: README says so.)
install -m 0644 "$C/roster1" "$C/state/roster"
ssh-keygen -q -t ed25519 -N '' -C a -f "$C/sshd/ssh_host_ed25519_key"
printf 'ListenAddress %s:2022\nHostKey /etc/ssh/ssh_host_ed25519_key\nUsePAM no\nPasswordAuthentication no\n' \
	"${OV4[a]}" >"$C/sshd/sshd_config"
mknod "$C/tun" c 10 200
chmod 0666 "$C/tun"
cp "$T/ssh/alice" "$T/ssh/wrong_host.pub" "$C/"
nspawn_unit "$TUNIT" "$TUNNELD" '/opt/warren/tunneld -c /etc/warren/%i.conf'
nspawn_unit "$BUNIT" "$BASTION_BIN" '/opt/warren/bastion -c /etc/warren/bastion.conf -v'
# Debian's ssh.service as installed, the drop-in as shipped, and a probe of what sshd would
# see at its start (the test's own drop-in).
mkdir -p "$C/units/ssh.service.d"
cp "$DROPIN" "$C/units/ssh.service.d/warren.conf"
printf '[Service]\nExecStartPre=/bin/sh -c "ip -4 -o addr show dev wg0 >/out/addr-at-ssh-start 2>&1; true"\n' \
	>"$C/units/ssh.service.d/probe.conf"
nspawn_bind_ro "$C/units/ssh.service.d" /etc/systemd/system/ssh.service.d
for p in without with; do
	{
		printf '[Service]\nType=oneshot\nUser=tunneld\nProtectSystem=strict\n'
		printf 'ReadWritePaths=/run/wireguard\nExecStart=/usr/bin/touch /var/lib/warren/probe-%s\n' "$p"
		[ "$p" = without ] || printf 'StateDirectory=warren\nStateDirectoryMode=0751\n'
	} >"$T/warren-probe-$p.service"
	nspawn_unit "$T/warren-probe-$p.service"
done
for f in roster1 roster2 alice wrong_host.pub a.key.next; do nspawn_bind_ro "$C/$f" "/opt/warren/$f"; done
nspawn_bind_ro "$KEYS_BIN" /opt/warren/keys
nspawn_bind_ro "$C/etc" /etc/warren
nspawn_bind_ro "$C/sshd" /etc/ssh
nspawn_bind "$C/state" /var/lib/warren
nspawn_bind "$C/tun" /dev/net/tun
cat >"$C/scenario.sh" <<SCENARIO
#!/bin/sh
# Runs once tunneld@wg0, the bastion and ssh are started; results in /out, then power off.
exec >/out/scenario.log 2>&1
set -x
waitfor() { i=0; while [ \$i -lt 150 ] && ! sh -c "\$1"; do sleep 0.1; i=\$((i + 1)); done; }
for u in tunneld@wg0 bastion ssh; do
	systemctl show -p ActiveState,ActiveEnterTimestampMonotonic,InactiveExitTimestampMonotonic \$u >/out/\$u.times
done
ss -Hltn 'sport = :2022' >/out/ssh-listen
ping -n -q -c 3 -i 0.2 -w 15 ${OV4[b]} >/out/ping 2>&1; echo \$? >>/out/ping
waitfor 'journalctl -u bastion --no-pager | grep -q "roster serial $S1"'
systemctl show -p StatusText --value tunneld@wg0 >/out/status1
# The engineer: the bastion's public host key as the admin reads it on the bastion host, the
# snippet and the pin from keys ssh-config, then OpenSSH's client.
ssh-keygen -y -f /var/lib/warren/bastion/ssh_host_ed25519_key >/out/bastion_host.pub
/opt/warren/keys ssh-config alice --bastion 127.0.0.1 --roster /opt/warren/roster1 \
	--identity /opt/warren/alice --bastion-host-key /out/bastion_host.pub \
	--known-hosts /out/known_hosts >/out/alice.config 2>/out/ssh-config.err
/opt/warren/keys ssh-config alice --bastion 127.0.0.1 --roster /opt/warren/roster1 \
	--identity /opt/warren/alice --bastion-host-key /opt/warren/wrong_host.pub \
	--known-hosts /out/known_hosts.wrong >/out/alice-wrong.config 2>>/out/ssh-config.err
jump() { timeout 20 ssh -F "\$1" -o BatchMode=yes -W ${OV4[b]}:22 $NET-bastion </dev/null; }
jump /out/alice.config >/out/jump 2>&1; echo \$? >>/out/jump
jump /out/alice-wrong.config >/out/jump-wrong 2>&1; echo \$? >>/out/jump-wrong
# Rotation: the new key waits as wg0.key.next; keys push writes Roster.new in place (scp),
# tunneld claims it (inotify; the reload looks too) and persists it.
install -m 0600 -o tunneld -g tunneld /opt/warren/a.key.next /var/lib/warren/wg0.key.next
cat /opt/warren/roster2 >/var/lib/warren/roster.new
systemctl reload tunneld@wg0
waitfor '[ ! -e /var/lib/warren/wg0.key.next ]'
waitfor 'grep -q "^serial $S2\$" /var/lib/warren/roster'
{ grep '^serial ' /var/lib/warren/roster; ls /var/lib/warren; } >/out/after-push
waitfor 'systemctl show -p StatusText --value tunneld@wg0 | grep -q "roster serial $S2"'
systemctl show -p StatusText --value tunneld@wg0 >/out/status2
wg show wg0 public-key >/out/pubkey
waitfor 'journalctl -u bastion --no-pager | grep -q "roster serial $S2 applied"'
waitfor 'systemctl show -p StatusText --value bastion | grep -q "roster serial $S2"'
systemctl show -p StatusText --value bastion >/out/bastion-status-inotify
systemctl reload bastion
systemctl show -p ActiveState --value bastion >/out/bastion-active
systemctl show -p StatusText --value bastion >/out/bastion-status
systemctl stop ssh bastion tunneld@wg0
for u in tunneld@wg0 bastion; do systemctl show -p Result --value \$u; done >/out/result
stat -c '%U %a %n' /var/lib/warren /var/lib/warren/roster /var/lib/warren/wg0.key \
	/var/lib/warren/bastion /var/log/warren >/out/owners
# The control: the unit's file system sandbox without StateDirectory= cannot write there.
systemctl start warren-probe-without; echo \$? >/out/control
systemctl start warren-probe-with; echo \$? >>/out/control
journalctl --no-pager -u tunneld@wg0 -u bastion -u ssh >/out/journal
echo done >/out/done
systemctl poweroff --no-block
SCENARIO
nspawn_scenario "$C/scenario.sh" "tunneld@wg0.service bastion.service ssh.service" \
	"tunneld@wg0.service bastion.service ssh.service"
t0=$(now_ms)
nspawn_boot "${NS[a]}" 150 --capability=CAP_NET_ADMIN
log "container ran $(( $(now_ms) - t0 )) ms"
cp "$C/out/journal" "$T/a.log" 2>/dev/null || true
cp "$C/out/scenario.log" "$T/scenario.log" 2>/dev/null || true
O=$C/out
check "the scenario ran to its end under systemd" test -e "$O/done"
tv() { sed -n "s/^$2=//p" "$O/$1.times" 2>/dev/null; }
assert_eq "ssh.service active at boot" active "$(tv ssh ActiveState)"
assert_ge "ssh started after tunneld@wg0 was ready (READY=1; monotonic us)" \
	"$(tv tunneld@wg0 ActiveEnterTimestampMonotonic)" "$(tv ssh InactiveExitTimestampMonotonic)"
assert_match "sshd's start saw a's overlay address on wg0" "inet ${OV4[a]}/" "$(cat "$O/addr-at-ssh-start" 2>/dev/null)"
assert_match "sshd bound ${OV4[a]}:2022 at boot" "${OV4[a]}:2022" "$(cat "$O/ssh-listen" 2>/dev/null)"
assert_eq "ping a -> b with the persisted roster (exit status)" 0 "$(tail -n 1 "$O/ping" 2>/dev/null)"
assert_match "STATUS= names the serial" "wg0 up: roster serial $S1" "$(cat "$O/status1" 2>/dev/null)"
assert_match "keys ssh-config pinned the bastion's key" "pinned ssh-ed25519 host key SHA256:" \
	"$(cat "$O/ssh-config.err" 2>/dev/null)"
assert_eq "known_hosts: the alias and the bastion's key" \
	"$NET-bastion $(cut -d' ' -f1-2 "$O/bastion_host.pub" 2>/dev/null)" "$(head -n 1 "$O/known_hosts" 2>/dev/null)"
assert_match "alice's first ssh -W through the bastion, key verified, reached b" "SSH-2.0-b-target" \
	"$(cat "$O/jump" 2>/dev/null)"
assert_eq "with a wrong pin: refused (ssh exit status)" 255 "$(tail -n 1 "$O/jump-wrong" 2>/dev/null)"
assert_match "with a wrong pin: OpenSSH says why" "Host key verification failed" "$(cat "$O/jump-wrong" 2>/dev/null)"
assert_eq "rotation: wg0.key.next renamed over wg0.key (under ProtectSystem=strict)" "$new_priv" \
	"$(cat "$C/state/wg0.key" 2>/dev/null)"
check "rotation: no wg0.key.next left" test ! -e "$C/state/wg0.key.next"
assert_eq "rotation: wg0's public key is the new one" "$new_pub" "$(cat "$O/pubkey" 2>/dev/null)"
assert_eq "the pushed roster.new was claimed and persisted in /var/lib/warren" \
	"serial $S2|bastion|roster|wg0.key" "$(paste -sd'|' "$O/after-push" 2>/dev/null)"
assert_match "STATUS= after the reload names serial $S2" "wg0 up: roster serial $S2" "$(cat "$O/status2" 2>/dev/null)"
assert_match "the bastion's STATUS= follows a roster it saw change (inotify)" "roster serial $S2" \
	"$(cat "$O/bastion-status-inotify" 2>/dev/null)"
assert_eq "the bastion is active after its reload" active "$(cat "$O/bastion-active" 2>/dev/null)"
assert_match "the bastion's STATUS= names serial $S2" "listening on 0.0.0.0 port 22.*roster serial $S2" \
	"$(cat "$O/bastion-status" 2>/dev/null)"
assert_eq "systemctl stop: tunneld@wg0 and bastion succeed" "success|success" "$(paste -sd'|' "$O/result" 2>/dev/null)"
assert_eq "control: without StateDirectory= /var/lib/warren is read-only; with it, writable" \
	"1|0" "$(paste -sd'|' "$O/control" 2>/dev/null)"
assert_eq "owners and modes: state tunneld's (0751, roster 0644, key 0600), the bastion's root's" \
	"tunneld 751 /var/lib/warren|tunneld 644 /var/lib/warren/roster|tunneld 600 /var/lib/warren/wg0.key|root 700 /var/lib/warren/bastion|root 700 /var/log/warren" \
	"$(paste -sd'|' "$O/owners" 2>/dev/null)"

finish
