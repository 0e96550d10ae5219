#!/usr/bin/env bash
# README.md (and the docs it leads to), followed as written by a new operator on three fresh
# hosts: the commands are taken from the documents' code blocks (each marked
# `<!-- readme-test: NAME -->`, lib_readme.sh), never retyped, so this test breaks when the
# documentation changes and its commands stop working.
#
# Three nodes, db-1, web-1 and bastion-1, each a fresh Debian system booted by systemd-nspawn
# (real systemd 252, see /work/shared/reference/systemd-in-container.md) in its own namespace on
# one underlay switch; the admin works on this host in ~/warren (HOME is a test directory); the
# engineer alice works in a namespace of her own on the underlay, where bastion.example.com is
# the bastion's underlay address (/etc/hosts) and ~ is a test directory.
#   node:  "install" (make install into the container's own /usr/local, the users, /etc/warren,
#          /var/lib/warren), the node$ lines of "enroll" (its key, its public half)
#   admin: "create" once, then the admin$ lines of "enroll" for each node (enroll, publish,
#          node-config, `keys push` through scp/ssh stand-ins that copy into the node's
#          /var/lib/warren) and "engineer" (alice, allowed on db-1:22 and group:web:22)
#   node:  "start" (wg0.conf and admin.pub into /etc/warren, systemctl enable --now tunneld@wg0);
#          db-1 then docs/tunneld.md's "systemd" block (reload: sessions kept);
#          db-1 and web-1 run sshd with the README's "sshd" block; bastion-1 runs the README's
#          "bastion" block (bastion.conf, systemctl enable --now bastion)
#   alice: the README's "jump" block (ssh -J and scp -J through the bastion to web-1), the same
#          to a node she may not reach (refused), then "ssh-config" (the admin's snippet) and
#          `ssh web-1`; alice also logs in to db-1 from web-1 over the overlay.  The bastion's
#          audit log then verifies with docs/audit.md's "verify" block, as written.
#   rotate: the README's "rotate" block on db-1 with a ping to web-1 running across it: db-1
#          runs the new key, the ping loses at most the README's 2 s.
#   revoke: the README's "revoke" block: web-1 drops db-1, db-1's pings go unanswered, and db-1
#          is not told (no REVOKED line) until the admin runs the README's `keys push
#          db-1.example.net`: then it logs REVOKED and keeps no peer and no overlay address.
# Substitutions, the only ones: PUBKEY/NEWPUBKEY (the node's printed key), and for web-1 and
# bastion-1 the names, group and endpoint of the README's db-1 example.
# run-all: no-sanitizer (README.md as an operator follows it, with the programs as shipped; their paths run under ASan in the other tests)
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "installs tunneld itself"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn (systemd-container) not installed"
need_tunneld
need_keys
need_openssh
. "$ROOT/tests/integration/lib_readme.sh"
DEADLINE=80

# ---------------------------------------------------------------- the hosts
NODES=(db web bastion)
node_add web 2		# underlay 192.0.2.2
node_add db 3		# underlay 192.0.2.3, the README's db-1 endpoint
node_add bastion 4	# underlay 192.0.2.4, bastion.example.com
declare -A HOST=([db]=db-1 [web]=web-1 [bastion]=bastion-1) OTHER=([db]=web [web]=db [bastion]=web)
# The engineer: a namespace on the underlay switch.
ENG_NS=${RUN}eng
ns_add "$ENG_NS"
ip -n "$ENG_NS" link add ul0 type veth peer name peng netns "$SW"
ip -n "$SW" link set dev peng master br0 up
ip -n "$ENG_NS" addr add 192.0.2.9/24 dev ul0
ip -n "$ENG_NS" link set ul0 up
ADMIN_HOME=$T/admin
mkdir -p "$ADMIN_HOME" "$T/shim" "$T/shared"
chmod 0777 "$T/shared"
ssh-keygen -q -t ed25519 -N '' -C alice@laptop -f "$ADMIN_HOME/alice" </dev/null
cp "$ADMIN_HOME/alice" "$T/shared/alice"
cp "$ADMIN_HOME/alice.pub" "$T/shared/alice.pub"

