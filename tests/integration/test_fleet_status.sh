#!/usr/bin/env bash
# keys status: the fleet table as one node sees it.  Four roster nodes, d stopped: on a, the
# table and the JSON show b and c reachable with the serial they run and a handshake, d
# unreachable (within the timeout, never hanging); --via runs it on a node through ssh (a
# stand-in ssh that enters the node's namespace).  GET /v1/status is read-only: other methods,
# huge headers and hostile targets are refused and change nothing.
. "$(dirname "$0")/lib.sh"

roster_admin_init
for n in a b c d; do rnode_add "$n" "$(( $(printf '%d' "'$n") - 96 ))"; done
for n in a b c d; do rnode_enroll "$n"; done
roster_publish
for n in a b c d; do rnode_provision "$n"; rnode_start "$n"; done
for n in b c d; do check "ping a -> $n" ping_ok a "${OV4[$n]}"; done
check "d stops" node_stop d

status_a() {
	nsx a timeout -k 2 30 "$KEYS_BIN" status --roster "${ROSTER_PATH[a]}" --interface "${IFN[a]}" \
		--timeout 2 "$@"
}

t0=$(now_ms)
status_a --json >"$T/status.json" 2>"$T/status.err" || fail "keys status --json failed: $(cat "$T/status.err")"
elapsed=$(( $(now_ms) - t0 ))
assert_le "keys status with a node down answers within its 2 s timeout (ms)" 4000 "$elapsed"
check "the JSON says who runs what" python3 - "$T/status.json" "$SERIAL" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
serial = int(sys.argv[2])
nodes = {n["name"]: n for n in doc["nodes"]}
assert doc["node"] == "a", doc
assert sorted(nodes) == ["a", "b", "c", "d"], nodes
assert nodes["a"]["self"] and nodes["a"]["serial"] == serial, nodes["a"]
for n in "bc":
    v = nodes[n]
    assert v["reachable"] and v["serial"] == serial, v
    assert v["last_handshake"] and v["handshake_age_seconds"] < 60, v
    assert v["rx_bytes"] > 0 and v["tx_bytes"] > 0, v
    assert v["peers"] == 3 and v["peers_live"] >= 1 and v["error"] is None, v
d = nodes["d"]
assert not d["reachable"] and d["serial"] is None and "timeout" in d["error"], d
assert d["last_handshake"], d   # a did reach d before it stopped
PY
status_a >"$T/status.txt" 2>>"$T/status.err"
cat "$T/status.txt"
check "the table: b reachable at serial $SERIAL" grep -Eq "^b +${OV4[b]} .* $SERIAL +[0-9]+s ago .* reachable$" "$T/status.txt"
check "the table: d unreachable" grep -Eq "^d +${OV4[d]} .* UNREACHABLE: no connection within the timeout$" "$T/status.txt"
check "the table: a is self" grep -Eq "^a +${OV4[a]} .* self$" "$T/status.txt"
check "status --node still answers" bash -c "\"$KEYS_BIN\" status --node --json --roster \"${ROSTER_PATH[a]}\" | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"serial\"] == $SERIAL'"

# --via HOST: ssh HOST keys status ...; the stand-in ssh runs the command in HOST's namespace.
mkdir -p "$T/bin"
ln -s "$(readlink -f "$KEYS_BIN")" "$T/bin/keys"
cat >"$T/bin/ssh" <<SH
#!/usr/bin/env bash
while [ "\$1" = -o ]; do echo "opt \$2" >>"$T/ssh.args"; shift 2; done
[ "\$1" = -- ] && shift
host=\$1; shift
echo "cmd \$*" >>"$T/ssh.args"
exec ip netns exec "${RUN}\$host" env PATH="$T/bin:\$PATH" sh -c "\$*"
SH
chmod +x "$T/bin/ssh"
PATH="$T/bin:$PATH" timeout -k 2 30 "$KEYS_BIN" status --via b --ssh-option BatchMode=yes \
	--roster "${ROSTER_PATH[b]}" --interface "${IFN[b]}" --timeout 2 --json \
	>"$T/via.json" 2>>"$T/status.err" || fail "keys status --via failed: $(cat "$T/status.err")"
check "--via b: b's view, a reachable, d not" python3 - "$T/via.json" "$SERIAL" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
nodes = {n["name"]: n for n in doc["nodes"]}
assert doc["node"] == "b" and nodes["b"]["self"], doc
assert nodes["a"]["reachable"] and nodes["a"]["serial"] == int(sys.argv[2]), nodes["a"]
assert not nodes["d"]["reachable"], nodes["d"]
PY
check "--via passed the ssh option and quoted the arguments" grep -q "^opt BatchMode=yes$" "$T/ssh.args"
check "--via quoted the remote words" grep -q "^cmd keys status '--roster' " "$T/ssh.args"

