#!/usr/bin/env bash
# README.md, followed as written by a new operator on two fresh hosts: the commands are taken
# from README.md's code blocks (each marked `<!-- readme-test: NAME -->`), never retyped, so
# this test breaks when the README changes and its commands stop working.
#
# Two nodes, db-1 and web-1, each a fresh Debian system booted by systemd-nspawn (real systemd
# 252, see /work/shared/reference/systemd-in-container.md) in its own namespace; a third party,
# the admin, works on this host in ~/warren (HOME is a test directory).
#   node:  "install" (make install into the container's own /usr/local, the user, /etc/warren,
#          /var/lib/warren), the node$ lines of "enroll" (its key, its public half)
#   admin: "create" once, then the admin$ lines of "enroll" for each node (enroll, publish,
#          node-config, `keys push` through scp/ssh stand-ins that copy into the node's
#          /var/lib/warren) and "engineer" (alice, allowed on db-1:22 and group:web:22)
#   node:  "start" (wg0.conf and admin.pub into /etc/warren, systemctl enable --now tunneld@wg0)
# Then each node pings the other over the overlay through its tunneld@wg0 unit, db-1 runs
# sshd with the README's "sshd" block (AuthorizedKeysCommand, AuthorizedKeysCommandUser), and
# alice logs in to db-1 from web-1 over the overlay with her key: the documented line must
# print her key (she is not locked out) and nothing for a login that is not an engineer.
# Substitutions, the only ones: PUBKEY (the node's printed key), and for web-1 the names,
# group and endpoint of the README's db-1 example.
. "$(dirname "$0")/lib.sh"

[ "$IMPL" = tunneld ] || skip "installs tunneld itself"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn (systemd-container) not installed"
need_tunneld
need_keys
need_openssh
README=$ROOT/README.md
DEADLINE=80

# readme_block NAME: the commands of the fenced block after `<!-- readme-test: NAME -->`,
# one per line (backslash continuations joined).  Fails if there is no such block.
readme_block() {
	local out
	out=$(awk -v m="<!-- readme-test: $1 -->" '
		$0 == m { f = 1; next }
		f == 1 && /^```/ { f = 2; next }
		f == 2 && /^```/ { exit }
		f == 2 { if (sub(/\\$/, "")) { buf = buf $0; next } print buf $0; buf = "" }' "$README")
	[ -n "$out" ] || { fail "README.md has no block marked readme-test: $1"; return 1; }
	printf '%s\n' "$out"
}
# role_lines ROLE: the lines of stdin prefixed ROLE$ (prefix removed).
role_lines() { sed -n "s/^$1\\$ *//p"; }
# strict: stdin as a script that stops at the first line that fails, naming it (as an
# operator would; `sh -e` alone lets the left side of `a && b` fail unnoticed).
strict() {
	local line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		printf 'rc=$?; [ $rc -eq 0 ] || { echo "FAILED (exit $rc): %s" >&2; exit $rc; }\n' \
			"$(printf '%s' "$line" | sed 's/[`"$\\]/\\&/g')"
	done
}

# ---------------------------------------------------------------- the two hosts
TOPOLOGY=pair
node_add web 2		# underlay 192.0.2.2
node_add db 3		# underlay 192.0.2.3, the README's db-1 endpoint
declare -A HOST=([db]=db-1 [web]=web-1) OTHER=([db]=web [web]=db)
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

