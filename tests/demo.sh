#!/usr/bin/env bash
# `make demo`: the whole story of a warren network, in network namespaces, built and run the way
# an admin and an engineer do it, explained step by step:
#   two datacenters (fra, ams) joined by a router, four nodes and a bastion host;
#   `keys init`, each node's own key, `keys enroll`, `keys publish`, tunneld in roster mode;
#   an engineer with a plain `ssh -J` through the bastion, and a refusal;
#   a node's key rotated under a running ping, a node revoked, each with its effect shown;
#   what each node runs (`keys status`: the fleet table; `wg show`; the Prometheus metrics of
#   a node and of the bastion, checked by promtool);
#   the bastion's audit log verified.
# Each claim it shows is also checked (PASS/FAIL lines); it exits 1 if one does not hold, so
# tests/integration/test_demo.sh keeps it from rotting.  Needs root (namespaces, TUN).
# Everything it creates is removed on exit.
. "$(dirname "$0")/integration/lib.sh"

KEYS=$BUILD/keys
KEYS_BIN=$KEYS
[ -x "$KEYS" ] || { echo "demo: $KEYS not built (run make)"; exit 1; }
need_tunneld
need_bastion
set -o pipefail
if [ -t 1 ]; then B=$'\033[1m' N=$'\033[0m'; else B= N=; fi
STEP_T0=$(now_ms)
step() { printf '\n%s== %s%s   [%d s]\n' "$B" "$*" "$N" $(( ($(now_ms) - STEP_T0) / 1000 )); }
show() { sed 's/^/     /'; }
# Shows a keys command as the admin would type it, then runs it in the admin directory.
admin() { printf '   admin$ keys %s\n' "$*"; keys_admin "$@" 2>&1 | show; }

# ---------------------------------------------------------------- two datacenters
# A switch per datacenter, both on one router (lib.sh dc_add): fra = 198.51.100.0/25, ams =
# 198.51.100.128/25 (RFC 5737); the bastion's public side and the engineer are 203.0.113.0/24.
# node_key NODE: NODE makes its own key with keys, as an operator does (replacing the one
# rnode_add made); only PUB leaves it.
node_key() {
	(umask 077; "$KEYS" genkey >"$T/$1.key")
	PRIV[$1]=$(cat "$T/$1.key")
	PUB[$1]=$("$KEYS" pubkey <"$T/$1.key")
}
pings() { { ip netns exec "${NS[$1]}" timeout 20 ping -n -q -c "$3" -i 0.2 -W 1 "$2" 2>&1 || true; } | tail -n 2; }

step "1. Two datacenters, fra (198.51.100.0/25) and ams (198.51.100.128/25), joined by a router"
bastion_net_init	# the engineer's side: the public switch 203.0.113.0/24 and her namespace
dc_add fra 198.51.100.126/25
dc_add ams 198.51.100.254/25
declare -A WHERE=([jump]="fra 1" [web-1]="fra 2" [db-1]="fra 3" [web-2]="ams 129" [db-2]="ams 130")
NODES=(jump web-1 db-1 web-2 db-2)
for n in "${NODES[@]}"; do
	read -r d num <<<"${WHERE[$n]}"
	rnode_add "$n" "$num" "$d"
	printf '   %-6s datacenter %s, underlay %s\n' "$n" "${DC[$n]}" "${UL[$n]}"
done
pub_link jump 1 bastion
printf '   jump   also on the public network: %s (the bastion engineers reach)\n' "${PUB_OF[jump]}"

step "2. The admin creates the network: an Ed25519 signing key (stays in the admin directory), serial 1"
rm -rf "$ADMIN" && mkdir -m 0700 "$ADMIN"	# (bastion_net_init made one for the tests)
admin init --network demo --cidr 100.64.0.0/16 --cidr6 fd00:64::/48
printf '   admin public key (every node pins it): %s\n' "$(keys_admin admin-pubkey)"

step "3. Each node makes its own key; only the public half goes to the admin, who enrolls and publishes"
for n in "${NODES[@]}"; do
	node_key "$n"
	printf '   %s$ umask 077; keys genkey > wg0.key; keys pubkey < wg0.key\n     %s\n' "$n" "${PUB[$n]}"
