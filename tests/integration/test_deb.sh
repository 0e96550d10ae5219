#!/usr/bin/env bash
# `make deb` (Debian's dpkg-buildpackage and debhelper, lintian clean), then the package on a
# fresh Debian 12 root (lib_debroot.sh: mmdebstrap minbase and the package's own Depends,
# cached) booted with real systemd by systemd-nspawn in a's network namespace:
#   dpkg -i: the users tunneld and bastion (system, no login), /etc/warren root:tunneld 0750,
#            /var/lib/warren 0751, nothing enabled or started, ssh.service's drop-in read,
#            every file in /etc a conffile, every program's libraries present;
#   the README's steps with the package's paths: a key root's in /var/lib/warren, wg0.conf,
#            `systemctl enable --now tunneld@wg0`: it runs as tunneld, pings b (a tunneld on
#            this host, in b's namespace) over the overlay, survives `systemctl reload`;
#   dpkg -i again (an upgrade): the running tunneld@wg0 restarts onto the new binary;
#   dpkg -r: tunneld@wg0 stopped, wg0 gone, programs and units gone; the key, the config and
#            the users stay;
#   dpkg -P: the package forgotten; the admin's files (and so their directories) stay;
#            installed again and purged with nothing of the admin's: the directories go too.
# run-all: no-sanitizer (packaging: the daemons run from the .deb, built without sanitizers)
# run-all: timeout 600 (whichever of test_deb and test_ansible starts first builds the package
# and the Debian root: make deb alone took 146 s in a clean clone beside four other tests)
# run-all: early (the package and a Debian root first)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_debroot.sh"

[ "$IMPL" = tunneld ] || skip "packages tunneld itself"
for c in systemd-nspawn dpkg-buildpackage lintian mmdebstrap; do
	command -v "$c" >/dev/null || skip "$c not installed (make deps)"
done
need_tunneld
START=$(now_ms)

# 1. The package, built as `make deb` builds it (lintian runs there: any warning fails), once
# per state of the tree (lib_debroot.sh).
if DEB=$(deb_get); then
	pass "make deb (dpkg-buildpackage, lintian clean)"
else
	fail "make deb ($(tail -n 15 "$T/make-deb.log" 2>/dev/null))"
	finish
fi
BUILT=$(now_ms)
log "make deb: $((BUILT - START)) ms"

# 2. The fresh root (cached).
if ! DROOT=$(debroot_get "$DEB"); then
	fail "a Debian 12 root with mmdebstrap ($(tail -n 5 "$T/mmdebstrap.log" 2>/dev/null))"
	finish
fi
ROOTED=$(now_ms)
log "Debian 12 root: $((ROOTED - BUILT)) ms ($DROOT)"

# 3. Peer b: tunneld from this build, in its own namespace; a's key and config for the
# container (the key is root's 0600 file, as `keys genkey` writes it: the unit's
# StateDirectory= hands it to tunneld).
node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start b
C=$T/ct
mkdir -p "$C/in" "$C/out" "$C/units"
chmod 0777 "$C/out"
cp "$DEB" "$C/in/warren.deb"
conf_write a
printf '%s\n' "${PRIV[a]}" >"$C/in/wg0.key"
sed 's|^PrivateKey = .*|PrivateKeyFile = /var/lib/warren/wg0.key|' "$(conf_file a)" >"$C/in/wg0.conf"
mknod "$C/tun" c 10 200
chmod 0666 "$C/tun"
printf '[Unit]\nWants=deb-test.service\n' >"$C/units/deb-test.target"
printf '[Unit]\nAfter=basic.target\n[Service]\nType=oneshot\nExecStart=/opt/scenario.sh\n' \
	>"$C/units/deb-test.service"
