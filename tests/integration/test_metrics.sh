#!/usr/bin/env bash
# Metrics, scraped by Debian's real Prometheus: tunneld (MetricsListen, roster mode) on the
# bastion host "jump" and on node web-1, and the bastion (MetricsListen, its sandboxed network
# process under the real seccomp filter).  `promtool check metrics` accepts both pages; the
# counters move where the decisions are made (a garbage datagram: a drop with its reason; a
# jump: auth accepted, jump opened, bytes relayed; a refused jump: its reason); a prometheus
# server in jump's namespace scrapes both (1 s interval) and its HTTP API says up == 1 and a
# non-zero rx byte count for peer web-1 by name.  Hostile clients: oversized headers, a client
# that sends nothing, more connections than allowed, a POST: each refused or cut off, and the
# endpoint still answers; a local user holding every slot of the bastion's endpoint with
# silent connections cannot keep scrapes out (the oldest silent one makes room), nor of
# tunneld's (every slot loopback may use).
. "$(dirname "$0")/lib.sh"

command -v prometheus >/dev/null && command -v promtool >/dev/null ||
	{ fail "prometheus and promtool not installed (make deps)"; exit 1; }
need_bastion
bastion_net_init
bastion_nodes_add web-1
eng_add alice web-1:22
TPORT=9586
BPORT=9587
for n in jump web-1; do
	rnode_conf "$n"
	printf 'MetricsListen = 127.0.0.1:%s\n' "$TPORT" >>"$(conf_file "$n")"
done
bastion_up "MetricsListen = $BPORT"	# a bare port: loopback

# scrape NODE PORT [CURL-ARGS...]: the page, from NODE's namespace.
scrape() {
	local n=$1 p=$2; shift 2
	nsx "$n" curl -sS --max-time 10 "$@" "http://127.0.0.1:$p/metrics"
}
# metric PAGE-FILE SERIES: the value of one series (the exact name and labels), or "none".
metric() { awk -v s="$2" '$1 == s { print $2; f = 1 } END { if (!f) print "none" }' "$1"; }

# Traffic: a jump (bytes both ways through the bastion, over the overlay to web-1), a refused
# jump, and one garbage datagram to jump's tunneld.
out=$(eng_ssh alice -J alice@bastion web-1 uname -n 2>&1 || true)
assert_eq "ssh -J alice@bastion web-1 uname -n" "web-1" "$out"
out=$(eng_ssh alice -o LogLevel=INFO -W web-1:80 bastion 2>&1 </dev/null || true)
assert_match "a port alice may not use (web-1:80) is refused" "administratively prohibited" "$out"
nsx web-1 bash -c "printf 'garbage' >/dev/udp/${UL[jump]}/${PORT[jump]}"

scrape jump "$TPORT" >"$T/tunneld.prom" || true
scrape jump "$BPORT" >"$T/bastion.prom" || true
scrape web-1 "$TPORT" >"$T/web-1.prom" || true
for f in tunneld bastion web-1; do
	check "$f's page is there" grep -q '_build_info{' "$T/$f.prom"
	out=$(promtool check metrics <"$T/$f.prom" 2>&1) && rc=0 || rc=$?
	assert_eq "promtool check metrics: $f's page ($(wc -c <"$T/$f.prom") bytes) [$out]" 0 "$rc"
done
check "tunneld: build_info with the interface" \
	grep -q "^tunneld_build_info{version=\"[^\"]*\",interface=\"${IFN[jump]}\"} 1$" "$T/tunneld.prom"