# ---------------------------------------------------------------- the node scenario
# Runs inside each container once booted; results in /out, then power off.  The README's
# blocks are written to /out as scripts that stop at the first failing line (strict), run from
# /out, where the admin's files land as if copied there.
{ printf 'cd %s\n' "$ROOT"; readme_block install | strict; } >"$T/install.sh"
readme_block enroll | role_lines node | strict >"$T/enroll-node.sh"
readme_block start | strict >"$T/start.sh"
readme_block rotate | role_lines node | strict >"$T/rotate-node.sh"
readme_block sshd >"$T/sshd_config.readme"
BUILD_REL=${BUILD#"$ROOT"/}
cat >"$T/scenario.sh" <<'SCENARIO'
#!/bin/bash
# $1: this node's short name (db, web); /out/env: BUILD_REL (the build make install takes),
# later /out/env2: PEER_OV4, DB_OV4.
exec >/out/scenario.log 2>&1
set -x
. /out/env
waitfile() { local i=0; while [ $i -lt $(($2 * 10)) ] && [ ! -e "$1" ]; do sleep 0.1; i=$((i + 1)); done; [ -e "$1" ]; }
step() { (cd /out && BUILD=$BUILD_REL sh -x "/out/$1.sh") >"/out/$1.out" 2>"/out/$1.err"; echo $? >"/out/$1.rc"; }
# The unit powers the container off when this ends (SuccessAction=, FailureAction=).
finish() { journalctl -u tunneld@wg0 --no-pager >/out/journal 2>&1; echo done >/out/done; exit 0; }
step install
# make install again: it must be idempotent (the user, /etc/warren, /var/lib/warren exist).
(cd "$(sed -n 's/^cd //p;q' /out/install.sh)" && BUILD=$BUILD_REL make install) >/out/reinstall 2>&1
echo $? >>/out/reinstall
stat -c '%U:%G %a %n' /etc/warren /var/lib/warren >/out/dirs
step enroll-node
waitfile /out/go 60 || finish
. /out/env2
# A sanitizer build (BUILD=build-san): LeakSanitizer's exit check needs ptrace, which the
# unit's SystemCallFilter refuses (as in test_systemd_unit); ASan and UBSan stay on.
if grep -qa __asan_init /usr/local/sbin/tunneld; then
	mkdir -p /etc/systemd/system/tunneld@.service.d
	printf '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0\n' \
		>/etc/systemd/system/tunneld@.service.d/asan.conf
fi
step start
up() { [ -n "$(wg show wg0 peers 2>/dev/null)" ]; }
i=0; while [ $i -lt 150 ] && ! up; do sleep 0.1; i=$((i + 1)); done
systemctl show -p User,ActiveState --value tunneld@wg0 >/out/unit
ping -n -q -c 3 -i 0.2 -w 20 "$PEER_OV4" >/out/ping 2>&1; echo $? >>/out/ping
if [ "$1" = db ]; then
	# A Debian host with openssh-server: its privilege separation user and host keys.
	useradd --system --no-create-home --home-dir /run/sshd --shell /usr/sbin/nologin sshd
	useradd -m -s /bin/sh alice && usermod -p '*' alice	# no password, not locked
	mkdir -p /etc/ssh && ssh-keygen -A
	mkdir -p -m 0755 /run/sshd
	{ grep -v '^#' /out/sshd_config.readme
	  printf 'ListenAddress %s\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n' "$DB_OV4"
	  printf 'AuthorizedKeysFile none\nUsePAM no\nPidFile /run/sshd-test.pid\nLogLevel VERBOSE\n'
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
	/usr/sbin/sshd -f /out/sshd_config -E /out/sshd.log && touch /shared/sshd-up
	waitfile /shared/ssh-done 30
else
	waitfile /shared/sshd-up 30
	cp /shared/alice /root/alice && chmod 600 /root/alice
	timeout 20 ssh -F /dev/null -i /root/alice -o BatchMode=yes -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o ConnectTimeout=10 "alice@$DB_OV4" 'id -un' \
		>/out/ssh 2>/out/ssh.err; echo $? >>/out/ssh
	touch /shared/ssh-done
fi
# Rotate db-1's key (README "rotate"), then revoke it (README "revoke"); the admin pushes both
# to web-1 only, gossip brings them to db-1.
if [ "$1" = db ]; then
	step rotate-node
	waitfile /out/go-rotate 30 || finish
	new=$(tail -n 1 /out/rotate-node.out)
	i=0; while [ $i -lt 200 ] && [ "$(wg show wg0 public-key)" != "$new" ]; do sleep 0.1; i=$((i + 1)); done
	wg show wg0 public-key >/out/key-after
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
	touch /shared/pinged
else
	waitfile /out/go-revoke 60 || finish
	i=0; while [ $i -lt 200 ] && [ -n "$(wg show wg0 peers)" ]; do sleep 0.1; i=$((i + 1)); done
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
		"$C/out/"
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
readme_block create | while IFS= read -r line; do admin "$line"; done
for n in db web; do boot "$n"; done

# ---------------------------------------------------------------- the admin, per node
ENROLL_ADMIN=$(readme_block enroll | role_lines admin)
for n in db web; do
	wait_until 40 test -e "$T/$n/out/enroll-node.rc" || { fail "$n: no key printed"; break; }
	cat "$T/$n/out/install.err" "$T/$n/out/enroll-node.err" >"$T/$n.steps.log" 2>/dev/null || true
	assert_eq "$n: README install block (exit status; $(grep FAILED "$T/$n/out/install.err" || true))" 0 \
		"$(cat "$T/$n/out/install.rc")"
	assert_eq "$n: README enroll node\$ lines (exit status; $(grep FAILED "$T/$n/out/enroll-node.err" || true))" \
		0 "$(cat "$T/$n/out/enroll-node.rc")"
	assert_eq "$n: make install a second time (exit status)" 0 "$(tail -n 1 "$T/$n/out/reinstall")"
	assert_eq "$n: /etc/warren and /var/lib/warren after make install" \
		"root:tunneld 750 /etc/warren|root:root 711 /var/lib/warren" "$(paste -sd'|' "$T/$n/out/dirs")"
	pub=$(tail -n 1 "$T/$n/out/enroll-node.out")
	log "$n: public key ${pub:-none}"
	sub="s#--pubkey PUBKEY#--pubkey $pub#"
	[ "$n" = db ] || sub="$sub; s/db-1/web-1/g; s/--group db\\b/--group web/; s/192\\.0\\.2\\.3:/192.0.2.2:/"
	printf '%s\n' "$ENROLL_ADMIN" | sed "$sub" | while IFS= read -r line; do admin "$line"; done
	mv "$ADMIN_HOME/wg0.conf" "$T/$n/out/wg0.conf"
done
readme_block engineer | while IFS= read -r line; do admin "$line"; done
# The engineer's roster goes out like any other (the enroll block's push line).
admin "$(printf '%s\n' "$ENROLL_ADMIN" | grep ' push ')"
ov4() { (cd "$ADMIN_HOME" && "$KEYS_BIN" -C warren show "$1" --json) | sed 's/.*"addresses": \["\([0-9.]*\)".*/\1/'; }
for n in db web; do
	printf 'PEER_OV4=%s\nDB_OV4=%s\n' "$(ov4 "${HOST[${OTHER[$n]}]}")" "$(ov4 db-1)" \
		>"$T/$n/out/env2"
	cp "$ADMIN_HOME/admin.pub" "$T/$n/out/admin.pub" 2>/dev/null || true
	touch "$T/$n/out/go"
done
if wait_until 40 test -e "$T/db/out/rotate-node.rc"; then
	cat "$T/db/out/rotate-node.err" >>"$T/db.steps.log" 2>/dev/null || true
	assert_eq "db: README rotate node\$ lines (exit status; $(grep FAILED "$T/db/out/rotate-node.err" || true))" \
		0 "$(cat "$T/db/out/rotate-node.rc")"
	NEWPUB=$(tail -n 1 "$T/db/out/rotate-node.out")
	readme_block rotate | role_lines admin | sed "s#--pubkey NEWPUBKEY#--pubkey $NEWPUB#" |
		while IFS= read -r line; do admin "$line"; done
	touch "$T/db/out/go-rotate"
	wait_until 40 test -e "$T/db/out/rotate-done" || fail "db: no rotation"
	readme_block revoke | role_lines admin | while IFS= read -r line; do admin "$line"; done
else
	fail "db: the rotation key was never made"
fi
touch "$T/db/out/go-revoke" "$T/web/out/go-revoke"
for n in db web; do wait "${BOOT_PID[$n]}" || true; done
log "both nodes done in $(( $(now_ms) - START )) ms"

for n in db web; do
	O=$T/$n/out
	cp "$O/journal" "$T/$n.log" 2>/dev/null || true
	cat "$O/start.err" "$O/scenario.log" "$O/sshd.log" >>"$T/$n.steps.log" 2>/dev/null || true
	check "$n: the scenario ran to its end under systemd" test -e "$O/done"
	assert_eq "$n: README start block (exit status; $(grep FAILED "$O/start.err" 2>/dev/null || true))" 0 \
		"$(cat "$O/start.rc" 2>/dev/null)"
	assert_eq "$n: tunneld@wg0 runs as tunneld, active" "tunneld|active" \
		"$(paste -sd'|' "$O/unit" 2>/dev/null)"
	assert_eq "$n: ping ${OTHER[$n]} over the overlay (exit status)" 0 "$(tail -n 1 "$O/ping" 2>/dev/null)"
done
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
assert_eq "ping db -> web after the rotation (exit status)" 0 "$(tail -n 1 "$O/ping2" 2>/dev/null)"
assert_eq "the AuthorizedKeysCommand after the rotation prints alice's key ($(cat "$O/akc2.alice.err" 2>/dev/null))" \
	"$(cut -d' ' -f1,2 "$ADMIN_HOME/alice.pub")" "$(cut -d' ' -f1,2 "$O/akc2.alice" 2>/dev/null)"
assert_eq "db-1 revoked: its pings to web-1 get no reply" 0 "$(cat "$O/replies3" 2>/dev/null || echo missing)"
assert_eq "db-1 revoked: web-1 has no peer left" "" "$(cat "$T/web/out/peers-after" 2>/dev/null || echo missing)"
assert_le "the whole run (install to revocation), ms" 90000 "$(( $(now_ms) - START ))"

finish