done
for n in "${NODES[@]}"; do
	admin enroll "$n" --pubkey "${PUB[$n]}" --address "${OV4[$n]}" --address "${OV6[$n]}" \
		--endpoint "${UL[$n]}:${PORT[$n]}" --group "${n%-*}"
done
printf '   admin$ keys engineer add alice --ssh-key alice.pub --allow group:web:22\n'
eng_add alice group:web:22
admin publish
admin list

step "4. tunneld in roster mode on every node (the roster handed to each once: keys push)"
# Prometheus metrics (MetricsListen): web-1's tunneld and the bastion.
for n in "${NODES[@]}"; do
	rnode_conf "$n"
	[ "$n" != web-1 ] || printf 'MetricsListen = 127.0.0.1:9586\n' >>"$(conf_file "$n")"
	rnode_provision "$n"
	rnode_start "$n"
done
printf '   %s$ cat /etc/warren/wg0.conf\n' "web-1"
show <"$(conf_file web-1)"
printf '   web-1$ ping %s   (db-2, in the other datacenter)\n' "${OV4[db-2]}"
pings web-1 "${OV4[db-2]}" 3 | show
check "web-1 reaches db-2 across the datacenters" ping_ok web-1 "${OV4[db-2]}"

step "5. The bastion on 'jump', sshd on each node's overlay address (trusting the roster)"
for n in web-1 db-1 web-2 db-2; do sshd_start "$n"; done
bastion_conf jump "MetricsListen = 127.0.0.1:9587"
bastion_start
printf '   jump$ bastion -c bastion.conf   (listening on %s:22, audit log %s)\n' "${PUB_OF[jump]}" "${AUDIT_LOG##*/}"

step "6. alice, from her laptop (she reaches only the bastion): ssh -J alice@bastion web-2"
printf '   alice$ ssh -J alice@bastion web-2 uname -n\n'
out=$(eng_ssh alice -J alice@bastion web-2 uname -n 2>&1 || true)
printf '%s\n' "$out" | show
assert_eq "alice's ssh -J reaches web-2" web-2 "$out"
printf '   alice$ ssh -J alice@bastion db-1 true     (db is not in her allow lines)\n'
out=$(eng_ssh alice -J alice@bastion db-1 true 2>&1 || true)
printf '%s\n' "$out" | show
assert_eq "the bastion refused db-1 (audit log: jump_deny, target db-1)" 1 "$(audit_count jump_deny target=db-1)"

step "7. Rotate web-2's key under a running ping from web-1: the node makes wg0.key.next, the admin rotates"
ip netns exec "${NS[web-1]}" ping -n -i 0.2 -w 25 "${OV4[web-2]}" >"$T/ping-rotate" 2>&1 &
PINGER=$!
BG_PIDS+=("$PINGER")
wait_until 10 grep -q 'bytes from' "$T/ping-rotate" || true
(umask 077; "$KEYS" genkey >"$T/web-2.key.next")
NEWPUB=$("$KEYS" pubkey <"$T/web-2.key.next")
printf '   web-2$ umask 077; keys genkey > wg0.key.next; keys pubkey < wg0.key.next\n     %s\n' "$NEWPUB"
admin rotate web-2 --pubkey "$NEWPUB"
admin publish
SERIAL=$(roster_serial_of "$ADMIN/roster.signed")
printf '   admin$ keys push db-2   (one node; gossip takes it to the others)\n'
roster_hand db-2
t0=$(now_ms)
ms=$(converge_ms "$t0" 30 "$SERIAL" "${NODES[@]}" || true)
printf '   every node runs serial %s after %s ms\n' "$SERIAL" "$ms"
wg_key() { nsx "$1" wg show "${IFN[$1]}" public-key; }
wait_until 15 bash -c "[ \"\$(ip netns exec ${NS[web-2]} wg show ${IFN[web-2]} public-key)\" = '$NEWPUB' ]" || true
printf '   web-2$ wg show wg0 public-key\n     %s\n' "$(wg_key web-2)"
assert_eq "web-2 now answers with the new key" "$NEWPUB" "$(wg_key web-2)"
sleep 2
kill -INT "$PINGER" 2>/dev/null || true
wait "$PINGER" 2>/dev/null || true
tail -n 2 "$T/ping-rotate" | show
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$T/ping-rotate")
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$T/ping-rotate")
assert_le "pings lost across the rotation (at most 2 s of them)" 10 "$(( ${sent:-0} - ${got:-0} ))"