wkey=${PUB[web-1]}
rx=$(metric "$T/tunneld.prom" "tunneld_peer_receive_bytes_total{public_key=\"$wkey\",name=\"web-1\"}")
assert_ge "tunneld: rx bytes from web-1, by key and name ($rx)" 1 "${rx/none/0}"
hs=$(metric "$T/tunneld.prom" "tunneld_peer_last_handshake_timestamp_seconds{public_key=\"$wkey\",name=\"web-1\"}")
assert_ge "tunneld: web-1's handshake within a minute ($hs)" $(( $(date +%s) - 60 )) "${hs%.*}"
malformed() { scrape jump "$TPORT" | grep -qE '^tunneld_packets_dropped_total\{reason="malformed"\} [1-9]'; }
check "tunneld: the garbage datagram counted as a malformed drop" wait_until 5 malformed
assert_ge "tunneld: handshakes completed" 1 "$(metric "$T/tunneld.prom" tunneld_handshakes_completed_total)"
assert_eq "tunneld: roster serial" "$SERIAL" "$(metric "$T/tunneld.prom" tunneld_roster_serial)"
assert_eq "tunneld: not under load" 0 "$(metric "$T/tunneld.prom" tunneld_under_load)"
assert_ge "bastion: auth accepted" 1 \
	"$(metric "$T/bastion.prom" 'bastion_auth_attempts_total{result="accepted",reason="none"}')"
assert_ge "bastion: jump opened" 1 \
	"$(metric "$T/bastion.prom" 'bastion_jumps_total{result="opened",reason="none"}')"
assert_ge "bastion: jump refused: not_allowed" 1 \
	"$(metric "$T/bastion.prom" 'bastion_jumps_total{result="refused",reason="not_allowed"}')"
assert_ge "bastion: bytes relayed to the engineer" 1000 \
	"$(metric "$T/bastion.prom" 'bastion_relayed_bytes_total{direction="to_engineer"}')"
assert_eq "bastion: audit writable" 1 "$(metric "$T/bastion.prom" bastion_audit_writable)"

# Hostile clients.  Headers over the bound: refused, and the endpoints still answer.
big=$(head -c 20000 /dev/zero | tr '\0' a)
code=$(nsx jump curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "X-Big: $big" \
	"http://127.0.0.1:$BPORT/metrics" || true)
assert_eq "bastion: oversized headers refused (431)" 431 "$code"
code=$(nsx jump curl -s -o /dev/null -w '%{http_code}' --max-time 10 -H "X-Big: $big" \
	"http://127.0.0.1:$TPORT/metrics" || true)
check "tunneld: oversized headers refused ($code)" test "$code" != 200
for p in "$TPORT" "$BPORT"; do
	code=$(nsx jump curl -s -o /dev/null -w '%{http_code}' --max-time 10 -d x \
		"http://127.0.0.1:$p/metrics" || true)
	check "port $p: a POST is refused ($code)" test "$code" = 405 -o "$code" = 413
	code=$(nsx jump curl -s -o /dev/null -w '%{http_code}' --max-time 10 \
		"http://127.0.0.1:$p/other" || true)
	assert_eq "port $p: another path is 404" 404 "$code"
done
# Silent clients, more than the bound: the extra ones are closed at once, the rest at the
# deadline (tunneld 10 s, bastion 5 s); meanwhile and after, a scrape is answered or refused,
# never hung.
cat >"$T/silent.py" <<'PY'
# 20 connections that send nothing: prints how many the server closed at once (within 1 s)
# and the seconds until the last one was closed (60: not all closed within 60 s).
import socket, sys, time
port = int(sys.argv[1])
socks = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(20)]
t0 = time.monotonic()
closed = {}
while len(closed) < len(socks) and time.monotonic() - t0 < 60:
    for i, s in enumerate(socks):
        if i in closed:
            continue
        s.settimeout(0.05)
        try:
            if s.recv(1) == b"":
                closed[i] = time.monotonic() - t0
        except socket.timeout:
            pass
        except OSError:
            closed[i] = time.monotonic() - t0
print(sum(1 for t in closed.values() if t < 1), int(max(closed.values(), default=60)) if len(closed) == len(socks) else 60)
PY
for p in "$TPORT" "$BPORT"; do
	read -r early last < <(nsx jump python3 "$T/silent.py" "$p" || echo "0 60")
	assert_ge "port $p: of 20 silent clients, the ones over the bound closed at once ($early)" 4 "$early"
	assert_le "port $p: the others closed by the deadline (${last} s)" 15 "$last"
	check "port $p: still answers after the silent clients" \
		bash -c "ip netns exec ${NS[jump]} curl -sf --max-time 10 http://127.0.0.1:$p/metrics | grep -q _build_info"
