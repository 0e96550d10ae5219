#!/usr/bin/env bash
# Privilege is held only as long as needed: once up, tunneld keeps CAP_NET_ADMIN and
# CAP_NET_BIND_SERVICE only (effective, permitted and bounding sets) with no_new_privs, and still
# does everything a reload needs: re-read its root-owned 0600 files, change addresses and routes,
# bind a new port below 1024.
. "$(dirname "$0")/lib.sh"

node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start a
node_start b
check "ping a -> b" ping_ok a "${OV4[b]}"

status=/proc/${PID[a]}/status
# CAP_NET_BIND_SERVICE = 10, CAP_NET_ADMIN = 12.
assert_eq "effective capabilities" 0000000000001400 "$(awk '/^CapEff/ {print $2}' "$status")"
assert_eq "permitted capabilities" 0000000000001400 "$(awk '/^CapPrm/ {print $2}' "$status")"
assert_eq "bounding set" 0000000000001400 "$(awk '/^CapBnd/ {print $2}' "$status")"
assert_eq "no_new_privs" 1 "$(awk '/^NoNewPrivs/ {print $2}' "$status")"

# A reload that needs both kept capabilities: a port below 1024 and a new address.
PORT[a]=853
sed -i "s/^ListenPort = .*/ListenPort = 853/; s|^Address = .*|&, 100.64.1.1/32|" "$(conf_file a)"
kill -HUP "${PID[a]}"
check "after the reload a listens on port 853" \
	wait_until 5 bash -c "[ \"\$(ip netns exec ${NS[a]} wg show ${IFN[a]} listen-port)\" = 853 ]"
check "the new address is on the interface" \
	wait_until 5 bash -c "ip -n ${NS[a]} addr show ${IFN[a]} | grep -q 100.64.1.1/32"
nsx b wg set "${IFN[b]}" peer "${PUB[a]}" endpoint "${UL[a]}:853"
check "ping b -> a at the new port" ping_ok b "${OV4[a]}"
check "a still running" pid_alive "${PID[a]}"

finish