# `keys push` runs scp and ssh; here they copy into the node's /var/lib/warren (bound into its
# container), HOST:PATH by the README's host names.  scp ... SRC HOST:PATH; ssh ... -- HOST CMD.
cat >"$T/shim/node-dir" <<EOF
#!/bin/sh
# HOST PATH -> the test directory that is PATH on that node (only /var/lib/warren is reachable)
case \$1 in *db-1.example.net) d=$T/db/state ;; *web-1.example.net) d=$T/web/state ;;
	*bastion-1.example.net) d=$T/bastion/state ;;
	*) echo "no such host: \$1" >&2; exit 255 ;; esac
case \$2 in /var/lib/warren/*) printf '%s/%s\n' "\$d" "\${2#/var/lib/warren/}" ;;
	*) echo "not reachable here: \$2" >&2; exit 1 ;; esac
EOF
cat >"$T/shim/scp" <<'EOF'
#!/bin/bash
while [ "$1" != -- ]; do shift; done; shift
dst=$("$(dirname "$0")/node-dir" "${2%%:*}" "${2#*:}") || exit 1
exec cp -- "$1" "$dst"
EOF
cat >"$T/shim/ssh" <<'EOF'
#!/bin/bash
while [ "$1" != -- ]; do shift; done; shift
h=$1; shift
[ "$1 $2 $3" = "mv -fT --" ] || { echo "unexpected remote command: $*" >&2; exit 1; }
src=$("$(dirname "$0")/node-dir" "$h" "$4") && dst=$("$(dirname "$0")/node-dir" "$h" "$5") || exit 1
exec mv -fT -- "$src" "$dst"
EOF
chmod 0755 "$T/shim/"*
# admin RUN: one admin$ command line, in ~ with keys (the installed name) on PATH.
mkdir -p "$T/adminbin"
ln -s "$KEYS_BIN" "$T/adminbin/keys"
admin() {
	(cd "$ADMIN_HOME" && HOME=$ADMIN_HOME PATH=$T/shim:$T/adminbin:$PATH timeout 30 sh -ec "$1") \
		>>"$T/admin.log" 2>&1 || fail "admin\$ $1 (exit $?; $(tail -n 3 "$T/admin.log"))"
}
# admin_run LINES: admin for each line, in this shell (a `... | while read` loop would run in a
# subshell, and its failures would not count); no line at all is a failure too.
admin_run() {
	local line
	[ -n "$1" ] || { fail "no admin\$ commands (a README block missing?)"; return 0; }
	while IFS= read -r line; do admin "$line"; done <<<"$1"
}

# ---------------------------------------------------------------- the node scenario
# Runs inside each container once booted; results in /out, then power off.  The README's
# blocks are written to /out as scripts that stop at the first failing line (strict), run from
# /out, where the admin's files land as if copied there.
{ printf 'cd %s\n' "$ROOT"; readme_block install | strict; } >"$T/install.sh"
readme_block enroll | role_lines node | strict >"$T/enroll-node.sh"
readme_block start | strict >"$T/start.sh"
readme_block rotate | role_lines node | strict >"$T/rotate-node.sh"
readme_block sshd >"$T/sshd_config.readme"
doc_block docs/tunneld.md systemd | strict >"$T/systemd.sh"
readme_block bastion | strict >"$T/bastion.sh"
doc_block docs/audit.md verify | strict >"$T/verify.sh"
BUILD_REL=${BUILD#"$ROOT"/}
cat >"$T/scenario.sh" <<'SCENARIO'
#!/bin/bash
# $1: this node's short name (db, web, bastion); /out/env: BUILD_REL (the build make install
# takes), later /out/env2: PEER_OV4 (the node it pings), SELF_OV4, DB_OV4.
exec >/out/scenario.log 2>&1
set -x
. /out/env
waitfile() { local i=0; while [ $i -lt $(($2 * 10)) ] && [ ! -e "$1" ]; do sleep 0.1; i=$((i + 1)); done; [ -e "$1" ]; }
step() { (cd /out && BUILD=$BUILD_REL sh -x "/out/$1.sh") >"/out/$1.out" 2>"/out/$1.err"; echo $? >"/out/$1.rc"; }
# The unit powers the container off when this ends (SuccessAction=, FailureAction=).
finish() {
	journalctl -u tunneld@wg0 --no-pager >/out/journal 2>&1
	journalctl -u bastion --no-pager >/out/journal.bastion 2>&1
	echo done >/out/done; exit 0
}
step install
# make install again: it must be idempotent (the user, /etc/warren, /var/lib/warren exist).
(cd "$(sed -n 's/^cd //p;q' /out/install.sh)" && BUILD=$BUILD_REL make install) >/out/reinstall 2>&1
echo $? >>/out/reinstall
stat -c '%U:%G %a %n' /etc/warren /var/lib/warren >/out/dirs
step enroll-node
waitfile /out/go 60 || finish
. /out/env2
# A sanitizer build (BUILD=build-san): LeakSanitizer's exit check needs ptrace, which the
# units' SystemCallFilter refuses (as in test_systemd_unit); ASan and UBSan stay on.
if grep -qa __asan_init /usr/local/sbin/tunneld; then
	for u in tunneld@ bastion; do
		mkdir -p /etc/systemd/system/$u.service.d
		printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' \
			>/etc/systemd/system/$u.service.d/asan.conf
	done
fi
step start
up() { [ -n "$(wg show wg0 peers 2>/dev/null)" ]; }
i=0; while [ $i -lt 150 ] && ! up; do sleep 0.1; i=$((i + 1)); done
systemctl show -p User,ActiveState --value tunneld@wg0 >/out/unit
keys status --node >/out/status 2>&1; echo $? >>/out/status	# README: the serial it runs
ping -n -q -c 3 -i 0.2 -w 20 "$PEER_OV4" >/out/ping 2>&1; echo $? >>/out/ping
if [ "$1" = bastion ]; then
	step bastion
	up() { systemctl is-active -q bastion && journalctl -u bastion --no-pager | grep -q 'running as user'; }
	i=0; while [ $i -lt 150 ] && ! up; do sleep 0.1; i=$((i + 1)); done
	systemctl show -p ActiveState --value bastion >/out/bastion-unit
	touch /shared/bastion-up
	waitfile /shared/eng-done 60
	step verify
	finish
fi
if [ "$1" = db ]; then
	# docs/tunneld.md "Running under systemd": reload keeps the session to web-1.
	# (no awk here: /usr/bin/awk is an alternatives link into the container's empty /etc)
	peer=$(wg show wg0 allowed-ips | grep -F "	$PEER_OV4/32" | cut -f1)
	hs=$(wg show wg0 latest-handshakes | grep -F "$peer	" | cut -f2)
	step systemd
	sleep 0.5
	systemctl show -p ActiveState --value tunneld@wg0 >/out/unit2
	ping -n -q -c 2 -i 0.2 -w 10 "$PEER_OV4" >/out/ping-reload 2>&1; echo $? >>/out/ping-reload
	echo "$hs $(wg show wg0 latest-handshakes | grep -F "$peer	" | cut -f2)" >/out/hs-reload
fi
# A Debian host with openssh-server: its privilege separation user and host keys; sshd on the
# node's overlay address with the README's lines.
useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd
useradd -m -s /bin/sh alice && usermod -p '*' alice	# no password, not locked
mkdir -p /etc/ssh && ssh-keygen -A
mkdir -p -m 0755 /run/sshd
{ grep -v '^#' /out/sshd_config.readme
  printf 'ListenAddress %s\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n' "$SELF_OV4"
  printf 'AuthorizedKeysFile none\nUsePAM no\nPidFile /run/sshd-test.pid\nLogLevel VERBOSE\n'
  printf 'Subsystem sftp /usr/lib/openssh/sftp-server\n'	# as in Debian's sshd_config (scp)
} >/out/sshd_config
/usr/sbin/sshd -t -f /out/sshd_config >/out/sshd-t 2>&1; echo $? >>/out/sshd-t
# The documented command, as sshd runs it: %u expanded, as AuthorizedKeysCommandUser.
cmd=$(sed -n 's/^AuthorizedKeysCommand  *//p' /out/sshd_config)
user=$(sed -n 's/^AuthorizedKeysCommandUser  *//p' /out/sshd_config)
for u in alice bob; do
	setpriv --reuid="${user:-nobody}" --regid="${user:-nobody}" --init-groups -- \
		env -i PATH=/usr/bin:/bin sh -c "${cmd//%u/$u}" \
		>"/out/akc.$u" 2>"/out/akc.$u.err"; echo $? >"/out/akc.$u.rc"
