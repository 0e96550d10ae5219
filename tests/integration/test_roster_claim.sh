#!/usr/bin/env bash
# Roster.new is claimed atomically.  A roster written slowly in place (as scp does), with
# inotify events (each partial writer's close) and a SIGHUP arriving while it is half written,
# is accepted once complete, never consumed half-written and lost.  Then `keys push`'s way,
# a temporary name renamed into place, is accepted at once.
. "$(dirname "$0")/lib.sh"

roster_two_up

keys_admin enroll c --pubkey "$(wg genkey | wg pubkey)" --address 100.64.0.3 \
	>>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
next=$SERIAL
src=$ADMIN/roster.signed
size=$(stat -c %s "$src")
new=${ROSTER_PATH[a]}.new
logged_since() { log_since a "$1" | grep -Eq -- "$2"; }

# The writer holds Roster.new open (fd 9) the whole time, like scp; each `head`/`tail` that
# writes a piece closes its copy of the descriptor: an IN_CLOSE_WRITE per piece.
third=$((size / 3))
exec 9>"$new"
head -c "$third" "$src" >&9
mark=$(log_mark a)
kill -HUP "${PID[a]}"
check "SIGHUP seen while Roster.new is a third written" wait_until 10 logged_since "$mark" 'SIGHUP'
sleep 0.5
tail -c +"$((third + 1))" "$src" | head -c "$third" >&9
sleep 0.5
mark=$(log_mark a)
kill -HUP "${PID[a]}"
check "second SIGHUP seen (two thirds written)" wait_until 10 logged_since "$mark" 'SIGHUP'
sleep 0.5
check "the half-written file is still there for its writer" test -e "$new"
assert_eq "a still at the old serial while the file is incomplete" "$((next - 1))" "$(node_serial a)"
tail -c +"$((2 * third + 1))" "$src" >&9
exec 9>&-
check "a accepts serial $next once the writer finished" wait_until 10 all_at_serial "$next" a
check "b gets serial $next from a" wait_until 10 all_at_serial "$next" b
check "Roster.new consumed after acceptance" wait_until 5 test ! -e "$new"

# keys push's way: a temporary name in the same directory, renamed into place.
keys_admin revoke c >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
cp "$src" "$T/.a.roster.new.tmp"
mv "$T/.a.roster.new.tmp" "$new"
check "renamed into place: a accepts serial $SERIAL" wait_until 10 all_at_serial "$SERIAL" a b
finish
