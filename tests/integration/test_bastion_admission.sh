#!/usr/bin/env bash
# Fair admission (issue 8 item 2): an attacker namespace on the public switch keeps 80
# banner-then-silent connections open from one IPv4 address and 80 more from four IPv6
# addresses of one /64, reopening each as soon as it is closed, for 30 s.  Meanwhile alice,
# from the engineer namespace (another address), must get through `ssh -J` every time.  With
# the defaults each source holds at most PerSourceMaxStartups (16) unauthenticated connections
# (the /64 counts as one source), and once its connections run out of LoginGraceTime the
# source is refused for a growing time (PerSourcePenalties grace-exceeded).
. "$(dirname "$0")/lib.sh"

need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice web-1:22

V6_NET=2001:db8:113
ip -n "${NS[jump]}" addr add "$V6_NET::1/64" dev pub0 nodad
ATK=${RUN}atk
ns_add "$ATK"
ip -n "$ATK" link add pub0 type veth peer name patk netns "$PUB_SW"
ip -n "$PUB_SW" link set patk master br0 up
ip -n "$ATK" addr add "$PUB_NET.66/24" dev pub0
for i in 1 2 3 4; do ip -n "$ATK" addr add "$V6_NET::66:$i/64" dev pub0 nodad; done
ip -n "$ATK" link set pub0 up

bastion_up "LoginGraceTime = 4" "ListenAddress = [$V6_NET::1]:22"
jump_ok() { [ "$(eng_ssh alice -J alice@bastion web-1 uname -n 2>/dev/null)" = web-1 ]; }
check "alice: ssh -J works before the attack" jump_ok

# hog NAME HOST SRC: 80 slots for 30 s, at most 15000 attempts; stats in $T/hog.NAME.
hog() {
	timeout -k 2 40 ip netns exec "$ATK" /usr/bin/python3 "$ROOT/tests/integration/startup_hog.py" \
		"$2" 22 "$3" 80 30 15000 "$T/hog.$1" >>"$T/hog.log" 2>&1 &
	BG_PIDS+=($!)
	HOG_PIDS+=($!)
}
stat_of() { sed -n "s/.*\\b$2=\\([0-9]*\\).*/\\1/p" "$T/hog.$1" 2>/dev/null; }
holding() { [ "$(stat_of "$1" held)" -ge "$2" ] 2>/dev/null; }

HOG_PIDS=()
hog v4 "${PUB_ADDR[bastion]}" "$PUB_NET.66"
hog v6 "$V6_NET::1" "$V6_NET::66:1,$V6_NET::66:2,$V6_NET::66:3,$V6_NET::66:4"
wait_until 15 holding v4 5 || fail "the IPv4 attacker never held 5 connections"
wait_until 15 holding v6 5 || fail "the IPv6 attacker never held 5 connections"
log "attack running: v4 $(cat "$T/hog.v4" 2>/dev/null); v6 $(cat "$T/hog.v6" 2>/dev/null)"

# alice, every 2 s while the attack lasts (8 logins in about 25 s): every one gets through.
ok=0
for i in $(seq 1 8); do
	t0=$(now_ms)
	if jump_ok; then ok=$((ok + 1)); else log "login $i refused during the attack"; fi
	log "login $i: $(( $(now_ms) - t0 )) ms; v4 $(cat "$T/hog.v4" 2>/dev/null); v6 $(cat "$T/hog.v6" 2>/dev/null)"
	sleep 2
done
assert_eq "alice got through ssh -J every time during the attack" 8 "$ok"

for p in "${HOG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
log "attack over: v4 $(cat "$T/hog.v4"); v6 $(cat "$T/hog.v6")"
assert_le "IPv4 attacker: at most PerSourceMaxStartups (16) held at once" 16 "$(stat_of v4 max_held)"
assert_le "IPv6 attacker: four addresses of one /64 hold at most 16 at once" 16 "$(stat_of v6 max_held)"
assert_ge "IPv4 attacker kept trying (more than 100 attempts)" 100 "$(stat_of v4 opens)"
# Penalties: after the first LoginGraceTime round each source is refused before its banner.
assert_le "IPv4 attacker: penalties leave it few banners (under 40 of its attempts)" 40 "$(stat_of v4 banners)"
assert_le "IPv6 attacker: penalties leave it few banners (under 40)" 40 "$(stat_of v6 banners)"
assert_ge "bastion log: PerSourceMaxStartups refusals" 1 \
	"$(grep -c 'PerSourceMaxStartups' "$T/bastion.log" || true)"
assert_ge "bastion log: penalty refusals" 1 "$(grep -c "PerSourcePenalties" "$T/bastion.log" || true)"
check "alice: ssh -J works after the attack" jump_ok
check "bastion still running" pid_alive "$BASTION_PID"

finish