done
/usr/sbin/sshd -f /out/sshd_config -E /out/sshd.log && touch "/shared/sshd-up-$1"
if [ "$1" = db ]; then
	waitfile /shared/ssh-done 30
else
	waitfile /shared/sshd-up-db 30
	cp /shared/alice /root/alice && chmod 600 /root/alice
	timeout 20 ssh -F /dev/null -i /root/alice -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 "alice@$DB_OV4" 'id -un' \
		>/out/ssh 2>/out/ssh.err; echo $? >>/out/ssh
	touch /shared/ssh-done
fi
waitfile /shared/eng-done 60
# Rotate db-1's key (README "rotate") with a ping to web-1 running across it, then revoke it
# (README "revoke"); the admin pushes both to web-1 only, gossip brings them to db-1.
if [ "$1" = db ]; then
	ping -n -D -i 0.2 -w 40 "$PEER_OV4" >/out/ping-rotate 2>&1 &
	pinger=$!
	sleep 1
	step rotate-node
	waitfile /out/go-rotate 30 || finish
	new=$(tail -n 1 /out/rotate-node.out)
	i=0; while [ $i -lt 200 ] && [ "$(wg show wg0 public-key)" != "$new" ]; do sleep 0.1; i=$((i + 1)); done
	wg show wg0 public-key >/out/key-after
	sleep 2
	kill -INT $pinger; wait $pinger
	ping -n -q -c 3 -i 0.2 -w 20 "$PEER_OV4" >/out/ping2 2>&1; echo $? >>/out/ping2
	# The documented sshd line still finds this node by its (renamed) key.
	setpriv --reuid="${user:-nobody}" --regid="${user:-nobody}" --init-groups -- \
		env -i PATH=/usr/bin:/bin sh -c "${cmd//%u/alice}" >/out/akc2.alice 2>/out/akc2.alice.err
	touch /out/rotate-done
	waitfile /out/go-revoke 30 || finish
	# Revoked: web-1 no longer answers (once it has dropped db-1: /shared/revoked).
	waitfile /shared/revoked 30
	ping -n -q -c 5 -i 0.2 -w 3 "$PEER_OV4" >/out/ping3 2>&1
	sed -n 's/.* \([0-9]*\) received.*/\1/p' /out/ping3 >/out/replies3
	# Nobody has told db-1 (README "Revoke a node"); the admin now hands it the roster.
	journalctl -u tunneld@wg0 --no-pager | grep -c 'REVOKED' >/out/revoked-before
	touch /shared/pinged
	waitfile /out/go-push 30 || finish
	i=0; while [ $i -lt 100 ] && ! journalctl -u tunneld@wg0 --no-pager | grep -q 'REVOKED'; do sleep 0.1; i=$((i + 1)); done
	journalctl -u tunneld@wg0 --no-pager | grep 'REVOKED' | sed 's/^.*tunneld\[[0-9]*\]: tunneld: error: //' >/out/revoked-line
	sleep 0.5
	wg show wg0 peers >/out/peers-pushed 2>&1
	ip -o addr show dev wg0 | sed 's/^[0-9]*: wg0 *\(inet6\{0,1\} [^ ]*\).*/\1/' >/out/addrs-pushed
