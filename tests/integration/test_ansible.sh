#!/usr/bin/env bash
# docs/examples/ansible, run for real: Debian's ansible-core, in an admin namespace (the
# controller and the admin host: the admin directory is there), against two nodes in two
# datacenters (a db and a web node: two groups, the playbook's run_once tasks), each a
# fresh Debian 12 root (lib_debroot.sh) booted with systemd by systemd-nspawn in a namespace of
# its own and reached over ssh on the underlay (192.0.2.0/24; never this host's network).
# The playbook installs the .deb that `make deb` built, makes each node's key on the node,
# enrolls, publishes, pushes, writes wg0.conf and starts tunneld@wg0.  Then:
#   every node pings every other over the overlay;
#   no node's private key is anywhere on the admin side (admin directory, ansible's output);
#   a second run, with one node's key replaced meanwhile, reports changed=0 and failed=0 on
#   the other node and stops the re-keyed one (the role never re-keys a node by itself).
# run-all: timeout 600 (the package and a fresh Debian root come first: 5 to 6 minutes in a clean clone
# beside three other tests)
# run-all: no-sanitizer (packaging: the daemons run from the .deb, built without sanitizers)
# run-all: early (the longest: the package, a Debian root and three plays)
# run-all: after test_deb.sh (which builds the package and the root first, 4 minutes in a clean
# clone: started beside it, this test held a place of the pool for that long doing nothing)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_debroot.sh"

[ "$IMPL" = tunneld ] || skip "installs tunneld itself"
for c in systemd-nspawn dpkg-buildpackage mmdebstrap ansible-playbook ssh-keygen; do
	command -v "$c" >/dev/null || skip "$c not installed (make deps)"
done
need_tunneld
need_keys
START=$(now_ms)
EX=$ROOT/docs/examples/ansible
# Two nodes, not three: the plays are a fifth of make test's CPU time (docs/testing.md,
# "Time budget"), and a third node adds nothing the second does not show.
NODES=(n1 n2)
declare -A HOSTNAME_OF=([n1]=dc1-db-1 [n2]=dc2-web-1) GROUP_OF=([n1]=db [n2]=web)

# 1. The package and the root.
if ! DEB=$(deb_get); then
	fail "make deb ($(tail -n 15 "$T/make-deb.log" 2>/dev/null))"
	finish
fi
if ! DROOT=$(debroot_get "$DEB"); then
	fail "a Debian 12 root with mmdebstrap ($(tail -n 5 "$T/mmdebstrap.log" 2>/dev/null))"
	finish
fi
log "make deb and the root: $(( $(now_ms) - START )) ms"
# Both are built once per make test run (lib_debroot.sh): the time bound below is for the rest.
START=$(now_ms)

# 2. The admin: a namespace on the underlay, HOME with an ssh key the nodes' root accepts and
# an ssh config for ansible's ssh (-F: ssh reads root's own config, not $HOME's), the same
# as -o options for `keys push` (warren_push_ssh_options), keys on PATH.
node_add admin 9
A=$T/admin
mkdir -p "$A/.ssh" "$T/adminbin"
chmod 0700 "$A" "$A/.ssh"
ssh-keygen -q -t ed25519 -N '' -C admin -f "$A/.ssh/id_ed25519" </dev/null
cat >"$A/.ssh/config" <<EOF
Host 192.0.2.*
	User root
	IdentityFile $A/.ssh/id_ed25519
	IdentitiesOnly yes
	StrictHostKeyChecking no
	UserKnownHostsFile /dev/null
	LogLevel ERROR
	BatchMode yes
	ConnectTimeout 10
EOF
ln -s "$KEYS_BIN" "$T/adminbin/keys"
asadmin() {
	timeout -k 5 "$1" ip netns exec "${NS[admin]}" env HOME="$A" PATH="$T/adminbin:$PATH" \
		ANSIBLE_CONFIG="$EX/ansible.cfg" ANSIBLE_LOCAL_TEMP="$A/.ansible/tmp" ANSIBLE_NOCOLOR=1 \
		ANSIBLE_FORCE_COLOR=0 "${@:2}"
}