cat >"$C/scenario.sh" <<SCENARIO
#!/bin/bash
# Runs inside the container; results in /out, then power off.
exec >/out/scenario.log 2>&1
set -x
waitfor() { local i=0; while [ \$i -lt \$((\$1 * 10)) ] && ! eval "\$2"; do sleep 0.1; i=\$((i + 1)); done; eval "\$2"; }
dpkg -i /in/warren.deb >/out/dpkg-i 2>&1; echo \$? >>/out/dpkg-i
getent passwd tunneld bastion | cut -d: -f1,6,7 >/out/users
for u in tunneld bastion; do id -u \$u; done >/out/uids
getent group tunneld bastion | cut -d: -f1 >/out/groups
stat -c '%U:%G %a %n' /etc/warren /var/lib/warren >/out/dirs
dpkg-query -W -f='\${Conffiles}\n' warren | awk 'NF { print \$1 }' | sort >/out/conffiles
dpkg -L warren | while read -r f; do [ -f "\$f" ] && echo "\$f"; done | grep '^/etc/' | sort >/out/etcfiles
systemctl show -p Wants,After --value ssh.service | tr ' ' '\n' | grep -c '^tunneld@wg0.service\$' >/out/sshdrop
systemctl is-enabled bastion.service >/out/bastion 2>&1
systemctl is-active bastion.service >>/out/bastion 2>&1
for b in /usr/sbin/tunneld /usr/sbin/bastion /usr/bin/keys; do ldd "\$b" | grep "not found"; done >/out/ldd 2>/out/ldd.err
/usr/bin/keys pubkey </in/wg0.key >/out/pubkey 2>&1
for b in /usr/sbin/tunneld /usr/sbin/bastion /usr/bin/keys; do "\$b" --version; done >/out/versions 2>/out/versions.err
dpkg-query -W -f='\${Version}\n' warren >/out/pkgversion
systemctl start tunneld@wg0
systemctl show -p ActiveState,Result,ConditionResult --value tunneld@wg0 >/out/nocfg 2>&1
install -m 600 /in/wg0.key /var/lib/warren/wg0.key
install -m 640 -g tunneld /in/wg0.conf /etc/warren/wg0.conf
systemctl enable --now tunneld@wg0 >/out/start 2>&1; echo \$? >>/out/start
waitfor 15 'ip -br addr show dev wg0 2>/dev/null | grep -q ${OV4[a]}'
systemctl show -p User,ActiveState --value tunneld@wg0 >/out/unit
ping -n -q -c 3 -i 0.2 -w 20 ${OV4[b]} >/out/ping 2>&1; echo \$? >>/out/ping
pid1=\$(systemctl show -p MainPID --value tunneld@wg0)
systemctl reload tunneld@wg0; echo \$? >/out/reload
sleep 0.5
systemctl is-active tunneld@wg0 >>/out/reload
[ "\$(systemctl show -p MainPID --value tunneld@wg0)" = "\$pid1" ] && echo same >>/out/reload
# An upgrade (the same version again: dpkg runs postinst configure with the old version).
dpkg -i /in/warren.deb >/out/upgrade 2>&1; echo \$? >>/out/upgrade
waitfor 15 'systemctl is-active -q tunneld@wg0'
systemctl is-active tunneld@wg0 >>/out/upgrade
[ "\$(systemctl show -p MainPID --value tunneld@wg0)" != "\$pid1" ] && echo restarted >>/out/upgrade
waitfor 15 'ip -br addr show dev wg0 2>/dev/null | grep -q ${OV4[a]}'
ping -n -q -c 3 -i 0.2 -w 20 ${OV4[b]} >/out/ping2 2>&1; echo \$? >>/out/ping2
dpkg -r warren >/out/remove 2>&1; echo \$? >>/out/remove
systemctl is-active tunneld@wg0 >/out/removed 2>&1
ip link show wg0 >/dev/null 2>&1 && echo wg0-present >>/out/removed
ls /usr/sbin/tunneld /usr/sbin/bastion /usr/bin/keys /lib/systemd/system/tunneld@.service \
	/lib/systemd/system/bastion.service >>/out/removed 2>/dev/null