else
	waitfile /out/go-revoke 60 || finish
	# db-1's peer goes; bastion-1's stays.
	i=0; while [ $i -lt 200 ] && [ "$(wg show wg0 peers | wc -l)" -gt 1 ]; do sleep 0.1; i=$((i + 1)); done
	wg show wg0 peers >/out/peers-after 2>&1
	touch /shared/revoked
	waitfile /shared/pinged 30	# web-1 (and its tunneld) stays up while db-1 pings it
fi
finish
SCENARIO
chmod 0755 "$T/scenario.sh"

# boot NODE: its container, in its namespace, in the background.  Its /usr/local, /var/lib/warren
# and /out are test directories; the source tree is read-only.
boot() {
	local n=$1 C=$T/$1
	mkdir -p "$C/usrlocal" "$C/state" "$C/out" "$C/units"
	chmod 0755 "$C/usrlocal"
	chmod 0777 "$C/out"
	printf 'BUILD_REL=%s\n' "$BUILD_REL" >"$C/out/env"
	cp "$T/install.sh" "$T/enroll-node.sh" "$T/start.sh" "$T/rotate-node.sh" "$T/sshd_config.readme" \
		"$T/systemd.sh" "$T/bastion.sh" "$T/verify.sh" "$C/out/"
	mknod "$C/tun" c 10 200
	chmod 0666 "$C/tun"
	printf '[Unit]\nAfter=multi-user.target\nSuccessAction=poweroff-force\nFailureAction=poweroff-force\n[Service]\nType=oneshot\nExecStart=/opt/scenario.sh %s\n' \
		"$n" >"$C/units/readme-test.service"
	local binds=(--bind-ro="$ROOT:$ROOT" --bind="$C/usrlocal:/usr/local" --bind="$C/state:/var/lib/warren"
		--bind="$C/out:/out" --bind="$T/shared:/shared" --bind="$C/tun:/dev/net/tun"
		--bind-ro="$T/scenario.sh:/opt/scenario.sh"
		--bind-ro="$C/units/readme-test.service:/etc/systemd/system/readme-test.service")
	local u
	for u in systemd-networkd.service systemd-networkd.socket systemd-networkd-wait-online.service \
		systemd-resolved.service nftables.service ssh.service ssh.socket; do
		binds+=(--bind-ro="/dev/null:/etc/systemd/system/$u")
	done
	timeout -k 5 "$DEADLINE" systemd-nspawn --keep-unit --register=no --machine="${RUN}$n" \
		--volatile=yes -D / -b -q --network-namespace-path="/run/netns/${NS[$n]}" \
		--capability=CAP_NET_ADMIN "${binds[@]}" systemd.unit=readme-test.service \
		systemd.firstboot=off >"$T/nspawn.$n.txt" 2>&1 </dev/null &
	BOOT_PID[$n]=$!
	BG_PIDS+=("$!")
}
declare -A BOOT_PID
START=$(now_ms)
admin_run "$(readme_block create)"
for n in "${NODES[@]}"; do boot "$n"; done

