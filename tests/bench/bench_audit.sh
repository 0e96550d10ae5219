#!/usr/bin/env bash
# Audit group commit, measured (alone, as root): CONCURRENT (500) `ssh -W web-1:22 bastion`
# started at once, each held open; prints the time until all are established at web-1
# (jumps/s) and, from the audit log, each jump's latency from its auth_accept line to its
# jump_open line (median and 99th percentile: the target connect plus the wait for the
# jump_open line to be durable).  BASTION_BIN=... compares another build.  Never fails.
. "$(dirname "$0")/../integration/lib.sh"
set +eE
trap - ERR

CONCURRENT=${CONCURRENT:-500}
[ -x "$BASTION_BIN" ] || { echo "bench_audit: $BASTION_BIN not built, skipping"; exit 0; }
ulimit -n 65536 2>/dev/null || ulimit -n 8192 2>/dev/null || true

bastion_net_init || { echo "bench_audit: setup failed"; exit 0; }
bastion_nodes_add web-1
SSHD_EXTRA=("MaxStartups $((CONCURRENT * 2))" "LoginGraceTime 0" "MaxSessions 10")
eng_add alice '*:22'
bastion_up "MaxStartups = $((CONCURRENT + 100))" "PerSourceMaxStartups = none" "LoginGraceTime = 60" ||
	{ echo "bench_audit: setup failed"; dump_logs; exit 0; }
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1)
[ "$out" = web-1 ] || echo "bench_audit: warm-up jump said: $(printf '%s' "$out" | head -c 200)"
established() {
	ip netns exec "${NS[web-1]}" ss -Htn state established "( sport = :22 and dst $1 )" \
		2>/dev/null | wc -l
}

skip=$(wc -l <"$AUDIT_LOG")
: >"$T/conc.pids"
t0=$(now_ms)
timeout -k 5 120 ip netns exec "$ENG" bash -c '
	for i in $(seq "$1"); do
		sleep 90 | timeout -k 2 100 ssh -F "$2" -i "$3" -W web-1:22 bastion >/dev/null 2>&1 &
		echo $! >>"$4"
	done
	wait' sh "$CONCURRENT" "$T/ssh/alice.config" "$T/ssh/alice" "$T/conc.pids" &
runner=$!
BG_PIDS+=($runner)
up=0
for _ in $(seq 1200); do
	up=$(established "${OV4[jump]}")
	[ "$up" -lt "$CONCURRENT" ] || break
	sleep 0.05
done
t_up=$(( $(now_ms) - t0 ))
while read -r p; do kill "$p" 2>/dev/null; done <"$T/conc.pids"
for _ in $(seq 200); do [ "$(established "${OV4[jump]}")" -eq 0 ] && break; sleep 0.1; done
kill "$runner" 2>/dev/null
wait "$runner" 2>/dev/null
bastion_stop || true

# auth_accept -> jump_open per session, in ms, from the lines' own times.
lat=$(tail -n +"$((skip + 1))" "$AUDIT_LOG" | python3 -c '
import json, sys, datetime
t = {}
out = []
for line in sys.stdin:
    r = json.loads(line)
    if r["event"] not in ("auth_accept", "jump_open"):
        continue
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ"
    ts = datetime.datetime.strptime(r["time"], fmt).timestamp()
    if r["event"] == "auth_accept":
        t[r["session"]] = ts
    elif r["session"] in t:
        out.append((ts - t[r["session"]]) * 1000)
out.sort()
if out:
    p99 = out[min(len(out) - 1, int(len(out) * 0.99))]
    print("%.1f ms median, %.1f ms p99 (%d jumps)" % (out[len(out) // 2], p99, len(out)))
else:
    print("n/a")')
echo
echo "bench_audit: $(nproc) CPU, $BASTION_BIN, log on $(df -T "$AUDIT_LOG" | awk 'NR == 2 { print $2 }')"
rate=$(awk -v n="$up" -v ms="$t_up" 'BEGIN { printf "%.0f", n * 1000 / ms }')
printf '%-44s %s\n' "$CONCURRENT concurrent jumps established" "$up in $t_up ms ($rate jumps/s)"
printf '%-44s %s\n' "auth_accept -> jump_open durable" "$lat"
fs=$(sed -n 's/.*audit process: \(.*\)/\1/p' "$T/bastion.log" | tail -n 1)
printf '%-44s %s\n' "audit process (whole run)" "${fs:-n/a (a bastion without one)}"
finish >/dev/null
exit 0
