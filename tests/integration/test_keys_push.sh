#!/usr/bin/env bash
# keys push with real OpenSSH against hostile and broken hosts: an admin namespace pushes, in
# parallel, to nodes running tunneld and Debian's sshd (root login by key), to a host that
# refuses the connection, one that accepts and then never speaks (nc), an address nobody
# answers for, a user the node refuses, and an address whose host key is not the one the admin
# knows.  Each failure is reported with ssh's own reason; the hanging host does not hold the
# others (the run takes about --timeout, not hosts x ConnectTimeout); --wait confirms the
# serial each node then runs, and names the node whose tunneld refused the roster (node c pins
# another admin key) with the serial it still runs.
# run-all: no-sanitizer (keys push itself runs under the sanitizers in keys_roster_cli.sh,
# through a fake scp; here the time goes to OpenSSH, which ASan would only slow down: 107 s
# against about 40.  It was marked plain, which ran it on both builds: 87 s and 59 CPU-s more.)
# run-all: early (87 s of waiting on hosts that never answer)
. "$(dirname "$0")/lib.sh"

need_keys
need_tunneld
for t in "${SSHD_BIN:=/usr/sbin/sshd}" ssh scp ssh-keygen nc python3; do
	command -v "$t" >/dev/null || { fail "$t not installed"; exit 1; }
done
[ -d /run/sshd ] || install -d -m 0755 /run/sshd

# Every node's roster lives at $T/n.d/roster; its sshd runs in a mount namespace of its own
# where $T/n.d is also seen at $T/state, so one --remote-path ($T/state/roster.new) lands in
# each node's own directory, as /var/lib/warren/roster.new does on real machines.
STATE=$T/state
mkdir -m 0700 "$STATE" "$T/ssh"
ssh-keygen -q -t ed25519 -N '' -C push@admin -f "$T/ssh/id"
cp "$T/ssh/id.pub" "$T/ssh/authorized_keys"

# push_sshd NODE ADDR...: sshd on NODE's underlay addresses, port 22, root by key only
# (PUSH_SSHD_EXTRA: one more config line).
push_sshd() {
	local n=$1 d=$T/sshd-$1 a; shift
	mkdir -p -m 0700 "$d"
	ssh-keygen -q -t ed25519 -N '' -C "$n" -f "$d/host_ed25519"
	{
		for a in "$@"; do printf 'ListenAddress %s:22\n' "$a"; done
		printf 'HostKey %s\nPidFile none\nUsePAM no\nPasswordAuthentication no\n' "$d/host_ed25519"
		printf 'KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n'
		printf 'AuthorizedKeysFile %s\nStrictModes no\nUseDNS no\nLogLevel VERBOSE\nSubsystem sftp /usr/lib/openssh/sftp-server\n' "$T/ssh/authorized_keys"
		[ -z "${PUSH_SSHD_EXTRA:-}" ] || printf '%s\n' "$PUSH_SSHD_EXTRA"
	} >"$d/sshd_config"
	"$SSHD_BIN" -t -f "$d/sshd_config" 2>"$T/sshd-$n.log" || { fail "$n: sshd -t: $(cat "$T/sshd-$n.log")"; return 1; }
	ip netns exec "${NS[$n]}" unshare --mount --propagation private sh -c \
		'mount --bind "$1" "$2" && exec "$3" -D -e -f "$4"' sh "$T/$n.d" "$STATE" "$SSHD_BIN" \
		"$d/sshd_config" >>"$T/sshd-$n.log" 2>&1 &
	BG_PIDS+=($!)
	wait_until 10 listening "$n" 22 || { fail "$n: sshd not listening"; return 1; }
}

roster_admin_init
for n in a b c; do
	rnode_add "$n" "$(( $(printf '%d' "'$n") - 96 ))"
	mkdir -m 0700 "$T/$n.d"
	ROSTER_PATH[$n]=$T/$n.d/roster
done
rnode_enroll a
rnode_enroll b
roster_publish --force
# c belongs to another admin (same network name): it pins that admin's key, so it refuses
# every roster of ours, whatever its serial.
ADMIN_MAIN=$ADMIN
ADMIN=$T/admin2 roster_admin_init
ADMIN=$T/admin2 rnode_enroll c
ADMIN=$T/admin2 roster_publish
ADMIN=$T/admin2 rnode_conf c
rnode_provision c "$T/admin2/roster.signed"
C_SERIAL=$(roster_serial_of "$T/admin2/roster.signed")
ADMIN=$ADMIN_MAIN
for n in a b; do rnode_provision "$n"; done
for n in a b c; do rnode_start "$n"; done

