#!/usr/bin/env bash
# Two keys commands at once never lose an update: every command that changes the admin
# directory holds DIR/.lock from before it reads the roster to its exit.  Three rounds of 8
# concurrent enrolls (once all 8 printed success with one address and 7 nodes were lost),
# enrolls racing engineer adds and publish, and a lock held elsewhere: a command waits for it,
# or gives up after LockTimeout naming the lock, and changes nothing.
. "$(dirname "$0")/lib.sh"

need_keys
mkdir -p -m 0700 "$ADMIN"
keys_admin init --network "${RUN}net" --cidr 100.64.0.0/16 --cidr6 fd00:64::/48 \
	>"$T/keys.out" 2>"$T/keys.err"
ssh-keygen -q -t ed25519 -N '' -f "$T/id0" 2>/dev/null || true
for i in $(seq 1 32); do "$KEYS_BIN" genkey | "$KEYS_BIN" pubkey >"$T/pub$i"; done

# round R: 8 enrolls at once (nodes rR-1..rR-8).
for round in 1 2 3; do
	pids=()
	for j in $(seq 1 8); do
		k=$(( (round - 1) * 8 + j ))
		keys_admin enroll "r$round-$j" --pubkey "$(cat "$T/pub$k")" \
			>"$T/enroll.$k.out" 2>"$T/enroll.$k.err" &
		pids+=($!)
	done
	rcs=0
	for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
	assert_eq "round $round: all 8 concurrent enrolls exit 0" 0 "$rcs"
	n=$(keys_admin list | grep -c "^r$round-" || true)
	assert_eq "round $round: all 8 nodes are in the roster" 8 "$n"
done
addrs=$(keys_admin list | awk '/^r[0-9]-/ {print $2}')
assert_eq "24 nodes, 24 distinct IPv4 addresses" 24 "$(printf '%s\n' "$addrs" | sort -u | wc -l)"
addrs6=$(keys_admin list | awk '/^r[0-9]-/ {print $3}')
assert_eq "24 nodes, 24 distinct IPv6 addresses" 24 "$(printf '%s\n' "$addrs6" | sort -u | wc -l)"
# What each enroll printed is what the roster holds.
printed=$(cat "$T"/enroll.*.out | awk '/^enrolled/ {print $2, $3}' | sort)
listed=$(keys_admin list | awk '/^r[0-9]-/ {print $1, $2}' | sort)
assert_eq "every enroll's printed address is the roster's" "$listed" "$printed"

# Enrolls, engineer adds and publishes at once: all of them land.
pids=()
for j in 1 2 3 4; do
	keys_admin enroll "mix-$j" --pubkey "$(cat "$T/pub$((24 + j))")" >/dev/null 2>"$T/mix.$j.err" &
	pids+=($!)
	ssh-keygen -q -t ed25519 -N '' -f "$T/eng$j" 2>/dev/null
	keys_admin engineer add "eng-$j" --ssh-key "$T/eng$j.pub" --allow '*' >/dev/null \
		2>"$T/eng.$j.err" &
	pids+=($!)
	keys_admin publish >"$T/pub.$j.out" 2>"$T/pub.$j.err" &
	pids+=($!)
done
rcs=0
for p in "${pids[@]}"; do wait "$p" || rcs=$((rcs + 1)); done
assert_eq "12 concurrent enroll/engineer add/publish exit 0" 0 "$rcs"
assert_eq "4 nodes and 4 engineers added at once are all there" 8 \
	"$(keys_admin list | grep -cE '^(mix|eng)-' || true)"
rc=0; keys_admin verify "$ADMIN/roster.signed" --admin-key "$(keys_admin admin-pubkey)" \
	>"$T/v.out" 2>&1 || rc=$?
assert_eq "roster.signed written by racing publishes verifies" 0 "$rc"

# lock_hold SECONDS: another process holds DIR/.lock (flock(2), as keys takes it) for SECONDS;
# its pid in $holder (the taker itself, so /proc/locks names it and kill ends it).
lock_hold() {
	python3 -c 'import fcntl, sys, time
f = open(sys.argv[1], "a")
fcntl.flock(f, fcntl.LOCK_EX)
time.sleep(float(sys.argv[2]))' "$ADMIN/.lock" "$1" &
	holder=$!
}

# A lock held elsewhere: a command waits for it, then goes on.
lock_hold 2
BG_PIDS+=("$holder")
wait_until 10 sh -c "! flock -n '$ADMIN/.lock' true" || fail "the holder never took the lock"
t0=$(now_ms)
rc=0; keys_admin enroll waiter --pubkey "$(cat "$T/pub29")" >"$T/w.out" 2>"$T/w.err" || rc=$?
assert_eq "an enroll waits for the lock, then succeeds" 0 "$rc"
assert_ge "it waited for the holder (ms)" 500 "$(( $(now_ms) - t0 ))"
wait "$holder" || true

# Held past LockTimeout: refused, naming the lock, nothing changed.
printf 'LockTimeout = 1s\n' >"$ADMIN/keys.conf"
lock_hold 20
BG_PIDS+=("$holder")
wait_until 10 sh -c "! flock -n '$ADMIN/.lock' true" || fail "the holder never took the lock"
cp "$ADMIN/roster" "$T/roster.before"
t0=$(now_ms)
rc=0; keys_admin enroll late --pubkey "$(cat "$T/pub30")" >"$T/l.out" 2>"$T/l.err" || rc=$?
assert_eq "enroll gives up on a held lock: exit 1" 1 "$rc"
assert_le "within about LockTimeout (ms)" 5000 "$(( $(now_ms) - t0 ))"
assert_match "it names the lock and its holder's pid" \
	"another keys command \\(pid $holder\\) holds $ADMIN/.lock" "$(cat "$T/l.err")"
check "the roster is unchanged" cmp -s "$T/roster.before" "$ADMIN/roster"
for cmd in "publish" "revoke r1-1" "engineer remove eng-1" "rotate-admin"; do
	rc=0; keys_admin $cmd >/dev/null 2>"$T/c.err" || rc=$?
	assert_match "'keys $cmd' waits for the lock too" "holds $ADMIN/.lock" "$(cat "$T/c.err")"
done
kill "$holder" 2>/dev/null || true
wait "$holder" 2>/dev/null || true
rm -f "$ADMIN/keys.conf"

# A symbolic link at DIR/.lock (planted to make keys create or lock a file elsewhere): refused
# with what it is, the link and its target untouched, nothing changed.
rm -f "$ADMIN/.lock"
ln -s "$T/elsewhere" "$ADMIN/.lock"
rc=0; keys_admin enroll late --pubkey "$(cat "$T/pub30")" >"$T/s.out" 2>"$T/s.err" || rc=$?
assert_eq "a symlinked .lock is refused: exit 1" 1 "$rc"
assert_match "it says the lock is a symbolic link and nothing was changed" \
	"$ADMIN/.lock is a symbolic link.*nothing was changed" "$(cat "$T/s.err")"
check "the roster is unchanged" cmp -s "$T/roster.before" "$ADMIN/roster"
check "the link's target was not created" test ! -e "$T/elsewhere"
check "the link is left as it was" test -L "$ADMIN/.lock"
rm -f "$ADMIN/.lock"
finish
