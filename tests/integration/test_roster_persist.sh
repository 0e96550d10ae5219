#!/usr/bin/env bash
# Persisting a roster never stalls the event loop, and a crash while persisting never leaves a
# corrupt roster.
#  1. a's roster lives on its own ext4 filesystem, frozen (fsfreeze) while a roster arrives by
#     gossip: writes block there as on a dead disk.  a answers the POST, pings through a and
#     `wg show` keep working, after a SIGHUP (which claims Roster.new) too; once thawed, the
#     roster is persisted, applied and spread.
#  1b. a stopped (SIGTERM) while a persist waits on the frozen disk removes its interface at
#     once, and restarts on the old or the new roster once thawed.
#  2. Large rosters (4,000 nodes, ~0.7 MB) dropped one after the other while tunneld is
#     SIGKILLed as each is accepted (while it is being persisted): after every kill the
#     persisted roster verifies and is the old or the new one, and tunneld restarts on it.
. "$(dirname "$0")/lib.sh"

for tool in mkfs.ext4 losetup fsfreeze mount; do
	command -v "$tool" >/dev/null || skip "$tool missing"
done
LOOPDEV=
fs_cleanup() {
	local rc=$?
	set +eE
	trap - ERR
	fsfreeze -u "$T/fs" 2>/dev/null
	if mountpoint -q "$T/fs" 2>/dev/null; then
		for p in "${PID[@]}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done
		sleep 0.2
		umount "$T/fs" 2>/dev/null || umount -l "$T/fs" 2>/dev/null
	fi
	[ -n "$LOOPDEV" ] && losetup -d "$LOOPDEV" 2>/dev/null
	return "$rc"
}
trap 'fs_cleanup; cleanup' EXIT

truncate -s 64M "$T/fs.img"
mkfs.ext4 -q -F "$T/fs.img"
LOOPDEV=$(losetup -f --show "$T/fs.img")
mkdir "$T/fs"
mount "$LOOPDEV" "$T/fs"

roster_admin_init
rnode_add a 1
rnode_add b 2
ROSTER_PATH[a]=$T/fs/a.roster
for n in a b; do rnode_enroll "$n"; done
roster_publish
for n in a b; do rnode_provision "$n"; rnode_start "$n"; done
check "ping b -> a" ping_ok b "${OV4[a]}"
logged_since() { log_since a "$1" | grep -Eq -- "$2"; }

# 1. The disk stalls.
keys_admin enroll c --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.3 \
	>>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
next=$SERIAL
fsfreeze -f "$T/fs"
mark=$(log_mark a)
t0=$(now_ms)
code=$(gossip_post b a "$ADMIN/roster.signed")
t1=$(now_ms)
assert_eq "frozen disk: a answers the gossip POST" 204 "$code"
assert_le "frozen disk: the POST is answered within 2 s (ms)" 2000 "$((t1 - t0))"
check "frozen disk: a accepted serial $next" wait_until 5 logged_since "$mark" "roster accepted: serial $next"
check "frozen disk: ping b -> a" ping_ok b "${OV4[a]}"
check "frozen disk: wg show answers" timeout 5 ip netns exec "${NS[a]}" wg show "${IFN[a]}"
# A SIGHUP looks for Roster.new: claiming it (rename) writes to the frozen directory.
kill -HUP "${PID[a]}"
check "frozen disk: SIGHUP seen" wait_until 5 logged_since "$mark" 'SIGHUP'
check "frozen disk, after a SIGHUP: wg show answers" \
	timeout 5 ip netns exec "${NS[a]}" wg show "${IFN[a]}"
check "frozen disk, after a SIGHUP: ping b -> a" ping_ok b "${OV4[a]}"
sleep 1
check "frozen disk: not applied before it is on disk" test "$(node_serial a)" != "$next"
fsfreeze -u "$T/fs"
check "thawed: a persists serial $next" wait_until 10 all_at_serial "$next" a
check "thawed: b gets serial $next" wait_until 10 all_at_serial "$next" b

# 1b. Stopped (SIGTERM) while a persist waits on the frozen disk: the interface goes at once,
# the persist finishes once thawed, and a restarts on the old or the new roster.
keys_admin enroll d --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.4 \
	>>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