# 3. The nodes: booted into multi-user.target with sshd (the root's host keys; the admin's key
# for root), /dev/net/tun, and nothing that would configure the namespace's network.
boot() {
	local n=$1 C=$T/$1
	mkdir -p "$C"
	cp "$A/.ssh/id_ed25519.pub" "$C/authorized_keys"
	mknod "$C/tun" c 10 200
	chmod 0666 "$C/tun"
	local binds=(--bind-ro="$C/authorized_keys:/root/.ssh/authorized_keys" --bind="$C/tun:/dev/net/tun")
	local u
	for u in systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service \
		systemd-resolved.service systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer; do
		binds+=(--bind-ro="/dev/null:/etc/systemd/system/$u")
	done
	timeout -k 5 "$(time_left)" systemd-nspawn --keep-unit --register=no --machine="${RUN}$n" \
		--hostname="${HOSTNAME_OF[$n]}" --volatile=overlay -D "$DROOT" -b -q \
		--network-namespace-path="/run/netns/${NS[$n]}" --capability=CAP_NET_ADMIN "${binds[@]}" \
		systemd.firstboot=off >"$T/nspawn.$n.txt" 2>&1 </dev/null &
	BOOT_PID[$n]=$!
	BG_PIDS+=("$!")
}
declare -A BOOT_PID
declare -A NUMS=([n1]=1 [n2]=2)
for n in "${NODES[@]}"; do
	node_add "$n" "${NUMS[$n]}"
	boot "$n"
done
onnode() { local n=$1; shift; asadmin 40 ssh -F "$A/.ssh/config" "root@${UL[$n]}" "$@"; }
sshok() { onnode "$1" true; }
for n in "${NODES[@]}"; do
	wait_until 60 sshok "$n" || { fail "$n: no ssh after 60 s ($(tail -n 5 "$T/nspawn.$n.txt"))"; finish; }
done
BOOTED=$(now_ms)
log "nodes up (sshd answers): $((BOOTED - START)) ms"

# 4. The inventory, and the playbook twice.
{
	printf 'warren_nodes:\n  hosts:\n'
	for n in "${NODES[@]}"; do
		printf '    %s:\n      ansible_host: %s\n      warren_endpoint: "%s:51820"\n      warren_groups: [%s]\n' \
			"${HOSTNAME_OF[$n]}" "${UL[$n]}" "${UL[$n]}" "${GROUP_OF[$n]}"
	done
	printf '  vars:\n    ansible_user: root\n    ansible_python_interpreter: /usr/bin/python3\n'
	printf '    ansible_ssh_common_args: "-F %s"\n' "$A/.ssh/config"
	printf '    warren_network: prod\n    warren_cidr: 100.64.0.0/16\n    warren_admin_dir: "%s"\n' "$A/warren"
	printf '    warren_push_ssh_options: ["IdentityFile=%s", IdentitiesOnly=yes, StrictHostKeyChecking=no,\n' \
		"$A/.ssh/id_ed25519"
	printf '      UserKnownHostsFile=/dev/null, LogLevel=ERROR, BatchMode=yes, ConnectTimeout=10]\n'
} >"$T/inventory.yml"
# play N WHAT CHANGED: runs the playbook (log play N.log), checks its exit status and that every
# node's PLAY RECAP reads changed=CHANGED (a regex) with nothing unreachable or failed.
play() {
	local rc=0 n t0
	t0=$(now_ms)
	(cd "$EX" && asadmin 180 ansible-playbook -i "$T/inventory.yml" site.yml -e "warren_deb=$DEB") \
		>"$T/play$1.log" 2>&1 || rc=$?
	log "$2: $(( $(now_ms) - t0 )) ms"
	assert_eq "$2: ansible-playbook exit status ($(grep -E 'fatal|ERROR' "$T/play$1.log" | head -n 3 | cut -c1-400))" \
		0 "$rc"
	for n in "${NODES[@]}"; do
		kill -0 "${BOOT_PID[$n]}" 2>/dev/null ||
			fail "$2: $n's container stopped during the play ($(tail -n 3 "$T/nspawn.$n.txt" | paste -sd' '))"
		assert_match "$2: ${HOSTNAME_OF[$n]} changed=$3, nothing failed" \
			"^${HOSTNAME_OF[$n]} ok=[0-9]+ changed=$3 unreachable=0 failed=0$" \
			"$(sed -n '/^PLAY RECAP/,$p' "$T/play$1.log" |
				awk -v h="${HOSTNAME_OF[$n]}" '$1 == h && $2 == ":" { print $1, $3, $4, $5, $6 }')"
	done
}
play 1 "first run" '[1-9][0-9]*'

assert_eq "the roster: each node with its inventory name, endpoint and group" \
	"$(for n in "${NODES[@]}"; do printf '%s %s:51820 %s|' "${HOSTNAME_OF[$n]}" "${UL[$n]}" "${GROUP_OF[$n]}"; done)" \
	"$(for n in "${NODES[@]}"; do "$KEYS_BIN" -C "$A/warren" show "${HOSTNAME_OF[$n]}" --json 2>/dev/null |
		sed -n 's/.*"name": "\([^"]*\)".*"endpoints": \["\([^"]*\)"\], "groups": \["\([^"]*\)"\].*/\1 \2 \3|/p'; done | tr -d '\n')"

