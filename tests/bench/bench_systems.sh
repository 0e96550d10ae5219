# shellcheck shell=bash
# The tunnels `make bench` compares, each between two namespaces of a pair (lib.sh, TOPOLOGY=pair:
# one direct veth, underlay 192.0.2.N/24, overlay 100.64.0.N).  Sourced by bench.sh after lib.sh.
#
#   sys_start SYSTEM A B   starts SYSTEM's daemons on nodes A and B (PID[A], PID[B]; lib.sh's
#                          cleanup kills them by PID and whatever is left in the namespaces),
#                          waits until A reaches B's overlay address; returns 1 if it does not.
#
# Every overlay runs with MTU 1420 (WireGuard's), so all carry the same packets per byte.
# Configurations are the realistic minimum for a point-to-point link with each one's default
# cipher unless stated:
#   tinc 1.0     router mode, UDP, its default cipher and digest (tinc.conf(5) of 1.0.36):
#                AES-256-CBC with HMAC-SHA256 cut to 4 bytes (MACLength 4), RSA-2048 node keys,
#                ConnectTo one way
#   nebula       a CA and two certificates made here (nebula-cert), a static host map, no
#                lighthouse, punchy off, the default cipher AES-256-GCM, firewall allowing all
#   openvpn 2.6  peer-to-peer TLS (tls-server / tls-client), self-signed EC certificates pinned
#                with peer-fingerprint, data channel AES-256-GCM, DCO off (no kernel module)

BENCH_MTU=1420

# sys_addr_route NODE PEER DEV: the overlay address on DEV, up, MTU, a route to PEER's.
sys_addr_route() {
	ip -n "${NS[$1]}" addr replace "${OV4[$1]}/32" dev "$3"
	ip -n "${NS[$1]}" link set "$3" mtu "$BENCH_MTU" up
	ip -n "${NS[$1]}" route replace "${OV4[$2]}/32" dev "$3"
}

# sys_wait A B: A pings B's overlay address within 20 s (handshakes, TLS, key exchange).
sys_wait() {
	for _ in $(seq 20); do
		timeout -k 1 3 ip netns exec "${NS[$1]}" ping -n -q -c 1 -W 1 "${OV4[$2]}" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "bench: ${NODE_IMPL[$1]} $1 -> $2 not up within 20 s; last log lines:"
	tail -n 5 "$T/$1.log" "$T/$2.log" 2>/dev/null | sed 's/^/    /'
	return 1
}

# ---------------------------------------------------------------- WireGuard: tunneld, wireguard-go
# lib.sh's node_start: tunneld -c (routes itself), wireguard-go + wg setconf + routes.
# sys_start_wg A B [TUNNELD]: with TUNNELD, that binary instead of the current build.
sys_start_wg() {
	local a=$1 b=$2 bin=${3:-$TUNNELD}
	node_peer "$a" "$b"
	node_peer "$b" "$a"
	TUNNELD=$bin node_start "$a" && TUNNELD=$bin node_start "$b" && sys_wait "$a" "$b"
}

# ---------------------------------------------------------------- tinc 1.0
tinc_conf() {
	local n=$1 peer=$2 d=$T/tinc-$1 k
	mkdir -p "$d/hosts"
	{
		printf 'Name = %s\nInterface = %s\nMode = router\nAddressFamily = ipv4\n' "$n" "${IFN[$n]}"
		printf 'BindToAddress = %s\nPort = %s\n' "${UL[$n]}" "${PORT[$n]}"
		[ "$3" != connect ] || printf 'ConnectTo = %s\n' "$peer"
	} >"$d/tinc.conf"
	printf 'Address = %s\nPort = %s\nSubnet = %s/32\n' "${UL[$n]}" "${PORT[$n]}" "${OV4[$n]}" \
		>"$d/hosts/$n"
	# -K with stdin not a terminal writes the default files (rsa_key.priv, hosts/NAME) silently.
	timeout -k 2 30 tincd -c "$d" -K2048 </dev/null >>"$T/$n.log" 2>&1
	printf '#!/bin/sh\nip addr add %s/32 dev "$INTERFACE"\nip link set "$INTERFACE" mtu %s up\nip route add %s/32 dev "$INTERFACE"\n' \
		"${OV4[$n]}" "$BENCH_MTU" "${OV4[$peer]}" >"$d/tinc-up"
	chmod 0755 "$d/tinc-up"
	chmod 0700 "$d"
	k=$d/hosts/$n
	[ -s "$k" ] || return 1
}

