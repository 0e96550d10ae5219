# shellcheck shell=bash
# warren's .deb and a fresh Debian 12 root for the packaging tests (test_deb, test_ansible),
# sourced after lib.sh.
#
# deb_get builds the package with `make deb` (dpkg-buildpackage, lintian) once per state of the
# source tree: the .deb is kept in tests/integration/cache/deb-KEY, KEY a hash of the files
# `make deb` copies, so the second packaging test of a `make test` run uses the first one's
# build (about 25 s of compiling on 2 cores) and any change to the tree builds anew.
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

# cache_fill PREFIX KEY FILL: prints the cache directory PREFIX-KEY, made first if it is not
# there: FILL DIR fills a new directory, which then takes the name (older PREFIX-* entries are
# removed).  Under the cache's lock: two tests at once fill it once.  Fails if FILL fails.
cache_fill() {
	local prefix=$1 dir=$DEBROOT_CACHE/$1-$2 fill=$3 rc=0
	mkdir -p "$DEBROOT_CACHE"
	(
		flock -w 540 9 || { echo "cache: $DEBROOT_CACHE/.lock held for 540 s" >&2; exit 1; }
		[ -e "$dir/complete" ] && exit 0
		for old in "$DEBROOT_CACHE/$prefix"-* "$DEBROOT_CACHE/.new-$prefix".*; do
			[ -e "$old" ] && rm -rf --one-file-system "$old"
		done
		tmp=$(mktemp -d "$DEBROOT_CACHE/.new-$prefix.XXXXXX")
		"$fill" "$tmp" || { rm -rf --one-file-system "$tmp"; exit 1; }
		touch "$tmp/complete"
		mv -T "$tmp" "$dir"
	) 9>"$DEBROOT_CACHE/.lock" || rc=$?
	[ "$rc" -eq 0 ] && printf '%s\n' "$dir"
}

# debroot_get DEB: prints the path of the cached root holding DEB's dependencies.  Fails, with
# the mmdebstrap log in $T/mmdebstrap.log, if it cannot be built.
debroot_get() {
	local key dir
	DEBROOT_PKGS=$( { printf '%s\n' "${DEBROOT_BASE[@]}"; deb_depends "$1"; } | sort -u | paste -sd, -)
	key=$(printf '%s minbase %s\n' "$DEBROOT_SUITE" "$DEBROOT_PKGS" | sha256sum | cut -c1-12)
	dir=$(cache_fill debian12 "$key" debroot_fill) || return 1
	printf '%s/root\n' "$dir"
}
debroot_fill() {
	mmdebstrap --variant=minbase --include="$DEBROOT_PKGS" "$DEBROOT_SUITE" "$1/root" \
		>"$T/mmdebstrap.log" 2>&1
}

# deb_get: prints the path of warren's .deb as `make deb` builds it from the tree as it is now.
# Fails, with make's output in $T/make-deb.log, if `make deb` fails (lintian included).
deb_get() {
	local key dir
	# The files `make deb` copies (dist/packaging.mk), contents and names only.
	key=$(tar -C "$ROOT" --exclude=./.git --exclude='./build*' --exclude=./tests/integration/cache \
		--sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf - . | sha256sum | cut -c1-12)
	dir=$(cache_fill deb "$key" deb_fill) || return 1
	ls "$dir"/warren_*.deb
}
deb_fill() {
	make -s -C "$ROOT" --no-print-directory deb PKG_DIR="$1/pkg" >"$T/make-deb.log" 2>&1 &&
		mv "$1"/pkg/warren_*.deb "$1/" && rm -rf "$1/pkg"
}
