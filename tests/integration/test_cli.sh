#!/usr/bin/env bash
# tunneld's command line contract: config errors as FILE:LINE, key file permissions, running
# unprivileged, clean SIGTERM, --help / bad option exit codes.  tunneld only.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "checks tunneld's own command line (IMPL=$IMPL)"
need_tunneld
node_add a 1
node_add b 2
ifa=${IFN[a]}

# run_td NAME ARGS...: tunneld in a's namespace, 10 s at most; sets RC, OUT (stdout), ERR.
run_td() {
	local name=$1; shift
	RC=0
	ip netns exec "${NS[a]}" timeout -k 2 10 "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null || RC=$?
	OUT=$(cat "$T/$name.out"); ERR=$(cat "$T/$name.err")
}

# 1. unknown key on line 7
bad=$T/bad.conf
cat >"$bad" <<CONF
[Interface]
PrivateKey = ${PRIV[a]}
ListenPort = ${PORT[a]}
Address = ${OV4[a]}/32

[Peer]
Frobnicate = yes
PublicKey = ${PUB[b]}
AllowedIPs = ${OV4[b]}/32
CONF
chmod 0600 "$bad"
run_td bad "$TUNNELD" -c "$bad" -i "$ifa"
assert_eq "unknown key on line 7: exit status" 1 "$RC"
assert_match "unknown key on line 7: stderr has \"$bad:7:\"" "$bad:7:" "$ERR"
assert_match "unknown key on line 7: the message quotes the key" "Frobnicate" "$ERR"
check "no interface left behind after a bad config" bash -c "! ip -n ${NS[a]} link show $ifa 2>/dev/null"

# 2. PrivateKeyFile readable by others
key=$T/a.key
printf '%s\n' "${PRIV[a]}" >"$key"
chmod 0644 "$key"
kconf=$T/$ifa.conf
node_peer a b
conf_write a
sed -i "s|^PrivateKey = .*|PrivateKeyFile = $key|" "$kconf"
run_td keyperm "$TUNNELD" -c "$kconf"
assert_eq "PrivateKeyFile mode 0644: exit status" 1 "$RC"
assert_match "PrivateKeyFile mode 0644: stderr names $key" "$key" "$ERR"
check "no interface left behind after the refused key file" bash -c "! ip -n ${NS[a]} link show $ifa 2>/dev/null"

# 3. not privileged: nobody, no capabilities, own copy of binary and config it can read.
chmod 0711 "$T"
nob=$T/nobody
mkdir "$nob"
cp "$TUNNELD" "$nob/tunneld"
cp "$bad" "$nob/ok.conf"
sed -i '/^Frobnicate/d' "$nob/ok.conf"
chown -R nobody "$nob"
chmod 0700 "$nob"
run_td nobody setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	"$nob/tunneld" -c "$nob/ok.conf" -i "$ifa"
assert_eq "run as nobody: exit status" 1 "$RC"
assert_match "run as nobody: a clear error" \
	'[Pp]ermi|[Pp]rivilege|not permitted|CAP_NET_ADMIN|root' "$ERR"
log "nobody's stderr: $(printf '%s' "$ERR" | head -n 2 | tr '\n' ' ')"
chmod 0700 "$T"

# 3b. /dev/net/tun missing: hidden under an empty tmpfs in a private mount namespace.
run_td notun unshare -m sh -c \
	'mount -t tmpfs none /dev/net && exec "$0" "$@"' "$TUNNELD" -c "$nob/ok.conf" -i "$ifa"
assert_eq "/dev/net/tun missing: exit status" 1 "$RC"
assert_match "/dev/net/tun missing: the error names it" '/dev/net/tun is missing' "$ERR"
check "no interface left behind without /dev/net/tun" bash -c "! ip -n ${NS[a]} link show $ifa 2>/dev/null"

# 4. PrivateKeyFile 0600 accepted; SIGTERM exits 0 and removes interface and socket.
chmod 0600 "$key"
ip netns exec "${NS[a]}" "$TUNNELD" -c "$kconf" -v >>"$T/a.log" 2>&1 &
PID[a]=$!
check "PrivateKeyFile mode 0600 accepted: $ifa (name from the file) up, socket answers" \
	wait_until 10 node_ready a
assert_eq "private key loaded from the file" "${PRIV[a]}" "$(nsx a wg show "$ifa" private-key 2>&1)"
check "routes to peer b's AllowedIPs installed" bash -c "ip -n ${NS[a]} route show table all ${OV4[b]} | grep -q $ifa"
rc=0
kill -TERM "${PID[a]}"
if wait_until 10 bash -c "! kill -0 ${PID[a]}"; then wait "${PID[a]}" || rc=$?; else rc=timeout; fi
PID[a]=
assert_eq "SIGTERM: exit status" 0 "$rc"
check "SIGTERM: interface $ifa gone" bash -c "! ip -n ${NS[a]} link show $ifa 2>/dev/null"
check "SIGTERM: /var/run/wireguard/$ifa.sock gone" test ! -e "/var/run/wireguard/$ifa.sock"

# 5. options
run_td help "$TUNNELD" --help
assert_eq "tunneld --help: exit status" 0 "$RC"
assert_match "tunneld --help prints usage" '-c' "$OUT$ERR"
run_td bogus "$TUNNELD" --bogus
assert_eq "tunneld --bogus: exit status" 2 "$RC"
run_td noargs "$TUNNELD"
assert_eq "tunneld without arguments: exit status" 2 "$RC"

finish
