#!/usr/bin/env bash
# Least privilege (issue 7, item 14): with `User =` (or -u) tunneld opens everything as root,
# then runs as that user, keeping CAP_NET_ADMIN only, plus CAP_NET_BIND_SERVICE when its
# ListenPort is below 1024 (effective, permitted and bounding sets; inheritable and ambient
# empty; no_new_privs).  As that user it still does all it must do later:
#  - config mode: re-reads its file on SIGHUP and changes addresses; removes its control socket
#    and interface at exit;
#  - roster mode: persists a roster dropped as Roster.new (written by root, as scp does),
#    switches to PrivateKeyFile.next and renames it over the key file, in a state directory
#    owned by the user.
# The user exists only inside the test's namespaces (/etc/netns/NS/passwd, bind-mounted by
# `ip netns exec`), so the host's user database is never touched.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "checks tunneld's privilege drop"
need_tunneld
RUN_USER=${RUN}u
RUN_UID=$((60000 + $$ % 5000))
ETC_DIRS=()
# tunneld gives the socket directory to the user's group (sticky): put it back afterwards.
mkdir -p /var/run/wireguard
SOCK_DIR_WAS=$(stat -c '%g %a' /var/run/wireguard)
priv_cleanup() {
	local rc=$? d
	set +eE
	trap - ERR
	chgrp "${SOCK_DIR_WAS%% *}" /var/run/wireguard
	chmod "${SOCK_DIR_WAS#* }" /var/run/wireguard
	for d in "${ETC_DIRS[@]}"; do rm -rf "$d"; done
	rmdir /etc/netns 2>/dev/null	# only if no one else uses it
	return "$rc"
}
trap 'priv_cleanup; cleanup' EXIT

# with_user NODE: NODE's namespace knows RUN_USER (uid = gid = RUN_UID).
with_user() {
	local d=/etc/netns/${NS[$1]}
	mkdir -p "$d"
	ETC_DIRS+=("$d")
	{ cat /etc/passwd; printf '%s:x:%s:%s::/nonexistent:/usr/sbin/nologin\n' "$RUN_USER" "$RUN_UID" "$RUN_UID"; } >"$d/passwd"
	{ cat /etc/group; printf '%s:x:%s:\n' "$RUN_USER" "$RUN_UID"; } >"$d/group"
}

# The user must reach its files under $T.
chmod 0711 "$T"
hex() { printf '%016x' "$1"; }
CAP_ADMIN=$(hex $((1 << 12)))
CAP_ADMIN_BIND=$(hex $(((1 << 12) | (1 << 10))))
status_field() { awk -v k="$2:" '$1 == k {print $2 " " $3 " " $4 " " $5}' "/proc/$1/status" | sed 's/ *$//'; }
cap_field() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

# check_dropped WHAT PID CAPS: uids and gids all RUN_UID, no supplementary groups, the sets.
check_dropped() {
	local what=$1 pid=$2 caps=$3
	assert_eq "$what: Uid (real effective saved fs)" "$RUN_UID $RUN_UID $RUN_UID $RUN_UID" "$(status_field "$pid" Uid)"
	assert_eq "$what: Gid (real effective saved fs)" "$RUN_UID $RUN_UID $RUN_UID $RUN_UID" "$(status_field "$pid" Gid)"
	assert_eq "$what: supplementary groups" "$RUN_UID" "$(status_field "$pid" Groups)"
	assert_eq "$what: CapEff" "$caps" "$(cap_field "$pid" CapEff)"
	assert_eq "$what: CapPrm" "$caps" "$(cap_field "$pid" CapPrm)"
	assert_eq "$what: CapBnd" "$caps" "$(cap_field "$pid" CapBnd)"
	assert_eq "$what: CapInh" 0000000000000000 "$(cap_field "$pid" CapInh)"
	assert_eq "$what: CapAmb" 0000000000000000 "$(cap_field "$pid" CapAmb)"
	assert_eq "$what: NoNewPrivs" 1 "$(cap_field "$pid" NoNewPrivs)"
	# capset, the bounding set and no_new_privs are per thread: every thread must match.
	assert_eq "$what: every thread ($(ls "/proc/$pid/task" | wc -l)) holds the same" \
		"CapBnd:$caps CapEff:$caps CapPrm:$caps NoNewPrivs:1 Uid:$RUN_UID" \
		"$(cat /proc/"$pid"/task/*/status | awk '$1 ~ /^(Uid|CapEff|CapPrm|CapBnd|NoNewPrivs):$/ { print $1 $2 }' | sort -u | paste -sd' ')"
}

# 1. Config mode: a (port 51821, User =) and b (port 853, -u).
node_add a 1
node_add b 2
with_user a
with_user b
PORT[b]=853
node_peer a b
node_peer b a
conf_write a
printf 'User = %s\n' "$RUN_USER" >"$T/user.line"
sed -i "/^\[Interface\]/r $T/user.line" "$(conf_file a)"
chown "$RUN_UID:$RUN_UID" "$(conf_file a)"
ip netns exec "${NS[a]}" "$TUNNELD" -c "$(conf_file a)" -i "${IFN[a]}" -v >>"$T/a.log" 2>&1 &
PID[a]=$!
conf_write b
chown "$RUN_UID:$RUN_UID" "$(conf_file b)"
ip netns exec "${NS[b]}" "$TUNNELD" -c "$(conf_file b)" -i "${IFN[b]}" -u "$RUN_USER" -v >>"$T/b.log" 2>&1 &
PID[b]=$!
check "a up as $RUN_USER" wait_until 10 node_ready a
check "b up as $RUN_USER" wait_until 10 node_ready b
check_dropped "a (port 51821)" "${PID[a]}" "$CAP_ADMIN"
check_dropped "b (port 853)" "${PID[b]}" "$CAP_ADMIN_BIND"
check "ping a -> b" ping_ok a "${OV4[b]}"
check "ping b -> a" ping_ok b "${OV6[a]}"

