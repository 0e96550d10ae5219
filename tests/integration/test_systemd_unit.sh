#!/usr/bin/env bash
# dist/systemd/tunneld@.service: the unit is checked statically (the directives a tunnel needs,
# `systemd-analyze verify`, `systemd-analyze security` exposure <= 3.0), then run by real
# systemd (252, booted by systemd-nspawn in a's network namespace, see
# /work/shared/reference/systemd-in-container.md) for instance a's interface: systemd starts it
# as the static user tunneld with its StateDirectory (holding the key) handed to that user;
# a must come up with CAP_NET_ADMIN only, reach b, survive `systemctl reload` with its
# session, and on `systemctl stop` remove its interface and its control socket as that user.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "checks tunneld's own unit"
. "$(dirname "$0")/lib_nspawn.sh"
need_tunneld

UNIT=$ROOT/dist/systemd/tunneld@.service
BIN=/usr/local/sbin/tunneld

# unit_key KEY: the value of the last KEY= line (systemd: a later assignment wins).
unit_key() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }

# 1. The directives the brief and docs/tunneld.md promise.
assert_eq "ExecStart" "$BIN -c /etc/warren/%i.conf" "$(unit_key ExecStart)"
assert_eq "Type (READY=1 once the interface, addresses and routes exist)" notify "$(unit_key Type)"
assert_eq "LimitNOFILE (fixed, not the host's default)" 4096 "$(unit_key LimitNOFILE)"
assert_eq "User (static, see the unit's comment)" tunneld "$(unit_key User)"
assert_eq "Group" tunneld "$(unit_key Group)"
assert_eq "AmbientCapabilities" "CAP_NET_ADMIN CAP_NET_BIND_SERVICE" "$(unit_key AmbientCapabilities)"
assert_eq "StateDirectory" warren "$(unit_key StateDirectory)"
assert_eq "StateDirectoryMode (others reach the 0644 roster, not the keys; group tunneld lists)" 0751 "$(unit_key StateDirectoryMode)"
assert_eq "ExecReload" '/bin/kill -HUP $MAINPID' "$(unit_key ExecReload)"
assert_eq "Restart" on-failure "$(unit_key Restart)"
assert_eq "CapabilityBoundingSet" "CAP_NET_ADMIN CAP_NET_BIND_SERVICE" "$(unit_key CapabilityBoundingSet)"
assert_eq "DeviceAllow" "/dev/net/tun rw" "$(unit_key DeviceAllow)"
assert_eq "DevicePolicy" closed "$(unit_key DevicePolicy)"
assert_eq "ProtectSystem" strict "$(unit_key ProtectSystem)"
assert_eq "ReadWritePaths" /run/wireguard "$(unit_key ReadWritePaths)"
assert_eq "RestrictAddressFamilies" "AF_UNIX AF_INET AF_INET6 AF_NETLINK" "$(unit_key RestrictAddressFamilies)"
for k in ProtectHome NoNewPrivileges PrivateTmp; do
	assert_eq "$k" yes "$(unit_key "$k")"
done
assert_nomatch "no directive that would hide /dev/net/tun or the network" \
	'^(PrivateDevices=yes|PrivateUsers=yes|PrivateNetwork=yes|DynamicUser=yes)' "$(cat "$UNIT")"

# 2. systemd's own checks, on a copy whose ExecStart names the built binary (verify insists
# that it exists).
mkdir "$T/units"
sed "s#^ExecStart=$BIN #ExecStart=$TUNNELD #" "$UNIT" >"$T/units/tunneld@.service"
out=$(systemd-analyze verify --man=no "$T/units/tunneld@wg0.service" 2>&1) && rc=0 || rc=$?
assert_eq "systemd-analyze verify tunneld@wg0.service exit status (output: ${out:-none})" 0 "$rc"
out=$(systemd-analyze security --offline=yes "$T/units/tunneld@.service" 2>&1 || true)
score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
log "systemd-analyze security: exposure ${score:-?}"
assert_le "exposure level x10 (systemd-analyze security)" 30 "$(printf '%s' "${score:-99}" | tr -d .)"