done

# A local user holding every slot of the bastion's endpoint with silent connections (reopened
# as soon as one is closed): the oldest silent one makes room, so scrapes are still answered.
cat >"$T/hold.py" <<'PY'
# Holds N silent connections for D seconds, reopening each one the server closes; meanwhile
# scrapes every 0.5 s on a fresh connection.  Prints the scrapes answered and the scrapes made.
import socket, sys, time, urllib.request
port, n, dur = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
def hold():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.setblocking(False)
    return s
socks = [hold() for _ in range(n)]
ok = tries = 0
t0 = last = time.monotonic()
while time.monotonic() - t0 < dur:
    for i, s in enumerate(socks):
        try:
            if s.recv(1) == b"":
                s.close(); socks[i] = hold()
        except BlockingIOError:
            pass
        except OSError:
            s.close(); socks[i] = hold()
    if time.monotonic() - last > 0.5:
        last = time.monotonic(); tries += 1
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=2).read(); ok += 1
        except Exception:
            pass
    time.sleep(0.01)
print(ok, tries)
PY
read -r ok tries < <(nsx jump python3 "$T/hold.py" "$BPORT" 8 4 || echo "0 0")
assert_ge "bastion: scrapes answered while 8 silent connections are held ($ok of $tries)" \
	"$(( tries > 1 ? tries - 1 : 1 ))" "$ok"
# tunneld's endpoint: 4 connections from one address, so one local user holds all of
# loopback's share.
read -r ok tries < <(nsx jump python3 "$T/hold.py" "$TPORT" 4 4 || echo "0 0")
assert_ge "tunneld: scrapes answered while 4 silent connections are held ($ok of $tries)" \
	"$(( tries > 1 ? tries - 1 : 1 ))" "$ok"

# Prometheus itself, in jump's namespace, scraping both every second.
cat >"$T/prometheus.yml" <<CONF
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: tunneld
    static_configs: [{ targets: ['127.0.0.1:$TPORT'] }]
  - job_name: bastion
    static_configs: [{ targets: ['127.0.0.1:$BPORT'] }]
CONF
nsx jump prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
	--web.listen-address=127.0.0.1:9090 --log.level=warn >"$T/prometheus.log" 2>&1 &
PROM_PID=$!
BG_PIDS+=($PROM_PID)
# query EXPR: the API's first value for EXPR, or nothing.
query() {
	nsx jump curl -s --max-time 5 -G --data-urlencode "query=$1" \
		http://127.0.0.1:9090/api/v1/query |
		python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "")' \
		2>/dev/null || true
}
# query_is EXPR VALUE: the API answers VALUE for EXPR; query_pos EXPR: a value above 0.
query_is() { [ "$(query "$1")" = "$2" ]; }
query_pos() { local v; v=$(query "$1"); [ -n "$v" ] && [ "${v%%.*}" -gt 0 ]; }
check "prometheus: tunneld is up" wait_until 40 query_is 'up{job="tunneld"}' 1
check "prometheus: the bastion is up" wait_until 10 query_is 'up{job="bastion"}' 1
check "prometheus: web-1's rx bytes, by name, above 0" \
	wait_until 10 query_pos 'tunneld_peer_receive_bytes_total{name="web-1"}'
check "prometheus: the bastion's relayed bytes above 0" \
	wait_until 10 query_pos 'sum(bastion_relayed_bytes_total)'

kill -TERM "$PROM_PID" 2>/dev/null || true
wait_until 10 bash -c "! kill -0 $PROM_PID" || kill -9 "$PROM_PID" 2>/dev/null || true

check "bastion stops cleanly on SIGTERM" bastion_stop
for n in jump web-1; do
	check "$n: no metrics error logged" bash -c "! grep -q 'metrics.*\\(ERROR\\|cannot\\)' $T/$n.log"
done
finish