# Hostile requests to the endpoint, from b (a roster node, so they reach the handler).
hostile() {
	nsx b python3 - "${OV4[a]}" <<'PY'
import socket, sys
def ask(req, read=True):
    s = socket.create_connection((sys.argv[1], 7946), timeout=10)
    try:
        s.sendall(req)
        data = b""
        while read:
            b = s.recv(65536)
            if not b:
                break
            data += b
        return data.split(b"\r\n", 1)[0].decode()
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    finally:
        s.close()
codes = {}
for m in ("POST", "PUT", "DELETE"):
    codes[m] = ask(b"%s /v1/status HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n{}" % m.encode())
codes["huge"] = ask(b"GET /v1/status HTTP/1.1\r\nHost: a\r\nX-Pad: " + b"x" * 200000 + b"\r\n\r\n")
codes["query"] = ask(b"GET /v1/status?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
codes["get"] = ask(b"GET /v1/status HTTP/1.1\r\nHost: a\r\n\r\n")
print(codes)
# 405 from the handler, 501 from evhttp for methods it does not serve at all.
assert all(codes[m][9:12] in ("405", "501") for m in ("POST", "PUT", "DELETE")), codes
assert not codes["huge"].startswith("HTTP/1.1 200"), codes
assert codes["query"].startswith("HTTP/1.1 404"), codes
assert codes["get"].startswith("HTTP/1.1 200"), codes
PY
}
check "hostile requests to /v1/status are refused" hostile
check "a still runs serial $SERIAL after them" all_at_serial "$SERIAL" a b c
status_a --json >"$T/status2.json" 2>>"$T/status.err"
check "and still answers the same view" python3 -c "
import json; d = {n['name']: n for n in json.load(open('$T/status2.json'))['nodes']}
assert d['b']['reachable'] and d['b']['serial'] == $SERIAL and not d['d']['reachable']"
# Hostile answers to keys: on another port, b answers garbage, more than 1 MiB, a repeated
# member, then more peers than the roster has nodes; c (twice) a valid view under another name
# with a control byte in it; each is refused with its reason, the table still prints, and its
# strings are escaped.
fake() {
	nsx "$1" timeout 20 python3 - "$2" "$3" <<'PY' &
import socket, sys
addr, kind = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, 7950)); s.listen(4)
for body in ([b'{"name": "b", "serial": 1e99, "peers": []}'] if kind == "garbage" else []) + \
        ([b"x" * (1 << 21)] if kind == "garbage" else []) + \
        ([b'{"name":"x","name":"b","serial":7,"peers":[{}],"peers":[{}, {}]}',
          b'{"name":"b","serial":7,"peers":[' + b",".join([b"{}"] * 40000) + b']}']
         if kind == "garbage" else []) + \
        ([b'{"name": "evil\\u001b[2J", "serial": 7, "time": 1, "peers": []}'] * 2 if kind == "name" else []):
    c, _ = s.accept()
    c.settimeout(5)
    try:
        c.recv(4096)
        c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n" + body)
    except OSError:
        pass
    c.close()
PY
	BG_PIDS+=($!)
}
fake b "${OV4[b]}" garbage
fake c "${OV4[c]}" name
fakes_up() {
	ip netns exec "${NS[b]}" ss -ltn | grep -q ':7950 ' &&
		ip netns exec "${NS[c]}" ss -ltn | grep -q ':7950 '
}
check "the fake answerers listen" wait_until 10 fakes_up
status_a --gossip-port 7950 --json >"$T/fake1.json" 2>>"$T/status.err"
status_a --gossip-port 7950 >"$T/fake2.txt" 2>>"$T/status.err"
cat "$T/fake2.txt"
status_a --gossip-port 7950 --json >"$T/fake3.json" 2>>"$T/status.err"
status_a --gossip-port 7950 --json >"$T/fake4.json" 2>>"$T/status.err"
for f in fake3 fake4; do
	check "$f: a repeated member, or more peers than nodes, is an invalid answer" python3 -c "
import json; d = {n['name']: n for n in json.load(open('$T/$f.json'))['nodes']}
assert not d['b']['reachable'] and d['b']['error'] == 'invalid status answer', d['b']"
done
check "a non-integer serial is an invalid answer" python3 -c "
import json; d = {n['name']: n for n in json.load(open('$T/fake1.json'))['nodes']}
assert not d['b']['reachable'] and d['b']['error'] == 'invalid status answer', d['b']
assert not d['c']['reachable'] and d['c']['error'].startswith('answers as'), d['c']
assert '\x1b' in d['c']['error'], d['c']   # JSON keeps it, escaped by the writer"
check "more than 1 MiB is refused" grep -Eq "^b .* UNREACHABLE: answer too large$" "$T/fake2.txt"
check "the other name is quoted, escaped, in the table" grep -qF "UNREACHABLE: answers as 'evil\\033[2J'" "$T/fake2.txt"
check "no ESC byte reaches the terminal" bash -c "! grep -q \$'\\x1b' '$T/fake2.txt'"
for n in a b c; do check "$n exits with status 0 at SIGTERM" node_stop "$n"; done
finish
