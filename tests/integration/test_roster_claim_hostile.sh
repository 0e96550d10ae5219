#!/usr/bin/env bash
# Whoever can write the roster directory cannot wedge or hang the Roster.new claim, nor make
# tunneld read files outside it: a directory, a FIFO or a symlink (to /etc/shadow) at
# Roster.new, and a directory planted at the claim name, are each removed with the cause
# logged, and the next roster put there is accepted.  A claim left from before does not
# hold back a Roster.new that arrives with it.
. "$(dirname "$0")/lib.sh"

roster_two_up

new=${ROSTER_PATH[a]}.new
claim=$(dirname "$new")/.$(basename "$new").claim
logged_since() { log_since a "$1" | grep -Eq -- "$2"; }
# hup_seen: sends SIGHUP to a and waits until a logged it.
hup_seen() {
	local mark
	mark=$(log_mark a)
	kill -HUP "${PID[a]}"
	wait_until 10 logged_since "$mark" 'SIGHUP'
}
# push_accepted WHAT: publishes a new roster, renames it into place as keys push does and
# checks that a accepts it.
push_accepted() {
	keys_admin enroll "$1" --pubkey "$(wg genkey | wg pubkey)" \
		>>"$T/keys.out" 2>>"$T/keys.err"
	roster_publish
	cp "$ADMIN/roster.signed" "$T/.push.tmp"
	mv "$T/.push.tmp" "$new"
	check "after $2: the next pushed roster (serial $SERIAL) is accepted" \
		wait_until 10 all_at_serial "$SERIAL" a
}

# A directory named Roster.new (mkdir by mistake, scp -r).
mkdir "$new"
check "SIGHUP seen with a directory at Roster.new" hup_seen
check "tunneld alive" pid_alive "${PID[a]}"
check "the directory is not left at the claim name" wait_until 5 test ! -e "$claim"
push_accepted c "a directory at Roster.new"

# A directory planted at the claim name: it must not shadow every later Roster.new.
mkdir "$claim" 2>/dev/null || true
check "SIGHUP seen with a directory at the claim name" hup_seen
push_accepted d "a directory at the claim name"

# A claim left from before (as a crash leaves it; renamed in, so no event names it) and a
# new Roster.new: one event takes both, the stale claim first.
cp "${ROSTER_PATH[a]}" "$T/.stale.tmp"
mv "$T/.stale.tmp" "$claim"
push_accepted d2 "a stale claim"
check "the stale claim is consumed" wait_until 5 test ! -e "$claim"

# A FIFO (open would block) and a symlink to /etc/shadow: neither read nor waited on.
mkfifo "$new"
mark=$(log_mark a)
check "SIGHUP seen with a FIFO at Roster.new" hup_seen
check "the loop still answers (wg show) after the FIFO" nsx a timeout 5 wg show "${IFN[a]}"
ln -s /etc/shadow "$new"
check "SIGHUP seen with a symlink at Roster.new" hup_seen
assert_nomatch "nothing of /etc/shadow in the log" 'root:' "$(log_since a "$mark")"
push_accepted e "a FIFO and a symlink"
check "tunneld alive at the end" pid_alive "${PID[a]}"
finish
