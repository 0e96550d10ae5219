# shellcheck shell=bash
# A fresh Debian 12 root for the packaging tests (test_deb, test_ansible), sourced after lib.sh.
#
# mmdebstrap --variant=minbase from the Debian mirror this machine's apt uses, plus the
# packages named: what a Debian 12 server has (systemd as init, iproute2, ping, sshd; python3,
# python3-apt and xz-utils for Ansible and its apt module) and the runtime dependencies that warren's .deb declares.  Building it takes
# ~20-30 s, so it is kept in tests/integration/cache/debian12-KEY/root, KEY a hash of the
# package list: a change of the .deb's Depends makes a new root (and removes the old ones).
# Containers boot it with systemd-nspawn --volatile=overlay: every boot starts from the
# pristine root, writes go to a tmpfs and vanish with the container.

DEBROOT_CACHE=${DEBROOT_CACHE:-$ROOT/tests/integration/cache}
DEBROOT_SUITE=bookworm
# What every root holds beyond minbase and the package's dependencies.
DEBROOT_BASE=(systemd systemd-sysv dbus iproute2 iputils-ping openssh-server python3 python3-apt
	xz-utils)

# deb_depends DEB: the package names of DEB's Depends, one per line (the first of each
# alternative, versions dropped: a fresh system's apt picks the same).
deb_depends() {
	dpkg-deb -f "$1" Depends | tr ',' '\n' | sed 's/|.*//; s/([^)]*)//g; s/[[:space:]]//g' | grep .
}

# debroot_get DEB: prints the path of the cached root holding DEB's dependencies (building it
# under a lock if it is not there yet; two tests at once build it once).  Fails, with the
# mmdebstrap log in $T/mmdebstrap.log, if it cannot be built.
debroot_get() {
	local pkgs key dir tmp old rc=0
	pkgs=$( { printf '%s\n' "${DEBROOT_BASE[@]}"; deb_depends "$1"; } | sort -u | paste -sd, -)
	key=$(printf '%s minbase %s\n' "$DEBROOT_SUITE" "$pkgs" | sha256sum | cut -c1-12)
	dir=$DEBROOT_CACHE/debian12-$key
	mkdir -p "$DEBROOT_CACHE"
	(
		flock -w 300 9 || { echo "debroot: $DEBROOT_CACHE/.lock held for 300 s" >&2; exit 1; }
		[ -e "$dir/complete" ] && exit 0
		for old in "$DEBROOT_CACHE"/debian12-* "$DEBROOT_CACHE"/.new.*; do
			[ -e "$old" ] && rm -rf --one-file-system "$old"
		done
		tmp=$(mktemp -d "$DEBROOT_CACHE/.new.XXXXXX")
		mmdebstrap --variant=minbase --include="$pkgs" "$DEBROOT_SUITE" "$tmp/root" \
			>"$T/mmdebstrap.log" 2>&1 || exit 1
		touch "$tmp/complete"
		mv -T "$tmp" "$dir"
	) 9>"$DEBROOT_CACHE/.lock" || rc=$?
	[ "$rc" -eq 0 ] || return 1
	printf '%s/root\n' "$dir"
}