# ---------------------------------------------------------------- the admin, per node
ENROLL_ADMIN=$(readme_block enroll | role_lines admin)
declare -A UNDERLAY=([db]=192.0.2.3 [web]=192.0.2.2 [bastion]=192.0.2.4) PUBKEY
for n in "${NODES[@]}"; do
	wait_until 40 test -e "$T/$n/out/enroll-node.rc" || { fail "$n: no key printed"; break; }
	cat "$T/$n/out/install.err" "$T/$n/out/enroll-node.err" >"$T/$n.steps.log" 2>/dev/null || true
	assert_eq "$n: README install block (exit status; $(grep FAILED "$T/$n/out/install.err" || true))" 0 \
		"$(cat "$T/$n/out/install.rc")"
	assert_eq "$n: README enroll node\$ lines (exit status; $(grep FAILED "$T/$n/out/enroll-node.err" || true))" \
		0 "$(cat "$T/$n/out/enroll-node.rc")"
	assert_eq "$n: make install a second time (exit status)" 0 "$(tail -n 1 "$T/$n/out/reinstall")"
	assert_eq "$n: /etc/warren and /var/lib/warren after make install" \
		"root:tunneld 750 /etc/warren|root:root 751 /var/lib/warren" "$(paste -sd'|' "$T/$n/out/dirs")"
	pub=$(tail -n 1 "$T/$n/out/enroll-node.out")
	PUBKEY[$n]=$pub
	log "$n: public key ${pub:-none}"
	sub="s#--pubkey PUBKEY#--pubkey $pub#"
	[ "$n" = db ] || sub="$sub; s/db-1/${HOST[$n]}/g; s/--group db\\b/--group $n/; s/192\\.0\\.2\\.3:/${UNDERLAY[$n]}:/"
	# (the push line then names web-1 twice: once is enough)
	admin_run "$(printf '%s\n' "$ENROLL_ADMIN" | sed "$sub" | sed 's/\( [a-z0-9.-]*\.example\.net\)\1/\1/')"
	mv "$ADMIN_HOME/wg0.conf" "$T/$n/out/wg0.conf"
done
admin_run "$(readme_block engineer)"
# The engineer's roster goes out like any other (the enroll block's push line).
admin "$(printf '%s\n' "$ENROLL_ADMIN" | grep ' push ')"
SERIAL=$(roster_serial_of "$ADMIN_HOME/warren/roster.signed")
ov4() { (cd "$ADMIN_HOME" && "$KEYS_BIN" -C warren show "$1" --json) | sed 's/.*"addresses": \["\([0-9.]*\)".*/\1/'; }
for n in "${NODES[@]}"; do
	printf 'PEER_OV4=%s\nSELF_OV4=%s\nDB_OV4=%s\n' "$(ov4 "${HOST[${OTHER[$n]}]}")" \
		"$(ov4 "${HOST[$n]}")" "$(ov4 db-1)" >"$T/$n/out/env2"
	cp "$ADMIN_HOME/admin.pub" "$T/$n/out/admin.pub" 2>/dev/null || true
	touch "$T/$n/out/go"