# 3. Run it under systemd, for instance = a's interface.  The container shares a's network
# namespace; its root is a tmpfs with the host's /usr (--volatile=yes).  What is bound in: the
# unit as shipped (a drop-in only points ExecStart at the built binary), a passwd/group with the
# tunneld user, a's config in /etc/warren, the state directory holding the key (root-owned here:
# systemd must hand it to tunneld), a 0666 TUN node (what udev's rule makes /dev/net/tun on a
# host; this machine has no udev), the scenario, and /out for the results.
node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start b
ifn=${IFN[a]}
TUID=$((60000 + $$ % 5000))
nspawn_init
nspawn_user tunneld "$TUID" /var/lib/warren
mkdir -p "$C/etc" "$C/state"
conf_write a
(umask 077; printf '%s\n' "${PRIV[a]}" >"$C/state/$ifn.key")
sed "s|^PrivateKey = .*|PrivateKeyFile = /var/lib/warren/$ifn.key|" "$(conf_file a)" >"$C/etc/$ifn.conf"
chgrp "$TUID" "$C/etc" "$C/etc/$ifn.conf"
chmod 0750 "$C/etc"
chmod 0640 "$C/etc/$ifn.conf"
mknod "$C/tun" c 10 200
chmod 0666 "$C/tun"
nspawn_unit "$UNIT" "$TUNNELD" '/opt/warren/tunneld -c /etc/warren/%i.conf'
cat >"$C/scenario.sh" <<SCENARIO
#!/bin/sh
# Runs inside the container once tunneld@$ifn is started; results in /out, then power off.
exec >/out/scenario.log 2>&1
set -x
up() { systemctl is-active -q tunneld@$ifn && wg show $ifn >/dev/null 2>&1; }
i=0; while [ \$i -lt 100 ] && ! up; do sleep 0.1; i=\$((i + 1)); done
pid=\$(systemctl show -p MainPID --value tunneld@$ifn)
cat /proc/\$pid/status >/out/status
stat -c '%u %a %n' /var/lib/warren /var/lib/warren/$ifn.key /run/wireguard/$ifn.sock >/out/owners
ping -n -q -c 3 -i 0.2 -w 10 ${OV4[b]} >/out/ping1 2>&1; echo \$? >>/out/ping1
wg show $ifn latest-handshakes >/out/hs1
sleep 1.2
systemctl reload tunneld@$ifn
sleep 1
systemctl is-active tunneld@$ifn >/out/active
wg show $ifn latest-handshakes >/out/hs2
ping -n -q -c 3 -i 0.2 -w 10 ${OV4[b]} >/out/ping2 2>&1; echo \$? >>/out/ping2
systemctl stop tunneld@$ifn
systemctl show -p Result --value tunneld@$ifn >/out/result
ls /run/wireguard >/out/sockets
ip link show $ifn >/out/link 2>&1; echo \$? >>/out/link
journalctl -u tunneld@$ifn --no-pager >/out/journal
echo done >/out/done
systemctl poweroff --no-block
SCENARIO
nspawn_scenario "$C/scenario.sh" "tunneld@$ifn.service" "tunneld@$ifn.service"
nspawn_bind_ro "$C/etc" /etc/warren
nspawn_bind "$C/state" /var/lib/warren
nspawn_bind "$C/tun" /dev/net/tun
nspawn_boot "${NS[a]}" 120 --capability=CAP_NET_ADMIN
cp "$C/out/journal" "$T/a.log" 2>/dev/null || true
check "the scenario ran to its end under systemd" test -e "$C/out/done"
st() { awk -v k="$1:" '$1 == k {print $2 " " $3 " " $4 " " $5}' "$C/out/status" 2>/dev/null | sed 's/ *$//'; }
cap() { awk -v k="$1:" '$1 == k {print $2}' "$C/out/status" 2>/dev/null; }
assert_eq "a runs as tunneld: Uid" "$TUID $TUID $TUID $TUID" "$(st Uid)"
assert_eq "a runs as tunneld: Gid" "$TUID $TUID $TUID $TUID" "$(st Gid)"
assert_eq "a's effective capabilities once up: CAP_NET_ADMIN" 0000000000001000 "$(cap CapEff)"
assert_eq "a's permitted capabilities" 0000000000001000 "$(cap CapPrm)"
assert_eq "a's ambient capabilities cleared" 0000000000000000 "$(cap CapAmb)"
assert_eq "a's bounding set (the unit's)" 0000000000001400 "$(cap CapBnd)"
assert_eq "no_new_privs" 1 "$(cap NoNewPrivs)"
assert_eq "StateDirectory, the key and the socket are tunneld's" \
	"$TUID 751 /var/lib/warren|$TUID 600 /var/lib/warren/$ifn.key|$TUID 600 /run/wireguard/$ifn.sock" \
	"$(paste -sd'|' "$C/out/owners" 2>/dev/null)"
assert_eq "ping a -> b under systemd (exit status)" 0 "$(tail -n 1 "$C/out/ping1" 2>/dev/null)"
assert_eq "active after systemctl reload" active "$(cat "$C/out/active" 2>/dev/null)"
assert_match "a logged the reload" "configuration reloaded" "$(cat "$C/out/journal" 2>/dev/null)"
# Under systemd stderr is the journal (JOURNAL_STREAM): it stamps the lines, tunneld does not.
check "a's journal lines are the logger's, not stamped twice" \
	grep -Eq '\]: tunneld: info: .*configuration reloaded' "$C/out/journal"
check "no timestamp of tunneld's own in the journal" \
	bash -c "! grep -Eq '\]: [0-9]{4}-[0-9]{2}-[0-9]{2}T' '$C/out/journal'"
assert_eq "a's session with b survives the reload (latest-handshake)" \
	"$(cat "$C/out/hs1" 2>/dev/null)" "$(cat "$C/out/hs2" 2>/dev/null)"
assert_eq "ping a -> b after the reload (exit status)" 0 "$(tail -n 1 "$C/out/ping2" 2>/dev/null)"
assert_eq "systemctl stop: result success" success "$(cat "$C/out/result" 2>/dev/null)"
assert_eq "control socket removed by tunneld (as its user)" "" "$(cat "$C/out/sockets" 2>/dev/null)"
assert_eq "interface $ifn removed" 1 "$(tail -n 1 "$C/out/link" 2>/dev/null)"

finish