step "8. Revoke db-2: the admin revokes and publishes, and hands the roster to web-1"
admin revoke db-2
admin publish
SERIAL=$(roster_serial_of "$ADMIN/roster.signed")
printf '   admin$ keys push web-1\n'
roster_hand web-1
LIVE=(jump web-1 db-1 web-2)
ms=$(converge_ms "$(now_ms)" 30 "$SERIAL" "${LIVE[@]}" || true)
printf '   every other node runs serial %s after %s ms and has dropped db-2:\n' "$SERIAL" "$ms"
for n in "${LIVE[@]}"; do
	printf '     %-6s peers: %s\n' "$n" "$(wg_peers "$n" | wc -l)"
done
check "web-1 no longer has db-2 as a peer" wait_until 10 bash -c "! ip netns exec ${NS[web-1]} wg show ${IFN[web-1]} peers | grep -qxF '${PUB[db-2]}'"
printf '   db-2$ ping %s   (web-1)\n' "${OV4[web-1]}"
pings db-2 "${OV4[web-1]}" 3 | show
assert_eq "db-2 carries no traffic (replies from web-1)" 0 "$(ping_replies db-2 "${OV4[web-1]}" 3)"
printf '   db-2 itself is not told (its peers no longer talk to it) until it is handed the roster:\n'
printf '   admin$ keys push db-2\n'
roster_hand db-2
wait_until 10 bash -c "grep -q REVOKED '$T/db-2.log'" || true
grep -h 'REVOKED' "$T/db-2.log" | head -n 1 | sed 's/^.*\(REVOKED\)/db-2: \1/' | show
check "db-2 logs that it is revoked once handed the roster" grep -q REVOKED "$T/db-2.log"

step "9. What each node runs: the fleet as web-1 sees it, wg show (the stock tool), metrics"
# The fleet table: this node's tunneld and every other node's own view (GET /v1/status).
printf '   web-1$ keys status --interface wg0\n'
out=$(ip netns exec "${NS[web-1]}" timeout 30 "$KEYS" status --roster "${ROSTER_PATH[web-1]}" \
	--interface "${IFN[web-1]}" 2>&1 || true)
printf '%s\n' "$out" | show
assert_match "the fleet table shows db-1 (another datacenter's node) from web-1" "db-1" "$out"
printf '   web-1$ wg show wg0\n'
nsx web-1 wg show "${IFN[web-1]}" | show
# scrape NODE PORT: the page, through the node's loopback.
scrape() { ip netns exec "${NS[$1]}" timeout 10 curl -fsS "http://127.0.0.1:$2/metrics" 2>&1 || true; }
for m in "web-1 9586 tunneld_peer_receive_bytes_total" "jump 9587 bastion_jumps_total"; do
	read -r n port family <<<"$m"
	printf '   %s$ curl -s http://127.0.0.1:%s/metrics | grep %s\n' "$n" "$port" "$family"
	page=$(scrape "$n" "$port")
	printf '%s\n' "$page" | grep -- "$family" | grep -v ' 0$' | head -n 6 | show
	assert_match "$n's metrics page has $family" "^$family" "$page"
	out=$(printf '%s\n' "$page" | promtool check metrics 2>&1) && rc=0 || rc=$?
	assert_eq "promtool check metrics accepts $n's page ($out)" 0 "$rc"
done

step "10. The bastion's audit log: one JSON line per decision, chained, signed at checkpoints"
bastion_stop || true
cut -c1-150 "$AUDIT_LOG" | show
printf '   admin$ keys audit verify audit.jsonl --key audit.key.pub\n'
out=$(audit_verify "$AUDIT_LOG" || true)
printf '%s\n' "$out" | show
assert_match "the audit log verifies" "^OK: " "$out"

step "11. Tear down: SIGTERM the daemons, delete the namespaces"
for n in "${NODES[@]}"; do node_stop "$n" >/dev/null 2>&1 || true; done
printf '\nDemo done in %d s.\n' $(( ($(now_ms) - STEP_T0) / 1000 ))
finish
