#!/usr/bin/env bash
# `make install` and `make uninstall` with PREFIX= and DESTDIR=, staged in a test directory
# (never this host's /usr): the exact list of files and their modes, the installed paths named
# by the units and man pages (ExecStart= must run the binary where it was installed), and an
# uninstall that removes what install put and nothing else (keys, configs, rosters, other
# files stay).  The PREFIX=/usr tree also runs under systemd: test_deb builds the package with it.
# run-all: no-sanitizer (a build step, no daemon runs)
. "$(dirname "$0")/lib.sh"

command -v make >/dev/null || skip "make not installed"
need_tunneld

# mk ARGS...: make in the source tree with this test's build.
mk() { make -s -C "$ROOT" --no-print-directory BUILD="$BUILD" "$@" >>"$T/make.log" 2>&1; }
# tree DIR: every path under DIR with its type, mode and owner, sorted, DIR removed.
tree() { (cd "$1" && find . -mindepth 1 -printf '%y %m %u:%g /%P\n' | sort -k4); }

# The files install must put, for PREFIX P, BINDIR B, SBINDIR SB (type, mode, owner, path):
# the programs, every man page in docs/ (NAME.SECTION), every unit and drop-in in dist/systemd,
# README.md and the guides (docs/*.md) in share/doc/warren.
expect_files() {
	local p=$1 b=$2 sb=$3 f
	{
		printf 'f 755 root:root %s\n' "$sb/tunneld" "$sb/bastion" "$b/keys"
		for f in "$ROOT"/docs/*.[1-8]; do
			printf 'f 644 root:root %s/share/man/man%s/%s\n' "$p" "${f##*.}" "${f##*/}"
		done
		for f in "$ROOT"/dist/systemd/*.service "$ROOT"/dist/systemd/*.service.d/*.conf; do
			printf 'f 644 root:root %s/lib/systemd/system/%s\n' "$p" "${f#"$ROOT"/dist/systemd/}"
		done
		for f in "$ROOT"/README.md "$ROOT"/docs/*.md; do
			printf 'f 644 root:root %s/share/doc/warren/%s\n' "$p" "${f##*/}"
		done
		printf 'd 700 root:root /etc/warren\n'
	} | sort -k4
}

for case in "/usr|/usr/bin|/usr/sbin" "/usr/local|/usr/local/bin|/usr/local/sbin" \
	"/opt/warren|/opt/warren/bin|/opt/warren/sbin"; do
	IFS='|' read -r P B SB <<<"$case"
	D=$T/stage${P//\//_}
	mkdir -p "$D"
	args=(DESTDIR="$D")
	[ "$P" = /usr/local ] || args+=(PREFIX="$P")	# /usr/local: the default
	if ! mk install "${args[@]}"; then
		fail "make install ${args[*]} (exit status; $(tail -n 3 "$T/make.log"))"
		continue
	fi
	# Files only: the directories leading to them are 0755 (checked below).
	assert_eq "PREFIX=$P: the files install put, with their modes" \
		"$(expect_files "$P" "$B" "$SB" | paste -sd'|')" \
		"$(tree "$D" | grep -v '^d 755 root:root ' | paste -sd'|')"
	assert_eq "PREFIX=$P: every directory made is 0755 root (but /etc/warren)" "" \
		"$(tree "$D" | awk '$1 == "d" && $4 != "/etc/warren" && $2 != "755"')"
	U=$D$P/lib/systemd/system
	assert_eq "PREFIX=$P: tunneld@.service runs the installed tunneld" \
		"$SB/tunneld -c /etc/warren/%i.conf" "$(sed -n 's/^ExecStart=//p' "$U/tunneld@.service")"
	assert_eq "PREFIX=$P: bastion.service runs the installed bastion" \
		"$SB/bastion -c /etc/warren/bastion.conf" "$(sed -n 's/^ExecStart=//p' "$U/bastion.service")"
	assert_match "PREFIX=$P: keys(1) names the installed keys in its sshd line" \
		"^AuthorizedKeysCommand $B/keys " "$(grep '^AuthorizedKeysCommand' "$D$P/share/man/man1/keys.1")"
	if [ "$P" != /usr/local ]; then
		assert_eq "PREFIX=$P: no installed unit or page still names /usr/local" "" \
			"$(grep -rl /usr/local "$D" 2>/dev/null | grep -v '/s\?bin/\|/share/doc/' || true)"
	fi
	if [ "$P" = /usr/local ]; then
		cmp -s "$BUILD/tunneld" "$D$SB/tunneld" && pass "PREFIX=$P: tunneld installed as built" ||
			fail "PREFIX=$P: the installed tunneld differs from $BUILD/tunneld"
	fi

	# What the operator made meanwhile, and a file of someone else's beside ours.
	mkdir -p "$D/var/lib/warren"
	echo key >"$D/var/lib/warren/wg0.key"
	echo roster >"$D/var/lib/warren/roster"
	echo conf >"$D/etc/warren/wg0.conf"
	echo other >"$D$SB/other"
	before=$(tree "$D")
	if ! mk uninstall "${args[@]}"; then
		fail "make uninstall ${args[*]} (exit status; $(tail -n 3 "$T/make.log"))"
		continue
	fi
	assert_eq "PREFIX=$P: uninstall removed exactly the installed files" \
		"$(printf '%s\n' "$before" | awk 'NR == FNR { rm[$1] = 1; next } !($4 in rm)' \
			<(expect_files "$P" "$B" "$SB" | awk '$1 == "f" { print $4 }') - | paste -sd'|')" \
		"$(tree "$D" | paste -sd'|')"
	assert_eq "PREFIX=$P: keys, roster, config and another file are left" "key|roster|conf|other" \
		"$(cat "$D/var/lib/warren/wg0.key" "$D/var/lib/warren/roster" "$D/etc/warren/wg0.conf" \
			"$D$SB/other" 2>/dev/null | paste -sd'|')"
	mk uninstall "${args[@]}" && pass "PREFIX=$P: a second uninstall succeeds (nothing left to remove)" ||
		fail "PREFIX=$P: a second uninstall failed ($(tail -n 3 "$T/make.log"))"
done

finish
