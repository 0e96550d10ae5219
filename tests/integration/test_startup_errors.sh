#!/usr/bin/env bash
# Start-up failures name their cause (issue 7, item 12).  tunneld is started with every small
# file descriptor limit (ulimit -n) in turn, in roster mode and in UAPI mode: each start
# either comes up or exits non-zero having logged error lines that name the cause
# (strerror(EMFILE): "Too many open files"), none of them twice.  Then with no inotify
# instance left: roster mode must refuse to start naming inotify_init1; UAPI mode starts and
# warns that removing its socket will not stop it.  The inotify limit is set to 0 only inside
# a user namespace of our own (/proc/sys/user/max_inotify_instances is per user namespace),
# so nothing else on the machine is affected.
. "$(dirname "$0")/lib.sh"

roster_admin_init
rnode_add a 1
rnode_enroll a
roster_publish
rnode_provision a
rnode_conf a
CONF=$(conf_file a)

# run_briefly CMD...: runs CMD in the background until it is up (logs "up (") or exits;
# prints "up" (then stops it) or "exit RC", followed by its output.
run_briefly() {
	local out=$T/start.out p rc=0
	: >"$out"
	"$@" >"$out" 2>&1 &
	p=$!
	BG_PIDS+=($p)
	wait_until 10 bash -c "! kill -0 $p 2>/dev/null || grep -q ': up (' '$out'" || true
	if kill -0 "$p" 2>/dev/null; then
		kill -TERM "$p" 2>/dev/null || true
		wait "$p" 2>/dev/null || true
		echo up
	else
		wait "$p" || rc=$?
		echo "exit $rc"
	fi
	cat "$out"
}

# try_start MODE LIMIT: tunneld (MODE roster: -c CONF; uapi: -f IFACE) in a's namespace
# under ulimit -n LIMIT, through run_briefly.
try_start() {
	local args
	if [ "$1" = roster ]; then args=(-c "$CONF" -i "${IFN[a]}"); else args=(-f "${IFN[a]}"); fi
	run_briefly ip netns exec "${NS[a]}" sh -c 'ulimit -n "$1" && shift && exec "$@"' sh "$2" \
		"$TUNNELD" "${args[@]}"
}

silent=0 failed_starts=0 started=0
for mode in roster uapi; do
	for lim in 6 7 8 9 10 11 12 13 14 15 16 17 18 20; do
		res=$(try_start "$mode" "$lim")
		first=$(printf '%s\n' "$res" | head -n 1)
		if [ "$first" = up ]; then
			started=$((started + 1))
			continue
		fi
		failed_starts=$((failed_starts + 1))
		errors=$(printf '%s\n' "$res" | grep 'tunneld: error:' || true)
		# At least one error, each naming the cause, none logged twice.
		if [ "$first" = "exit 0" ] || [ -z "$errors" ] ||
			printf '%s\n' "$errors" | grep -vq 'Too many open files' ||
			[ -n "$(printf '%s\n' "$errors" | sort | uniq -d)" ]; then
			silent=$((silent + 1))
			fail "$mode mode, ulimit -n $lim: $first; errors: '$errors'; output:" \
				"$(printf '%s' "$res" | tail -n +2 | tr '\n' '|' | head -c 400)"
		else
			log "$mode, ulimit -n $lim: $(printf '%s\n' "$errors" | tail -n 1)"
		fi
	done
done
printf 'ulimit -n: %d starts failed, %d came up, %d failed without naming the cause once\n' \
	"$failed_starts" "$started" "$silent"
assert_ge "starts that failed for want of fds (the test reaches the failure paths)" 10 \
	"$failed_starts"
assert_ge "starts that came up with enough fds" 2 "$started"
assert_eq "failed starts without errors naming the cause (once each)" 0 "$silent"

# No inotify instance left, in a user and network namespace of our own.
no_inotify() {
	run_briefly unshare --user --map-root-user --net sh -c \
		'echo 0 >/proc/sys/user/max_inotify_instances && ip link set lo up && exec "$@"' \
		sh "$@"
}
res=$(no_inotify "$TUNNELD" -c "$CONF" -i "${RUN}ino")
assert_match "roster mode without inotify: exits non-zero" '^exit [1-9]' \
	"$(printf '%s\n' "$res" | head -n 1)"
assert_match "roster mode without inotify: names inotify_init1 and the cause" \
	'tunneld: error: .*inotify_init1.*Too many open files' "$res"
assert_eq "roster mode without inotify: exactly one error line" 1 \
	"$(printf '%s\n' "$res" | grep -c 'tunneld: error:' || true)"
res=$(no_inotify "$TUNNELD" -f "${RUN}ino")
rm -f "/var/run/wireguard/${RUN}ino.sock"
assert_eq "UAPI mode without inotify: starts" up "$(printf '%s\n' "$res" | head -n 1)"
assert_match "UAPI mode without inotify: warns that removing the socket will not stop it" \
	'tunneld: warning: inotify_init1.*removing the socket will not stop tunneld' "$res"

finish
