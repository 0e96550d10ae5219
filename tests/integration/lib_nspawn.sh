# shellcheck shell=bash
# Real systemd (252) for the unit tests: a container booted by systemd-nspawn inside a network
# namespace of the test (/work/shared/reference/systemd-in-container.md).  Sourced after
# lib.sh.  The container's root is a tmpfs with the host's /usr (--volatile=yes); what a test
# needs is bound in: units as shipped (a drop-in only points ExecStart at the built binary in
# /opt/warren), configs, a passwd/group with the units' users, a scenario script run by
# warren-test.service once the units it waits for are started, and $C/out (/out inside) for
# the results.  The scenario ends with `systemctl poweroff`; nspawn is bounded by a timeout.
#
#   nspawn_init                          C=$T/ct, the out directory, the host's passwd/group
#   nspawn_user NAME UID HOME            a system user (uid = gid = UID) in the container
#   nspawn_unit FILE [HOST-BIN EXECSTART] FILE at /etc/systemd/system/; HOST-BIN bound at
#                                        /opt/warren/NAME and ExecStart replaced (drop-in)
#   nspawn_bind_ro SRC DST / nspawn_bind SRC DST
#   nspawn_mask UNIT...                  /dev/null over these units
#   nspawn_scenario SCRIPT WANTS AFTER   warren-test.target wants WANTS (units started at boot)
#                                        and warren-test.service (After=AFTER) runs SCRIPT
#   nspawn_boot NETNS SECONDS [ARG...]   boots it in NETNS (name in /run/netns); never fails

command -v systemd-analyze >/dev/null || skip "systemd-analyze not installed"
command -v systemd-nspawn >/dev/null || skip "systemd-nspawn (systemd-container) not installed"

NSPAWN_BINDS=()

nspawn_init() {
	C=$T/ct
	mkdir -p "$C/out" "$C/units"
	chmod 0777 "$C/out"
	cp /etc/passwd "$C/passwd"
	cp /etc/group "$C/group"
	nspawn_bind_ro "$C/passwd" /etc/passwd
	nspawn_bind_ro "$C/group" /etc/group
	nspawn_bind "$C/out" /out
	# Host presets would start these in the test's namespace (networkd and wait-online also
	# hold up network-online.target).
	nspawn_mask systemd-networkd.service systemd-networkd.socket \
		systemd-networkd-wait-online.service systemd-resolved.service nftables.service
}

nspawn_user() {
	printf '%s:x:%s:%s::%s:/usr/sbin/nologin\n' "$1" "$2" "$2" "$3" >>"$C/passwd"
	printf '%s:x:%s:\n' "$1" "$2" >>"$C/group"
}

nspawn_bind_ro() { NSPAWN_BINDS+=(--bind-ro="$1:$2"); }
nspawn_bind() { NSPAWN_BINDS+=(--bind="$1:$2"); }

nspawn_mask() {
	local u
	for u in "$@"; do nspawn_bind_ro /dev/null "/etc/systemd/system/$u"; done
}

nspawn_unit() {
	local f=$1 bin=${2:-} exec=${3:-} name
	name=$(basename "$f")
	cp "$f" "$C/units/$name"
	nspawn_bind_ro "$C/units/$name" "/etc/systemd/system/$name"
	[ -n "$bin" ] || return 0
	mkdir -p "$C/units/$name.d"
	printf '[Service]\nExecStart=\nExecStart=%s\n' "$exec" >"$C/units/$name.d/test.conf"
	# A sanitizer build (BUILD=build-san): LeakSanitizer's exit-time check needs ptrace, which
	# the units' own SystemCallFilter (~@debug) refuses, so it would fail every stop.  Leaks
	# stay checked by the other tests; ASan and UBSan stay on here.
	if grep -qa __asan_init "$bin"; then
		printf 'Environment=ASAN_OPTIONS=detect_leaks=0\n' >>"$C/units/$name.d/test.conf"
	fi
	nspawn_bind_ro "$C/units/$name.d" "/etc/systemd/system/$name.d"
	nspawn_bind_ro "$bin" "/opt/warren/$(basename "$bin")"
}

nspawn_scenario() {
	local script=$1 wants=$2 after=$3
	printf '[Unit]\nWants=%s warren-test.service\n' "$wants" >"$C/units/warren-test.target"
	printf '[Unit]\nAfter=%s\n[Service]\nType=oneshot\nExecStart=/opt/warren/scenario.sh\n' \
		"$after" >"$C/units/warren-test.service"
	chmod 0755 "$script"
	nspawn_bind_ro "$C/units/warren-test.target" /etc/systemd/system/warren-test.target
	nspawn_bind_ro "$C/units/warren-test.service" /etc/systemd/system/warren-test.service
	nspawn_bind_ro "$script" /opt/warren/scenario.sh
}

nspawn_boot() {
	local ns=$1 secs=$2; shift 2
	log "booting systemd in $ns (nspawn)"
	timeout -k 5 "$secs" systemd-nspawn --keep-unit --register=no --machine="${RUN}ct" \
		--volatile=yes -D / -b -q --network-namespace-path="/run/netns/$ns" "$@" \
		"${NSPAWN_BINDS[@]}" systemd.unit=warren-test.target systemd.firstboot=off \
		>"$T/nspawn.log" 2>&1 </dev/null || true
}

# nspawn_security UNIT-FILE HOST-BIN: the `systemd-analyze security --offline` exposure of a
# copy whose ExecStart names HOST-BIN (verify insists that it exists), x10 ("2.1" -> 21; 99 if
# none was printed).
nspawn_security() {
	local f=$1 bin=$2 d=$T/security out score
	mkdir -p "$d"
	sed "s#^ExecStart=/usr/local/sbin/[a-z]* #ExecStart=$bin #" "$f" >"$d/$(basename "$f")"
	out=$(systemd-analyze security --offline=yes "$d/$(basename "$f")" 2>&1 || true)
	score=$(printf '%s\n' "$out" | sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p')
	printf '%s' "${score:-9.9}" | tr -d .
}