sys_start_tinc() {
	local a=$1 b=$2 n
	tinc_conf "$a" "$b" connect || return 1
	tinc_conf "$b" "$a" listen || return 1
	cp "$T/tinc-$a/hosts/$a" "$T/tinc-$b/hosts/$a"
	cp "$T/tinc-$b/hosts/$b" "$T/tinc-$a/hosts/$b"
	for n in "$b" "$a"; do
		ip netns exec "${NS[$n]}" tincd -c "$T/tinc-$n" -D -d1 --pidfile="$T/tinc-$n/pid" \
			--logfile="$T/$n.log" </dev/null >>"$T/$n.log" 2>&1 &
		PID[$n]=$!
	done
	sys_wait "$a" "$b"
}

# ---------------------------------------------------------------- nebula
nebula_conf() {
	local n=$1 peer=$2 d=$T/nebula
	cat >"$d/$n.yml" <<-EOF
	pki:
	  ca: $d/ca.crt
	  cert: $d/$n.crt
	  key: $d/$n.key
	static_host_map:
	  "${OV4[$peer]}": ["${UL[$peer]}:${PORT[$peer]}"]
	lighthouse:
	  am_lighthouse: false
	  hosts: []
	listen:
	  host: ${UL[$n]}
	  port: ${PORT[$n]}
	punchy:
	  punch: false
	tun:
	  disabled: false
	  dev: ${IFN[$n]}
	  mtu: $BENCH_MTU
	logging:
	  level: info
	firewall:
	  outbound:
	    - port: any
	      proto: any
	      host: any
	  inbound:
	    - port: any
	      proto: any
	      host: any
	EOF
}

sys_start_nebula() {
	local a=$1 b=$2 d=$T/nebula n
	mkdir -m 0700 "$d"
	timeout -k 2 30 nebula-cert ca -name "warren bench" -duration 24h \
		-out-crt "$d/ca.crt" -out-key "$d/ca.key" >>"$T/$a.log" 2>&1 || return 1
	for n in "$a" "$b"; do
		timeout -k 2 30 nebula-cert sign -name "$n" -ip "${OV4[$n]}/10" -ca-crt "$d/ca.crt" \
			-ca-key "$d/ca.key" -out-crt "$d/$n.crt" -out-key "$d/$n.key" >>"$T/$n.log" 2>&1 || return 1
	done
	nebula_conf "$a" "$b"
	nebula_conf "$b" "$a"
	for n in "$b" "$a"; do
		ip netns exec "${NS[$n]}" nebula -config "$d/$n.yml" </dev/null >>"$T/$n.log" 2>&1 &
		PID[$n]=$!
	done
	sys_wait "$a" "$b"
}

# ---------------------------------------------------------------- openvpn 2.6
openvpn_conf() {
	local n=$1 peer=$2 role=$3 d=$T/openvpn
	{
		printf 'dev %s\ndev-type tun\nproto udp\nlocal %s\nlport %s\n' "${IFN[$n]}" "${UL[$n]}" "${PORT[$n]}"
		printf 'remote %s %s\nifconfig %s %s\ntun-mtu %s\n' "${UL[$peer]}" "${PORT[$peer]}" \
			"${OV4[$n]}" "${OV4[$peer]}" "$BENCH_MTU"
		printf 'tls-%s\ncert %s/%s.crt\nkey %s/%s.key\n' "$role" "$d" "$n" "$d" "$n"
		printf 'peer-fingerprint %s\n' "$(openssl x509 -in "$d/$peer.crt" -noout -fingerprint -sha256 | sed 's/.*=//')"
		[ "$role" != server ] || printf 'dh none\n'
		printf 'data-ciphers AES-256-GCM\ndisable-dco\nverb 3\n'
	} >"$d/$n.conf"
}

sys_start_openvpn() {
	local a=$1 b=$2 d=$T/openvpn n
	mkdir -m 0700 "$d"
	for n in "$a" "$b"; do
		timeout -k 2 30 openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-days 1 -subj "/CN=$n" -keyout "$d/$n.key" -out "$d/$n.crt" >>"$T/$n.log" 2>&1 || return 1
	done
	openvpn_conf "$a" "$b" client
	openvpn_conf "$b" "$a" server
	for n in "$b" "$a"; do
		ip netns exec "${NS[$n]}" openvpn --config "$d/$n.conf" </dev/null >>"$T/$n.log" 2>&1 &
		PID[$n]=$!
	done
	sys_wait "$a" "$b"
}