# 5. The overlay: every node pings every other at the address the roster gave it.
declare -A OVADDR
for n in "${NODES[@]}"; do
	OVADDR[$n]=$("$KEYS_BIN" -C "$A/warren" show "${HOSTNAME_OF[$n]}" --json 2>/dev/null |
		sed -n 's/.*"addresses": \["\([0-9.]*\)".*/\1/p')
done
for n in "${NODES[@]}"; do
	for m in "${NODES[@]}"; do
		[ "$n" != "$m" ] || continue
		out=$(onnode "$n" ping -n -q -c 3 -i 0.2 -w 20 "${OVADDR[$m]:-none}" 2>&1) &&
			pass "$n pings $m over the overlay (${OVADDR[$m]})" ||
			fail "$n pings $m over the overlay (${OVADDR[$m]:-no address}): $(printf '%s' "$out" | tail -n 2)"
	done
	assert_eq "$n: tunneld@wg0 runs as tunneld, enabled" "tunneld|active|enabled" \
		"$(onnode "$n" 'systemctl show -p User,ActiveState --value tunneld@wg0;
			systemctl is-enabled tunneld@wg0' 2>&1 | paste -sd'|' || true)"
done

# 6. The private keys stayed on their nodes.
for n in "${NODES[@]}"; do
	priv=$(onnode "$n" cat /var/lib/warren/wg0.key 2>/dev/null || true)
	[ -n "$priv" ] || { fail "$n: no /var/lib/warren/wg0.key"; continue; }
	hits=$(grep -rlF -- "$priv" "$A" "$T"/play*.log 2>/dev/null || true)
	assert_eq "$n: its private key is nowhere on the admin side" "" "$hits"
done

# 7. Again, with one node's key changed behind the admin's back (reinstalled, or someone
# replaced the file): n1 has nothing to change (changed=0: every task, the run_once ones
# included, which run on n1, is idempotent), and the role stops n2 with the reason and leaves
# the roster alone.  One play for both: the plays are most of this test's CPU time.
onnode n2 rm -f /var/lib/warren/wg0.key || true
t0=$(now_ms)
(cd "$EX" && asadmin 180 ansible-playbook -i "$T/inventory.yml" site.yml -e "warren_deb=$DEB") \
	>"$T/play2.log" 2>&1 && rc=0 || rc=$?
log "second run (n1 idempotent, n2 re-keyed): $(( $(now_ms) - t0 )) ms"
for n in "${NODES[@]}"; do
	kill -0 "${BOOT_PID[$n]}" 2>/dev/null || fail "$n's container stopped during the second run"
done
recap() {
	sed -n '/^PLAY RECAP/,$p' "$T/play2.log" |
		awk -v h="$1" '$1 == h && $2 == ":" { print $1, $3, $4, $5, $6 }'
}
assert_eq "second run: the play fails (n2)" 2 "$rc"
assert_match "second run: ${HOSTNAME_OF[n1]} changed=0, nothing failed (idempotent)" \
	"^${HOSTNAME_OF[n1]} ok=[0-9]+ changed=0 unreachable=0 failed=0$" "$(recap "${HOSTNAME_OF[n1]}")"
assert_match "second run: ${HOSTNAME_OF[n2]} failed" \
	"^${HOSTNAME_OF[n2]} ok=[0-9]+ changed=[0-9]+ unreachable=0 failed=1$" "$(recap "${HOSTNAME_OF[n2]}")"
assert_match "it says n2 is enrolled with another key" \
	"${HOSTNAME_OF[n2]} is enrolled with key .*but the node has" "$(grep -F 'is enrolled with key' "$T/play2.log" || true)"
assert_eq "the roster is untouched (serial 2, no unpublished change)" "2|[]" \
	"$("$KEYS_BIN" status --node --roster "$A/warren/roster.signed" --json 2>/dev/null |
		sed -n 's/.*"serial": \([0-9]*\).*/\1/p')|$("$KEYS_BIN" -C "$A/warren" diff --json 2>/dev/null |
		sed -n 's/.*"rekeyed": \(\[[^]]*\]\).*/\1/p')"

# Power the nodes off (nspawn turns SIGTERM into an orderly shutdown) before the cleanup.
for n in "${NODES[@]}"; do kill "${BOOT_PID[$n]}" 2>/dev/null || true; done
pids_wait_exit 20 "${BOOT_PID[@]}"
# Logged, not bounded: it measured the machine (123-193 s in CI runs beside other tests).
log "the whole test but the package's and the root's builds: $(( $(now_ms) - START )) ms"

finish
