#!/usr/bin/env bash
# The control socket speaks WireGuard's userspace API, so stock wg(8) drives tunneld: `wg set`
# adds, changes and removes peers on a running daemon (routes follow in -c mode), `wg showconf`
# round-trips through `wg setconf`, bad requests get an errno and change nothing, and the socket
# is 0600.
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_peer a b
node_start a
node_start b	# b starts with no peers: everything about a arrives over the UAPI
ifa=${IFN[a]} ifb=${IFN[b]}
sock=/var/run/wireguard/$ifb.sock

assert_eq "socket mode" 600 "$(stat -c %a "$sock")"
assert_eq "b has no peers at start" "" "$(nsx b wg show "$ifb" peers)"
assert_eq "a cannot reach b yet: replies" 0 "$(ping_replies a "${OV4[b]}" 2)"

nsx b wg set "$ifb" peer "${PUB[a]}" allowed-ips "${OV4[a]}/32,${OV6[a]}/128" \
	endpoint "${UL[a]}:${PORT[a]}"
check "wg set added a: ping a -> b" ping_ok a "${OV4[b]}"
check "ping b -> a v6" ping_ok b "${OV6[a]}"
check "b routes a's allowed IPs (route follows wg set)" \
	bash -c "ip -n ${NS[b]} route show table all ${OV4[a]} dev $ifb | grep -q ."

nsx b wg set "$ifb" peer "${PUB[a]}" allowed-ips "${OV4[a]}/32,${OV6[a]}/128,10.99.0.0/16" \
	persistent-keepalive 25
assert_eq "allowed ips replaced" "10.99.0.0/16 ${OV4[a]}/32 ${OV6[a]}/128" \
	"$(nsx b wg show "$ifb" allowed-ips | cut -f2 | tr ' ' '\n' | sort | xargs)"
assert_eq "persistent keepalive" 25 "$(peer_field b a 8)"
check "route for the new allowed IP 10.99.0.0/16" \
	bash -c "ip -n ${NS[b]} route show table all 10.99.0.0/16 dev $ifb | grep -q ."

# showconf -> setconf into a fresh UAPI-only tunneld reproduces the configuration.
conf=$(nsx b wg showconf "$ifb")
assert_match "showconf has the private key" "PrivateKey = ${PRIV[b]//+/\\+}" "$conf"
assert_match "showconf has peer a with its endpoint" "Endpoint = ${UL[a]}:${PORT[a]}" "$conf"
fresh=${RUN}f
ip netns exec "${NS[b]}" "$TUNNELD_UAPI" -f "$fresh" >"$T/fresh.log" 2>&1 &
PID[fresh]=$!; IFN[fresh]=$fresh
wait_until 10 sock_ready "$fresh" || fail "UAPI-only tunneld $fresh did not come up"
# Another identity, so that the copy never handshakes with a in b's name.
printf '%s\n' "$conf" | sed -e "s/^ListenPort = .*/ListenPort = $((PORT[b] + 100))/" \
	-e "s|^PrivateKey = .*|PrivateKey = $(wg genkey)|" >"$T/fresh.conf"
nsx b wg setconf "$fresh" "$T/fresh.conf"
assert_eq "showconf of the copy equals the file it was set from" \
	"$(grep -v '^$' "$T/fresh.conf")" "$(nsx b wg showconf "$fresh" | grep -v '^$')"

# Failures answer errno and change nothing.
out=$(nsx b wg set "$fresh" listen-port "${PORT[b]}" 2>&1) && rc=0 || rc=$?
assert_eq "listen-port already in use: wg set fails" 1 "$rc"
assert_match "the error says why" "Address already in use|in use" "$out"
assert_eq "listen port unchanged after the failure" $((PORT[b] + 100)) \
	"$(nsx b wg show "$fresh" listen-port)"
kill "${PID[fresh]}"
wait "${PID[fresh]}" 2>/dev/null || true
PID[fresh]=

reply=$(printf 'set=1\nbogus_key=1\n\n' | timeout 5 ip netns exec "${NS[b]}" nc -N -U "$sock" || true)
assert_eq "unknown key answers errno=-22" "errno=-22" "$(printf '%s' "$reply" | head -n 1)"
reply=$(printf 'dance=1\n\n' | timeout 5 ip netns exec "${NS[b]}" nc -N -U "$sock" || true)
assert_eq "unknown operation answers errno=-22" "errno=-22" "$(printf '%s' "$reply" | head -n 1)"
reply=$(printf 'set=1\npublic_key=zz\n\n' | timeout 5 ip netns exec "${NS[b]}" nc -N -U "$sock" || true)
assert_eq "malformed key answers errno=-22" "errno=-22" "$(printf '%s' "$reply" | head -n 1)"
assert_eq "b still lists exactly peer a" "${PUB[a]}" "$(nsx b wg show "$ifb" peers)"
check "b still reaches a" ping_ok b "${OV4[a]}"
reply=$(printf 'get=1\n\n' | timeout 5 ip netns exec "${NS[b]}" nc -N -U "$sock" || true)
assert_match "raw get ends with errno=0" "errno=0$" "$reply"
assert_match "raw get reports protocol_version=1" "protocol_version=1" "$reply"

# Preshared key both ways, then removal.
psk=$(wg genpsk)
printf '%s\n' "$psk" >"$T/psk"; chmod 600 "$T/psk"
nsx b wg set "$ifb" peer "${PUB[a]}" preshared-key "$T/psk"
nsx a wg set "$ifa" peer "${PUB[b]}" preshared-key "$T/psk"
assert_eq "preshared key reported" "$psk" "$(peer_field b a 2)"
nsx a wg set "$ifa" peer "${PUB[b]}" endpoint "${UL[b]}:${PORT[b]}"
# Force a fresh handshake under the PSK: a private key change drops every session, so change
# both sides' keys away and back.
for n in a b; do
	nsx "$n" wg set "${IFN[$n]}" private-key <(wg genkey)
	nsx "$n" wg set "${IFN[$n]}" private-key <(printf '%s\n' "${PRIV[$n]}")
done
hs_before=$(peer_field a b 5)
sleep 1.1	# latest-handshake has one-second resolution
check "handshake with the PSK on both sides: ping a -> b" ping_ok a "${OV4[b]}"
check "that was a new handshake" test "$(peer_field a b 5)" -gt "${hs_before:-0}"

nsx b wg set "$ifb" peer "${PUB[a]}" remove
assert_eq "peer removed" "" "$(nsx b wg show "$ifb" peers)"
assert_eq "a's packets no longer get through: replies" 0 "$(ping_replies a "${OV4[b]}" 2)"
check "route for a's allowed IPs removed with the peer" \
	bash -c "! ip -n ${NS[b]} route show table all ${OV4[a]} dev $ifb | grep -q ."

finish