fsfreeze -f "$T/fs"
mark=$(log_mark a)
assert_eq "frozen again: a answers the gossip POST" 204 "$(gossip_post b a "$ADMIN/roster.signed")"
check "frozen again: a accepted serial $SERIAL" wait_until 5 logged_since "$mark" "roster accepted: serial $SERIAL"
stopped=${PID[a]}
kill -TERM "$stopped"
check "SIGTERM with a persist in flight: a's interface is removed within 5 s" \
	wait_until 5 bash -c "! ip -n '${NS[a]}' link show '${IFN[a]}'"
fsfreeze -u "$T/fs"
check "thawed: the stopped a exits" wait_until 10 bash -c "! kill -0 $stopped"
wait "$stopped" 2>/dev/null || true
PID[a]=
got=$(node_serial a)
assert_match "persisted serial is the old ($next) or the new ($SERIAL)" "^($next|$SERIAL)\$" "$got"
mark=$(log_mark a)
rnode_start a
check "a restarts on serial $got" wait_until 20 logged_since "$mark" "roster loaded: serial $got"
next=$got

# 2. SIGKILL while persisting.
node_stop b
# Linked against this build's libkeys (a sanitizer build's needs the sanitizer runtimes).
gen_build() {
	${CC:-cc} -std=c11 -D_GNU_SOURCE -O2 -I"$ROOT" "$@" -o "$T/roster_gen" \
		"$ROOT/tests/bench/roster_gen.c" "$BUILD/libkeys.a" \
		$(pkg-config --libs libsodium libb2 libcrypto) 2>>"$T/gen.err"
}
if ! gen_build && ! gen_build -fsanitize=address,undefined && ! gen_build -fsanitize=thread; then
	fail "cannot build roster_gen: $(head -n 3 "$T/gen.err")"
	exit 1
fi
prev=$ADMIN/roster.signed
ROUNDS=6
for i in $(seq 1 "$ROUNDS"); do
	"$T/roster_gen" gen "$prev" "$ADMIN/admin.key" "$((4000 + i))" "$T/big$i" >>"$T/gen.out" 2>&1
	prev=$T/big$i
done
admin_pub=$(keys_admin admin-pubkey)
on_disk=$next
for i in $(seq 1 "$ROUNDS"); do
	want=$(roster_serial_of "$T/big$i")
	mark=$(log_mark a)
	cp "$T/big$i" "$T/fs/.a.roster.new.tmp"
	mv "$T/fs/.a.roster.new.tmp" "${ROSTER_PATH[a]}.new"
	# At a varying instant: before the pick-up, during the parse, while persisting.
	if [ $((i % 2)) = 1 ]; then
		for _ in $(seq 1 2000); do	# at most ~20 s, polling every 10 ms
			logged_since "$mark" "roster accepted: serial $want" && break
			sleep 0.01
		done
	else
		sleep "0.0$((RANDOM % 10))"
	fi
	kill -9 "${PID[a]}"
	wait "${PID[a]}" 2>/dev/null || true
	PID[a]=
	ip -n "${NS[a]}" link del "${IFN[a]}" 2>/dev/null || true
	got=$(roster_serial_of "${ROSTER_PATH[a]}")
	check "kill $i: the persisted roster verifies" \
		timeout 20 "$KEYS_BIN" verify "${ROSTER_PATH[a]}" --admin-key "$admin_pub"
	assert_match "kill $i: persisted serial is the old ($on_disk) or the new ($want)" \
		"^($on_disk|$want)\$" "$got"
	on_disk=$got
	rm -f "${ROSTER_PATH[a]}.new" "$T/fs/.a.roster.new.claim"
	mark=$(log_mark a)
	rnode_start a
	check "kill $i: a restarts on serial $got" wait_until 20 logged_since "$mark" "roster loaded: serial $got"
	check "kill $i: no temporary file left behind" \
		bash -c "! ls -A '$T/fs' | grep -q '\\.tmp\\.'"
done
check "a alive" pid_alive "${PID[a]}"
finish