done

# ---------------------------------------------------------------- alice, through the bastion
# Her laptop: ~ (bound over /root in her namespace's own mount namespace: ssh takes ~ from the
# password database) holds her key where ssh looks by default, and a config with what every
# engineer sets (her login name on the nodes; first contact accepts and records host keys);
# /etc/hosts plays DNS for bastion.example.com.
ENG_HOME=$T/alice-home
mkdir -p -m 0700 "$ENG_HOME/.ssh"
cp "$ADMIN_HOME/alice" "$ENG_HOME/.ssh/id_ed25519"
cp "$ADMIN_HOME/alice.pub" "$ENG_HOME/.ssh/id_ed25519.pub"
printf 'User alice\nStrictHostKeyChecking accept-new\nBatchMode yes\nConnectTimeout 10\n' >"$ENG_HOME/.ssh/config"
chmod 0600 "$ENG_HOME/.ssh/config" "$ENG_HOME/.ssh/id_ed25519"
printf '127.0.0.1 localhost\n192.0.2.4 bastion.example.com\n' >"$T/eng-hosts"
echo "a file for web-1" >"$ENG_HOME/file"
# eng LINE: LINE as alice runs it, in ~, stdin passed on.
eng() {
	timeout -k 5 40 ip netns exec "$ENG_NS" sh -c \
		'mount --bind "$1" /etc/hosts && mount --bind "$2" /root && cd /root && exec sh -c "$3"' \
		eng "$T/eng-hosts" "$ENG_HOME" "$1"
}
JUMP=$(readme_block jump | sed 's/ *#.*//')
JUMP_SSH=$(printf '%s\n' "$JUMP" | grep '^ssh -J ')
JUMP_SCP=$(printf '%s\n' "$JUMP" | grep '^scp -J ')
bastion_at_serial() { [ "$(roster_serial_of "$T/bastion/state/roster")" = "$SERIAL" ]; }
if wait_until 60 test -e "$T/shared/bastion-up" -a -e "$T/shared/sshd-up-web" &&
	wait_until 30 bastion_at_serial; then
	assert_eq "bastion-1: README bastion block (exit status; $(grep FAILED "$T/bastion/out/bastion.err" || true))" \
		0 "$(cat "$T/bastion/out/bastion.rc")"
	assert_eq "bastion-1: bastion.service active" active "$(cat "$T/bastion/out/bastion-unit")"
	out=$(echo 'id -un; hostname -I' | eng "$JUMP_SSH" 2>"$T/jump.err") && rc=0 || rc=$?
	assert_eq "alice: README '$JUMP_SSH' logs in to web-1 (exit status; $(tail -n 2 "$T/jump.err"))" 0 "$rc"
	assert_match "alice is alice on web-1 ($out)" "^alice" "$out"
	assert_match "on web-1 (its overlay address $(ov4 web-1))" "(^| )$(ov4 web-1)( |\$)" "$out"
	rc=0; eng "$JUMP_SCP" </dev/null >"$T/scp.out" 2>&1 || rc=$?
	assert_eq "alice: README '$JUMP_SCP' (exit status; $(tail -n 2 "$T/scp.out"))" 0 "$rc"
	assert_eq "the file arrived in her home on web-1" "a file for web-1" \
		"$(echo 'cat file' | eng "$JUMP_SSH" 2>/dev/null || true)"
	refused=${JUMP_SSH/% web-1/ bastion-1}
	rc=0; echo 'id -un' | eng "$refused" >"$T/refused.out" 2>&1 || rc=$?
	assert_eq "alice: '$refused' (not in her allow lines) fails" 255 "$rc"
	assert_match "refused by the bastion: administratively prohibited" "administratively prohibited" \
		"$(cat "$T/refused.out")"
	# README: "`ssh bastion` alone only prints ..." (the line quoted there).
	said=$(grep -o '^only prints `[^`]*`' "$ROOT/README.md" | sed 's/^only prints `//; s/`$//')
	# On a terminal, as she would type it (script(1) gives ssh one).
	out=$(eng "script -qec 'ssh alice@bastion.example.com' /dev/null" </dev/null 2>&1 | tr -d '\r' || true)
	assert_match "alice: ssh to the bastion alone prints the README's line ('$said')" "^${said:-none}\$" "$out"
	# The admin's snippet (README "ssh-config"), appended to her ~/.ssh/config: then `ssh web-1`.
	admin_run "$(readme_block ssh-config | sed 's/ *#.*//')"
	cat "$ADMIN_HOME/alice.ssh_config" >>"$ENG_HOME/.ssh/config"
	out=$(echo 'id -un' | eng "ssh web-1" 2>"$T/sshcfg.err") && rc=0 || rc=$?
	assert_eq "alice: 'ssh web-1' with the admin's snippet (exit status; $(tail -n 2 "$T/sshcfg.err"))" \
		"0 alice" "$rc $out"