# The other hosts: r refuses (nothing listens), h accepts and never speaks, e takes the copy
# and answers the rename with terminal escapes on stderr, adm pushes.
node_add r 4 tunneld
node_add h 5 tunneld
node_add e 6 tunneld
node_add adm 9 tunneld
mkdir -m 0700 "$T/e.d"
cat >"$T/evil.sh" <<'EOF'
#!/bin/sh
case $SSH_ORIGINAL_COMMAND in sftp | *sftp-server*) exec /usr/lib/openssh/sftp-server ;; esac
printf '\033[2J\033]0;pwned\007evil\n' >&2
exit 1
EOF
chmod 0755 "$T/evil.sh"
PUSH_SSHD_EXTRA="ForceCommand $T/evil.sh" push_sshd e "${UL[e]}"
ip -n "${NS[b]}" addr add 192.0.2.12/24 dev ul0
push_sshd a "${UL[a]}"
push_sshd b "${UL[b]}" 192.0.2.12
push_sshd c "${UL[c]}"
ip netns exec "${NS[h]}" nc -d -k -l "${UL[h]}" 22 </dev/null >/dev/null 2>&1 &
BG_PIDS+=($!)
wait_until 10 listening h 22 || fail "h: nc not listening"
# The admin knows b's key at 192.0.2.12 as another one: a changed host key.
ssh-keygen -q -t ed25519 -N '' -f "$T/ssh/other"
printf '192.0.2.12 %s\n' "$(cut -d' ' -f1,2 "$T/ssh/other.pub")" >"$T/ssh/known_hosts"

# jget EXPR: EXPR on d, the JSON object in $T/out.
jget() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print($1)" "$T/out"; }
host_of() { printf 'next(h for h in d["hosts"] if h["host"] == "%s")' "$1"; }

push() {
	timeout -k 2 120 ip netns exec "${NS[adm]}" "$KEYS_BIN" -C "$ADMIN" push \
		--remote-path "$STATE/roster.new" --remote-keys "$KEYS_BIN" \
		-o "IdentityFile=$T/ssh/id" -o "UserKnownHostsFile=$T/ssh/known_hosts" \
		-o StrictHostKeyChecking=accept-new -o IdentitiesOnly=yes "$@"
}

# 1. Nine hosts at once, three good, six broken in six ways.  --timeout 20: at 6 s and at 9 s
# the good hosts timed out too (scp, then ssh mv) in CI, four tests at a time on two cores.  The
# hanging host then ends at ssh's own ConnectTimeout (10 s, which covers the banner exchange)
# or at ours, whichever comes first on a loaded machine.
roster_publish --force
t0=$(now_ms)
rc=0
push --timeout 20 root@"${UL[a]}" root@"${UL[b]}" root@"${UL[c]}" root@"${UL[r]}" \
	root@"${UL[h]}" root@192.0.2.77 nobody@"${UL[a]}" root@192.0.2.12 root@"${UL[e]}" \
	>"$T/out" 2>"$T/err" || rc=$?
ms=$(( $(now_ms) - t0 ))
log "push took $ms ms; stderr:"
sed 's/^/     /' "$T/err"
assert_eq "push: exit status 1 when a host failed" 1 "$rc"
for n in a b c; do
	check "push: $n reported ok" grep -qF "root@${UL[$n]}: ok (serial $SERIAL)" "$T/err"
	check "push: $n holds the pushed roster (or ran it)" \
		bash -c "cmp -s '$ADMIN/roster.signed' '$T/$n.d/roster.new' || [ \$(sed -n 's/^serial //p' '$T/$n.d/roster') = $SERIAL ] || [ $n = c ]"
done
assert_match "push: a refusing host's reason is ssh's own" \
	"root@${UL[r]}: FAILED: .*Connection refused" "$(grep -F "root@${UL[r]}:" "$T/err")"
assert_match "push: a hanging host times out on its own" \
	"root@${UL[h]}: FAILED: (timed out after 20 s|.*Connection timed out during banner exchange)" \
	"$(grep -F "root@${UL[h]}:" "$T/err")"
# Once in about twenty runs under the sanitizer build and a loaded machine, ssh exited 255
# with no line of its own for this address (not understood yet: the reason is then missing, the
# failure is still reported); the reason, when given, must be the right one.
assert_match "push: an address nobody answers for" \
	"root@192.0.2.77: FAILED: (scp exit 255(: .*No route to host)?|timed out after 20 s \(scp\))$" \
	"$(grep -F "root@192.0.2.77:" "$T/err")"
assert_match "push: a refused user" "nobody@${UL[a]}: FAILED: .*Permission denied \(publickey\)" \
	"$(grep -F "nobody@${UL[a]}:" "$T/err")"
assert_match "push: a changed host key" "root@192.0.2.12: FAILED: .*Host key verification failed" \
	"$(grep -F "root@192.0.2.12:" "$T/err")"
check "push: the summary counts the failures" grep -qF "push failed for 6 of 9 hosts" "$T/err"
assert_le "push: the hanging host held nobody (parallel, per-host deadline)" 35000 "$ms"

