#!/usr/bin/env bash
# dist/systemd/tunneld@.service: the unit is checked statically (the directives a tunnel needs,
# `systemd-analyze verify`, `systemd-analyze security` exposure <= 3.0), then its ExecStart and
# ExecReload lines are run as systemd would run them for instance a's interface, under the
# unit's own CapabilityBoundingSet and NoNewPrivileges (setpriv): a must come up (and drop to
# CAP_NET_ADMIN + CAP_NET_BIND_SERVICE by itself), reach b, survive the reload with its session,
# and remove its interface on SIGTERM.
# No systemd is needed as PID 1; what needs one (DeviceAllow, ProtectSystem, ...) is only
# verified, not exercised.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "checks tunneld's own unit"
command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
command -v setpriv >/dev/null && command -v capsh >/dev/null || skip "setpriv or capsh not installed"
need_tunneld

UNIT=$ROOT/dist/systemd/tunneld@.service
BIN=/usr/local/sbin/tunneld

# unit_key KEY: the value of the last KEY= line (systemd: a later assignment wins).
unit_key() { sed -n "s/^$1=//p" "$UNIT" | tail -n 1; }

# 1. The directives the brief and docs/tunneld.md promise.
assert_eq "ExecStart" "$BIN -c /etc/warren/%i.conf" "$(unit_key ExecStart)"
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
assert_nomatch "no directive that would hide /dev/net/tun or strip root's capabilities" \
	'^(PrivateDevices=yes|SecureBits=.*noroot|PrivateUsers=yes|PrivateNetwork=yes)' "$(cat "$UNIT")"

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

# 3. Run it as the unit does, for instance = a's interface name.
node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start b
conf_write a
ifn=${IFN[a]}
# %i -> the instance; /etc/warren -> our directory; the binary -> the one built.
cmd=$(unit_key ExecStart)
cmd=${cmd//%i/$ifn}
cmd=${cmd//\/etc\/warren/$T}
cmd=${cmd/#$BIN/$TUNNELD}
caps=$(unit_key CapabilityBoundingSet | tr 'A-Z ' 'a-z\n' | sed -n 's/^cap_\(.*\)/+\1/p' | paste -sd, -)
nnp=()
[ "$(unit_key NoNewPrivileges)" = yes ] && nnp=(--no-new-privs)
log "ExecStart as run: $cmd  (bounding set -all,$caps ${nnp[*]})"
# shellcheck disable=SC2086  # the command line is split as systemd splits it (no quotes in it)
ip netns exec "${NS[a]}" setpriv --bounding-set "-all,$caps" --inh-caps=-all "${nnp[@]}" \
	$cmd >>"$T/a.log" 2>&1 &
PID[a]=$!
check "a up under the unit's ExecStart and capabilities (interface $ifn, socket)" \
	wait_until 10 node_ready a
# What the daemon holds once up: tunneld drops to these two itself (tunneld/privilege.c).
capset() { capsh --decode="$(awk -v k="$1:" '$1 == k {print $2}' "/proc/${PID[a]}/status")" | cut -d= -f2; }
assert_eq "a's effective capabilities once up" "cap_net_admin,cap_net_bind_service" \
	"$(capset CapEff | tr , '\n' | sort | paste -sd, -)"
assert_eq "a's bounding set once up" "cap_net_admin,cap_net_bind_service" \
	"$(capset CapBnd | tr , '\n' | sort | paste -sd, -)"
check "ping a -> b" ping_ok a "${OV4[b]}"
hs=$(peer_field a b 5)

reload=$(unit_key ExecReload)
reload=${reload//\$MAINPID/${PID[a]}}
$reload
sleep 1
check "ExecReload ($reload) keeps the daemon" pid_alive "${PID[a]}"
assert_match "a logged the reload" "configuration reloaded" "$(cat "$T/a.log")"
assert_eq "a's session with b survives the reload (latest-handshake)" "$hs" "$(peer_field a b 5)"
check "ping a -> b after the reload" ping_ok a "${OV4[b]}"

# systemctl stop sends SIGTERM (the unit sets no KillSignal).
assert_eq "KillSignal unset (SIGTERM)" "" "$(unit_key KillSignal)"
rc=0
node_stop a || rc=$?
assert_eq "exit status after SIGTERM (not a failure for Restart=on-failure)" 0 "$rc"
check "interface $ifn removed" bash -c "! ip -n ${NS[a]} link show $ifn 2>/dev/null"
check "control socket removed" bash -c "[ ! -e /var/run/wireguard/$ifn.sock ]"

finish