else
	fail "the bastion (or web-1's sshd) never came up, or never ran serial $SERIAL"
fi
touch "$T/shared/eng-done"

# ---------------------------------------------------------------- rotation and revocation
if wait_until 60 test -e "$T/db/out/rotate-node.rc"; then
	cat "$T/db/out/rotate-node.err" >>"$T/db.steps.log" 2>/dev/null || true
	assert_eq "db: README rotate node\$ lines (exit status; $(grep FAILED "$T/db/out/rotate-node.err" || true))" \
		0 "$(cat "$T/db/out/rotate-node.rc")"
	NEWPUB=$(tail -n 1 "$T/db/out/rotate-node.out")
	admin_run "$(readme_block rotate | role_lines admin | sed "s#--pubkey NEWPUBKEY#--pubkey $NEWPUB#")"
	touch "$T/db/out/go-rotate"
	wait_until 40 test -e "$T/db/out/rotate-done" || fail "db: no rotation"
	admin_run "$(readme_block revoke | role_lines admin)"
	touch "$T/db/out/go-revoke" "$T/web/out/go-revoke"
	# README "Revoke a node": `keys push db-1.example.net` is what tells db-1.
	if wait_until 40 test -e "$T/shared/pinged"; then
		admin "$(grep -o 'keys push db-1\.example\.net' "$ROOT/README.md" | head -n 1 |
			sed 's#^keys #keys -C ~/warren #')"
	fi
	touch "$T/db/out/go-push"
else
	fail "db: the rotation key was never made"
fi
touch "$T/db/out/go-revoke" "$T/web/out/go-revoke" "$T/db/out/go-push"
for n in "${NODES[@]}"; do wait "${BOOT_PID[$n]}" || true; done
log "all nodes done in $(( $(now_ms) - START )) ms"

for n in "${NODES[@]}"; do
	O=$T/$n/out
	cp "$O/journal" "$T/$n.log" 2>/dev/null || true
	cat "$O/start.err" "$O/scenario.log" "$O/sshd.log" "$O/journal.bastion" >>"$T/$n.steps.log" 2>/dev/null || true
	check "$n: the scenario ran to its end under systemd" test -e "$O/done"
	assert_eq "$n: README start block (exit status; $(grep FAILED "$O/start.err" 2>/dev/null || true))" 0 \
		"$(cat "$O/start.rc" 2>/dev/null)"
	assert_eq "$n: tunneld@wg0 runs as tunneld, active" "tunneld|active" \
		"$(paste -sd'|' "$O/unit" 2>/dev/null)"
	assert_eq "$n: ping ${OTHER[$n]} over the overlay (exit status)" 0 "$(tail -n 1 "$O/ping" 2>/dev/null)"
done
O=$T/db/out
assert_eq "db: 'keys status --node' (exit status; $(head -n 1 "$O/status" 2>/dev/null))" 0 "$(tail -n 1 "$O/status" 2>/dev/null)"
assert_match "it shows the serial db-1 runs" "^serial [0-9]+$" "$(cat "$O/status" 2>/dev/null)"
assert_eq "db: docs/tunneld.md systemd block (exit status; $(grep FAILED "$O/systemd.err" 2>/dev/null || true))" \
	0 "$(cat "$O/systemd.rc" 2>/dev/null)"