# 2. Output from a host is untrusted: e's terminal escapes reach the report escaped.
check "push: no raw escape or BEL byte in the report" bash -c "! grep -q \$'[\\x1b\\x07]' '$T/err'"
assert_match "push: e's own words, escaped" 'root@192.0.2.6: FAILED: .*\\033\[2J\\033\]0;pwned\\007evil' \
	"$(grep -F "root@${UL[e]}:" "$T/err")"

# 3. --json: one object for scripts, every host with its result.
rc=0
push --json --timeout 20 root@"${UL[a]}" root@"${UL[r]}" >"$T/out" 2>"$T/err" || rc=$?
assert_eq "push --json: exit 1" 1 "$rc"
check "push --json is JSON" python3 -m json.tool "$T/out"
assert_eq "push --json: serial" "$SERIAL" "$(jget 'd["serial"]')"
assert_eq "push --json: a pushed" True "$(jget "$(host_of "root@${UL[a]}")[\"pushed\"]")"
assert_match "push --json: r's reason" "Connection refused" \
	"$(jget "$(host_of "root@${UL[r]}")[\"error\"]")"
assert_eq "push --json: counts" "1 1" "$(jget 'd["ok"], d["failed"]')"

# 4. --wait: a and b confirm the new serial; c's tunneld refused it (another admin's key) and
# still runs its own, which --wait names.
roster_publish --force
rc=0
push --wait 10 root@"${UL[a]}" root@"${UL[b]}" root@"${UL[c]}" >"$T/out" 2>"$T/err" || rc=$?
sed 's/^/     /' "$T/err"
assert_eq "push --wait: exit 1 when a node does not confirm" 1 "$rc"
for n in a b; do
	check "push --wait: $n confirms serial $SERIAL" grep -qF "root@${UL[$n]}: ok, runs serial $SERIAL" "$T/err"
	assert_eq "push --wait: $n really persisted $SERIAL" "$SERIAL" "$(node_serial "$n")"
done
check "push --wait: c named, with the serial it runs" \
	grep -qF "root@${UL[c]}: NOT CONFIRMED: runs serial $C_SERIAL, pushed $SERIAL" "$T/err"
check "push --wait: c's tunneld did refuse it" grep -q "roster from .*roster.new rejected" "$T/c.log"
rc=0
push --json --wait 20 root@"${UL[a]}" root@"${UL[b]}" >"$T/out" 2>"$T/err" || rc=$?
assert_eq "push --wait: exit 0 when every node confirms" 0 "$rc"
assert_eq "push --wait --json: both confirmed" "True True" \
	"$(jget '*[h["confirmed"] for h in d["hosts"]]')"
assert_eq "push --wait --json: the serial they run" "$SERIAL $SERIAL" \
	"$(jget '*[h["running_serial"] for h in d["hosts"]]')"

# 5. Bounded parallelism: two hanging hosts (h, by two spellings) at --timeout 2 take about 4 s
# one at a time (-j 1) and about 2 s together (-j 2); bad -j is a usage error.
for j in 1 2; do
	t0=$(now_ms)
	push -j "$j" --timeout 2 root@"${UL[h]}" "${UL[h]}" >"$T/out" 2>"$T/err" || true
	ms=$(( $(now_ms) - t0 ))
	assert_eq "push -j $j: both hanging hosts time out" 2 "$(grep -c 'FAILED: timed out after 2 s' "$T/err")"
	if [ "$j" = 1 ]; then assert_ge "push -j 1: one host at a time ($ms ms)" 4000 "$ms"
	else assert_le "push -j 2: both at once ($ms ms)" 3900 "$ms"; fi
done
rc=0
push -j 1 root@"${UL[a]}" root@"${UL[b]}" >"$T/out" 2>"$T/err" || rc=$?
assert_eq "push -j 1: exit 0" 0 "$rc"
rc=0
push -j 0 root@"${UL[a]}" >"$T/out" 2>"$T/err" || rc=$?
assert_eq "push -j 0: usage error" 2 "$rc"

# 6. Interrupted: SIGTERM to a push waiting on the hanging host leaves no scp or ssh behind
# (they run in process groups of their own, out of reach of the terminal's Ctrl-C).
ip netns exec "${NS[adm]}" "$KEYS_BIN" -C "$ADMIN" push --timeout 60 --remote-path "$STATE/roster.new" \
	-o "IdentityFile=$T/ssh/id" -o "SetEnv=PUSHTEST=$RUN" root@"${UL[h]}" >"$T/out" 2>"$T/err" &
p=$!
BG_PIDS+=("$p")
check "the stuck push runs its ssh" wait_until 10 pgrep -f "ssh .*[P]USHTEST=$RUN"
kill -TERM "$p"
rc=0
wait "$p" || rc=$?
assert_eq "push killed by SIGTERM: exit 1" 1 "$rc"
check "no scp or ssh left behind" wait_until 5 bash -c "! pgrep -f '[P]USHTEST=$RUN' >/dev/null"
check "the host is reported interrupted" grep -qF "root@${UL[h]}: FAILED: interrupted" "$T/err"

finish
