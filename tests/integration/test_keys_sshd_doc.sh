#!/usr/bin/env bash
# The sshd_config lines docs/keys.1 gives for a node (AuthorizedKeysCommand = keys
# authorized-keys, AuthorizedKeysCommandUser) work as written: Debian's sshd runs them and alice,
# allowed on web-1 by the roster, logs in.  The node's files are laid out as `make install`
# (/etc/warren 0700) and tunneld (the roster 0644 in /var/lib/warren) leave them, under $T;
# only those two directories, the keys binary's path and ADMIN_KEY (keys admin-pubkey) are
# rewritten into the test's.
. "$(dirname "$0")/lib.sh"

need_openssh
need_keys
trap bastion_exit EXIT
chmod 0711 "$T"
mkdir -m 0755 "$T/home"
mkdir -m 0700 "$T/ssh"
install -d -m 0755 "/run/$RUN.bin"
install -m 0755 "$KEYS_BIN" "/run/$RUN.bin/keys"
[ -d /run/sshd ] || install -d -m 0755 /run/sshd
roster_admin_init
NS[web-1]=${RUN}w
ns_add "${NS[web-1]}"
keys_admin enroll web-1 --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.3 \
	--endpoint 192.0.2.3:51820 >>"$T/keys.out" 2>>"$T/keys.err"
eng_add alice 'web-1:22'
roster_publish
admin_key=$(keys_admin admin-pubkey)

# The node: /etc/warren as make install makes it, the roster as tunneld persists it.
install -d -m 0755 "$T/etc" "$T/var" "$T/var/lib" "$T/var/lib/warren"
install -d -m 0700 "$T/etc/warren"
install -m 0644 "$ADMIN/roster.signed" "$T/var/lib/warren/roster"

# The example's lines, from the man page source: between "in sshd_config" and .fi.
doc=$(sed -n '/^On a node, in$/,/^\.fi$/p' "$ROOT/docs/keys.1" | grep '^AuthorizedKeys' |
	sed -e 's/\\-/-/g' -e "s|/usr\(/local\)\?/bin/keys|/run/$RUN.bin/keys|" -e "s|/etc/warren|$T/etc/warren|g" \
	    -e "s|/var/lib/warren|$T/var/lib/warren|g" -e "s|ADMIN_KEY|$admin_key|g")
assert_match "docs/keys.1 gives an AuthorizedKeysCommand line" '^AuthorizedKeysCommand ' "$doc"
assert_match "docs/keys.1 gives the AuthorizedKeysCommandUser" 'AuthorizedKeysCommandUser ' "$doc"
# Files the documented lines name under /etc/warren are made as the docs say (keys admin-pubkey).
for f in $(printf '%s\n' "$doc" | grep -o "$T/etc/warren/[a-z.]*" | sort -u); do
	keys_admin admin-pubkey >"$f"
done
# keys authorized-keys reads its roster at the built-in default unless the line names one.
case $doc in *--roster*) ;; *) doc=${doc/authorized-keys %u/authorized-keys %u --roster $T/var/lib/warren/roster} ;; esac

d=$T/sshd
mkdir -m 0700 "$d"
ssh-keygen -q -t ed25519 -N '' -C web-1 -f "$d/host_ed25519"
{
	printf 'ListenAddress 127.0.0.1:22\nHostKey %s\nPidFile none\n' "$d/host_ed25519"
	printf 'UsePAM no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n'
	printf 'PubkeyAuthentication yes\nAuthorizedKeysFile none\n'
	printf '%s\n' "$doc"
	printf 'StrictModes no\nUseDNS no\nLogLevel VERBOSE\n'
} >"$d/sshd_config"
users_install web-1
"$SSHD_BIN" -t -f "$d/sshd_config" 2>"$T/sshd.log" || { fail "sshd -t: $(cat "$T/sshd.log")"; exit 1; }
ip netns exec "${NS[web-1]}" "$SSHD_BIN" -D -e -f "$d/sshd_config" >>"$T/sshd.log" 2>&1 &
BG_PIDS+=($!)
check "sshd listening" wait_until 10 listening web-1 22
out=$(timeout -k 2 30 ip netns exec "${NS[web-1]}" ssh -F "$T/ssh/alice.config" -i "$T/ssh/alice" \
	alice@127.0.0.1 echo logged-in 2>&1 || true)
assert_eq "alice logs in to web-1 through the documented AuthorizedKeysCommand" logged-in "$out"
[ "$out" = logged-in ] || log "sshd: $(grep -i 'authorizedkeys\|keys:' "$T/sshd.log" | tail -n 3)"

# A key file the command's user cannot read is named as such, not as "neither a key nor a file".
keys_admin admin-pubkey >"$T/etc/warren/admin.pub"
out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "/run/$RUN.bin/keys" authorized-keys \
	alice --roster "$T/var/lib/warren/roster" --node web-1 --admin-key "$T/etc/warren/admin.pub" 2>&1 || true)
assert_match "an unreadable --admin-key file: the error names the cause" 'admin\.pub.*Permission denied' "$out"
finish