dpkg-query -W -f='\${db:Status-Abbrev}\n' warren >/out/status-r 2>&1
ls /etc/warren/wg0.conf /var/lib/warren/wg0.key >/out/kept-r 2>&1
getent passwd tunneld bastion | cut -d: -f1 >>/out/kept-r
dpkg -P warren >/out/purge 2>&1; echo \$? >>/out/purge
dpkg-query -W -f='\${db:Status-Abbrev}\n' warren >/out/status-p 2>&1; echo \$? >>/out/status-p
ls /etc/warren/wg0.conf /var/lib/warren/wg0.key >/out/kept-p 2>&1
getent passwd tunneld bastion | cut -d: -f1 >>/out/kept-p
ls /etc/systemd/system/multi-user.target.wants/ | grep tunneld >/out/wants-p
# Nothing of the admin's left: purge removes the directories too.
rm -rf /etc/warren/* /var/lib/warren/*
dpkg -i /in/warren.deb >/out/dpkg-i2 2>&1 && dpkg -P warren >>/out/dpkg-i2 2>&1; echo \$? >>/out/dpkg-i2
ls -d /etc/warren /var/lib/warren >/out/gone 2>&1
journalctl -u tunneld@wg0 --no-pager >/out/journal 2>&1
echo done >/out/done
systemctl poweroff --no-block
SCENARIO
chmod 0755 "$C/scenario.sh"
binds=(--bind-ro="$C/in:/in" --bind="$C/out:/out" --bind="$C/tun:/dev/net/tun"
	--bind-ro="$C/scenario.sh:/opt/scenario.sh"
	--bind-ro="$C/units/deb-test.service:/etc/systemd/system/deb-test.service"
	--bind-ro="$C/units/deb-test.target:/etc/systemd/system/deb-test.target")
log "booting the Debian 12 root in a's namespace"
timeout -k 5 90 systemd-nspawn --keep-unit --register=no --machine="${RUN}deb" --volatile=overlay \
	-D "$DROOT" -b -q --network-namespace-path="/run/netns/${NS[a]}" --capability=CAP_NET_ADMIN \
	"${binds[@]}" systemd.unit=deb-test.target systemd.firstboot=off \
	>"$T/nspawn.log" 2>&1 </dev/null || true
BOOTED=$(now_ms)
log "container: $((BOOTED - ROOTED)) ms"
O=$C/out
cp "$O/journal" "$T/a.log" 2>/dev/null || true
cp "$O/scenario.log" "$T/scenario.log" 2>/dev/null || true
check "the scenario ran to its end under systemd" test -e "$O/done"
assert_eq "dpkg -i on a fresh Debian 12 (exit status; $(head -n -1 "$O/dpkg-i" 2>/dev/null | tail -n 3))" \
	0 "$(tail -n 1 "$O/dpkg-i" 2>/dev/null)"
assert_eq "users tunneld and bastion: homes, no login shell" \
	"tunneld:/var/lib/warren:/usr/sbin/nologin|bastion:/nonexistent:/usr/sbin/nologin" \
	"$(paste -sd'|' "$O/users" 2>/dev/null)"
assert_eq "their groups" "tunneld|bastion" "$(paste -sd'|' "$O/groups" 2>/dev/null)"
uids=$(paste -sd' ' "$O/uids" 2>/dev/null)
assert_match "system users (uid below 1000)" '^[1-9][0-9]{0,2} [1-9][0-9]{0,2}$' "$uids"
assert_eq "the directories, with make install's modes" \
	"root:tunneld 750 /etc/warren|root:root 751 /var/lib/warren" "$(paste -sd'|' "$O/dirs" 2>/dev/null)"
assert_eq "every file the package puts in /etc is a conffile (none today)" \
	"$(cat "$O/etcfiles" 2>/dev/null)" "$(cat "$O/conffiles" 2>/dev/null)"
assert_eq "ssh.service wants and follows tunneld@wg0 (the package's drop-in)" 2 \
	"$(cat "$O/sshdrop" 2>/dev/null)"
assert_eq "bastion.service neither enabled nor started" "disabled|inactive" \
	"$(paste -sd'|' "$O/bastion" 2>/dev/null)"
assert_eq "the programs find all their libraries (ldd)" "" "$(cat "$O/ldd" 2>/dev/null || echo missing)"
assert_eq "keys runs (keys pubkey)" "${PUB[a]}" "$(cat "$O/pubkey" 2>/dev/null)"
assert_eq "no /etc/warren/wg0.conf yet: tunneld@wg0 is skipped (ConditionPathExists), not failed (Result, ActiveState, ConditionResult)" \
	"success|inactive|no" "$(paste -sd'|' "$O/nocfg" 2>/dev/null)"
v=$(cat "$O/pkgversion" 2>/dev/null)
assert_eq "--version of each program is the package's (debian/changelog, the one version)" \
	"tunneld ${v:-?}|bastion ${v:-?}|keys ${v:-?}" "$(paste -sd'|' "$O/versions" 2>/dev/null)"
assert_eq "systemctl enable --now tunneld@wg0 (exit status; $(head -n -1 "$O/start" 2>/dev/null))" \
	0 "$(tail -n 1 "$O/start" 2>/dev/null)"
assert_eq "tunneld@wg0 runs as tunneld, active" "tunneld|active" "$(paste -sd'|' "$O/unit" 2>/dev/null)"
assert_eq "ping a -> b over the overlay (exit status)" 0 "$(tail -n 1 "$O/ping" 2>/dev/null)"
assert_eq "systemctl reload tunneld@wg0 (procps' kill): same process, active" "0|active|same" \
	"$(paste -sd'|' "$O/reload" 2>/dev/null)"
assert_eq "an upgrade restarts the running tunneld@wg0 (dpkg -i status, state)" "0|active|restarted" \
	"$(tail -n 3 "$O/upgrade" 2>/dev/null | paste -sd'|')"
assert_eq "ping a -> b after the upgrade (exit status)" 0 "$(tail -n 1 "$O/ping2" 2>/dev/null)"
assert_eq "dpkg -r (exit status; $(head -n -1 "$O/remove" 2>/dev/null | tail -n 3))" 0 \
	"$(tail -n 1 "$O/remove" 2>/dev/null)"
assert_eq "dpkg -r: tunneld@wg0 stopped, wg0 gone, programs and units gone" "inactive" \
	"$(paste -sd'|' "$O/removed" 2>/dev/null)"
assert_eq "dpkg -r: the package's configuration remains (rc)" "rc" "$(tr -d ' ' <"$O/status-r" 2>/dev/null)"
assert_eq "dpkg -r: the admin's key and config, the users stay" \
	"/etc/warren/wg0.conf|/var/lib/warren/wg0.key|tunneld|bastion" "$(paste -sd'|' "$O/kept-r" 2>/dev/null)"
assert_eq "dpkg -P (exit status; $(head -n -1 "$O/purge" 2>/dev/null | tail -n 3))" 0 \
	"$(tail -n 1 "$O/purge" 2>/dev/null)"
assert_match "dpkg -P: the package is forgotten" "no packages found|^un" "$(cat "$O/status-p" 2>/dev/null)"
assert_eq "dpkg -P: the admin's key and config stay, and the users" \
	"/etc/warren/wg0.conf|/var/lib/warren/wg0.key|tunneld|bastion" "$(paste -sd'|' "$O/kept-p" 2>/dev/null)"
assert_eq "dpkg -P: no enablement link left to the removed tunneld@.service" "" \
	"$(cat "$O/wants-p" 2>/dev/null)"
assert_eq "install and purge with nothing of the admin's (exit status)" 0 "$(tail -n 1 "$O/dpkg-i2" 2>/dev/null)"
assert_eq "dpkg -P then removes /etc/warren and /var/lib/warren" 2 \
	"$(grep -c 'No such file' "$O/gone" 2>/dev/null || true)"
# The time of the rest is logged, not bounded: it measured the machine, not the package (31 s
# with nothing beside it, 138 s in a CI run of four tests at a time on two cores).
log "the whole test but the root's build: $(( BOOTED - START - (ROOTED - BUILT) )) ms"

finish