assert_eq "db: tunneld@wg0 active after it" active "$(cat "$O/unit2" 2>/dev/null)"
read -r hs1 hs2 <"$O/hs-reload" 2>/dev/null || true
assert_eq "db: the reload kept the session (handshake times before, after: $(cat "$O/hs-reload" 2>/dev/null); ping status)" \
	"${hs1:-?} 0" "${hs2:-none} $(tail -n 1 "$O/ping-reload" 2>/dev/null)"
O=$T/bastion/out
assert_eq "bastion-1: docs/audit.md verify block, as written (exit status; $(cat "$O/verify.out" "$O/verify.err" 2>/dev/null | grep -v '^+' | head -n 2))" \
	0 "$(cat "$O/verify.rc" 2>/dev/null)"
assert_match "it says OK" "^OK: [0-9]+ lines" "$(cat "$O/verify.out" 2>/dev/null)"
O=$T/db/out
assert_eq "sshd -t accepts the README's sshd block ($(head -n 2 "$O/sshd-t" 2>/dev/null))" 0 \
	"$(tail -n 1 "$O/sshd-t" 2>/dev/null)"
assert_eq "the AuthorizedKeysCommand for alice on db-1 (exit status; $(cat "$O/akc.alice.err" 2>/dev/null))" \
	0 "$(cat "$O/akc.alice.rc" 2>/dev/null)"
assert_eq "it prints alice's key" "$(cut -d' ' -f1,2 "$ADMIN_HOME/alice.pub")" \
	"$(cut -d' ' -f1,2 "$O/akc.alice" 2>/dev/null)"
assert_eq "it prints nothing for bob (not an engineer), exit 0" "|0" \
	"$(cat "$O/akc.bob" 2>/dev/null)|$(cat "$O/akc.bob.rc" 2>/dev/null)"
assert_eq "alice logs in to db-1 from web-1 over the overlay ($(tail -n 2 "$T/web/out/ssh.err" 2>/dev/null))" \
	"alice|0" "$(paste -sd'|' "$T/web/out/ssh" 2>/dev/null)"
assert_eq "db-1 runs the key it rotated to" "${NEWPUB:-?}" "$(cat "$O/key-after" 2>/dev/null)"
# The ping across the rotation: the README's "loses at most 2 seconds" (10 pings at 0.2 s).
sent=$(sed -n 's/^\([0-9]*\) packets transmitted.*/\1/p' "$O/ping-rotate" 2>/dev/null)
got=$(sed -n 's/.* \([0-9]*\) received.*/\1/p' "$O/ping-rotate" 2>/dev/null)
assert_ge "pings db -> web across the rotation (sent)" 15 "${sent:-0}"
assert_le "of them lost (sent ${sent:-?}, answered ${got:-?})" 10 "$(( ${sent:-0} - ${got:-0} ))"
assert_eq "ping db -> web after the rotation (exit status)" 0 "$(tail -n 1 "$O/ping2" 2>/dev/null)"
assert_eq "the AuthorizedKeysCommand after the rotation prints alice's key ($(cat "$O/akc2.alice.err" 2>/dev/null))" \
	"$(cut -d' ' -f1,2 "$ADMIN_HOME/alice.pub")" "$(cut -d' ' -f1,2 "$O/akc2.alice" 2>/dev/null)"
assert_eq "db-1 revoked: its pings to web-1 get no reply" 0 "$(cat "$O/replies3" 2>/dev/null || echo missing)"
assert_eq "db-1 revoked: web-1 keeps only bastion-1's peer" "${PUBKEY[bastion]:-?}" \
	"$(cat "$T/web/out/peers-after" 2>/dev/null || echo missing)"
assert_eq "db-1 revoked but not told: no REVOKED line before the push" 0 \
	"$(cat "$O/revoked-before" 2>/dev/null || echo missing)"
assert_match "after 'keys push db-1.example.net' db-1 logs the README's line ($(cat "$O/revoked-line" 2>/dev/null))" \
	"^wg0: REVOKED: this node's key is not in roster serial [0-9]+ of network prod: every peer removed, carrying no traffic$" \
	"$(cat "$O/revoked-line" 2>/dev/null)"
assert_eq "and keeps no peer" "" "$(cat "$O/peers-pushed" 2>/dev/null || echo missing)"
assert_eq "and no overlay address" "" "$( [ -e "$O/addrs-pushed" ] && { grep -v '^inet6 fe80' "$O/addrs-pushed" || true; } || echo missing)"
assert_le "the whole run (install to revocation), ms" 90000 "$(( $(now_ms) - START ))"

finish
