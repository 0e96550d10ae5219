#!/usr/bin/env bash
# The man pages as `make install` installs them: each renders without a groff warning, and every
# file of warren's documentation a page sends the reader to is installed where it says (a man
# page that says "see docs/bastion.md" points into a source tree the host does not have).
# run-all: no-sanitizer
. "$(dirname "$0")/lib.sh"

command -v man >/dev/null || skip "man (man-db) not installed"
DEST=$T/root
PREFIX=/usr/local
rc=0
make -s -C "$ROOT" install BUILD="$BUILD" DESTDIR="$DEST" PREFIX="$PREFIX" >"$T/install.log" 2>&1 || rc=$?
assert_eq "make install DESTDIR=... (exit status; $(tail -n 2 "$T/install.log"))" 0 "$rc"
pages=$(cd "$DEST" && find ".$PREFIX/share/man" -type f | sort)
for p in man1/keys.1 man8/bastion.8 man8/tunneld.8; do
	check "$p installed" test -f "$DEST$PREFIX/share/man/$p"
done
for p in $pages; do
	f=$DEST/${p#./}
	name=$(basename "$p")
	warn=$(MANWIDTH=80 LC_ALL=C.UTF-8 man --warnings=w -l "$f" 2>&1 >/dev/null || true)
	assert_eq "$name renders without a warning" "" "$warn"
	# References to documentation files: paths ending in .md, as the reader would type them.
	refs=$(MANWIDTH=200 LC_ALL=C.UTF-8 man -l "$f" 2>/dev/null | col -b | grep -oE '[A-Za-z0-9_./-]*\.md\b' | sort -u)
	for r in $refs; do
		case $r in
		"$PREFIX"/*) check "$name names $r: installed" test -f "$DEST$r" ;;
		*) fail "$name names $r, a path of the source tree: not on an installed host" ;;
		esac
	done
done

finish