# SIGHUP as the user: re-read the file, add an address (CAP_NET_ADMIN).
sed -i "s|^Address = .*|&, 100.64.1.1/32|" "$(conf_file a)"
mark=$(log_mark a)
kill -HUP "${PID[a]}"
check "a re-read its file as $RUN_USER and added 100.64.1.1" \
	wait_until 5 bash -c "ip -n ${NS[a]} addr show ${IFN[a]} | grep -q 100.64.1.1/32"
assert_match "a logged the reload" "configuration reloaded" "$(log_since a "$mark")"
# A port below 1024 needs the capability a does not hold: refused, a keeps running.
sed -i "s/^ListenPort = .*/ListenPort = 854/" "$(conf_file a)"
kill -HUP "${PID[a]}"
check "a refuses port 854 without CAP_NET_BIND_SERVICE (logged)" \
	wait_until 5 bash -c "tail -c +$((mark + 1)) '$T/a.log' | grep -q 'cannot listen on UDP port 854'"
check "a still running" pid_alive "${PID[a]}"
check "ping a -> b still" ping_ok a "${OV4[b]}"
check "the UAPI socket is a's, removable by it" test "$(stat -c %u "/var/run/wireguard/${IFN[a]}.sock")" = "$RUN_UID"
rc=0
node_stop a || rc=$?
assert_eq "a's exit status after SIGTERM" 0 "$rc"
check "a's control socket removed at exit (as $RUN_USER)" test ! -e "/var/run/wireguard/${IFN[a]}.sock"
check "a's interface removed" bash -c "! ip -n ${NS[a]} link show ${IFN[a]} 2>/dev/null"
check "the socket directory is sticky" test -k /var/run/wireguard

# A user that does not exist: refused before anything changes.
sed -i "s/^User = .*/User = ${RUN}nouser/" "$(conf_file a)"
rc=0
out=$(ip netns exec "${NS[a]}" timeout 10 "$TUNNELD" -c "$(conf_file a)" -i "${IFN[a]}" 2>&1) || rc=$?
assert_eq "an unknown user: exit status" 1 "$rc"
assert_match "an unknown user is named" "no user '${RUN}nouser'" "$out"
check "and no interface was created" bash -c "! ip -n ${NS[a]} link show ${IFN[a]} 2>/dev/null"

# 2. Roster mode: r runs as the user from a state directory it owns.
roster_admin_init
rnode_add r 5
with_user r
S=$T/state-r
install -d -m 0700 -o "$RUN_UID" -g "$RUN_UID" "$S"
ROSTER_PATH[r]=$S/r.roster
(umask 077; printf '%s\n' "${PRIV[r]}" >"$S/r.key")
chown "$RUN_UID:$RUN_UID" "$S/r.key"
rnode_enroll r
roster_publish
rnode_provision r
chown "$RUN_UID:$RUN_UID" "${ROSTER_PATH[r]}"
keys_admin node-config r --private-key-file "$S/r.key" --roster-path "${ROSTER_PATH[r]}" \
	--listen-port "${PORT[r]}" >"$(conf_file r)" 2>>"$T/keys.err"
printf 'User = %s\n' "$RUN_USER" >>"$(conf_file r)"
chown "$RUN_UID:$RUN_UID" "$(conf_file r)"
chmod 0600 "$(conf_file r)"
rnode_start r
check_dropped "r (roster mode)" "${PID[r]}" "$CAP_ADMIN"

# A roster dropped by root (as scp run by root writes it: 0644, owned by root).
rnode_add s 6
rnode_enroll s
roster_publish
roster_hand r
check "r (as $RUN_USER) persisted the dropped roster, serial $SERIAL" \
	wait_until 10 bash -c "[ \"\$(sed -n 's/^serial //p' '${ROSTER_PATH[r]}')\" = $SERIAL ]"
check "r lists s from the dropped roster" wait_until 5 has_peer r "${PUB[s]}"
check "Roster.new was claimed" wait_until 5 test ! -e "${ROSTER_PATH[r]}.new"
assert_eq "the persisted roster is owned by $RUN_USER" "$RUN_UID" "$(stat -c %u "${ROSTER_PATH[r]}")"
check_dropped "r after a persist (persister thread running)" "${PID[r]}" "$CAP_ADMIN"

# A key rotation: the .next key (the user's, 0600), then the roster with the new key.
new_priv=$(wg genkey)
new_pub=$(printf '%s\n' "$new_priv" | wg pubkey)
(umask 077; printf '%s\n' "$new_priv" >"$S/r.key.next")
chown "$RUN_UID:$RUN_UID" "$S/r.key.next"
keys_admin rotate r --pubkey "$new_pub" >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand r
check "r switched to the new key as $RUN_USER" \
	wait_until 10 bash -c "[ \"\$(ip netns exec ${NS[r]} wg show ${IFN[r]} public-key)\" = '$new_pub' ]"
check "r renamed .next over its key file" \
	wait_until 5 bash -c "[ ! -e '$S/r.key.next' ] && [ \"\$(tr -d '\n' <'$S/r.key')\" = '$new_priv' ]"
check "r still running" pid_alive "${PID[r]}"
check "r still without privileges" test "$(cap_field "${PID[r]}" CapEff)" = "$CAP_ADMIN"

finish
