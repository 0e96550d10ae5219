#!/usr/bin/env bash
# Operational logs: outside the journal every text line starts with its UTC time (in it, where
# JOURNAL_STREAM names stderr, the journal stamps them); a line about a
# peer names the roster node next to its short key; --log-format json writes one JSON object
# per line (time, level, program, message, and peer, name, endpoint where the line is about a
# peer) that python's json reads.  keys --log-format json does the same for the tool.
. "$(dirname "$0")/lib.sh"

roster_admin_init
rnode_add a 1
rnode_add b 2
rnode_add c 3
for n in a b c; do rnode_enroll "$n"; done
roster_publish
for n in a b c; do rnode_provision "$n"; done
rnode_start a
rnode_start b --log-format json
# c's stderr is "the journal": JOURNAL_STREAM names its device and inode, as systemd sets it.
touch "$T/c.log"
JOURNAL_STREAM=$(stat -c '%d:%i' "$T/c.log") rnode_start c
check "ping b -> a" ping_ok b "${OV4[a]}"
check "ping c -> a" ping_ok c "${OV4[a]}"

TS='[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z'
short_b=${PUB[b]:0:8}
check "a's text lines are stamped" bash -c "! grep -Ev '^$TS tunneld: ' '$T/a.log'"
check "c's lines, in the journal, are not (the journal stamps them)" \
	bash -c "! grep -Ev '^tunneld: (error|warning|info|debug): ' '$T/c.log'"
check "c names a in its peer line" grep -Eq "^tunneld: info: ${IFN[c]}: peer a \\(" "$T/c.log"
check "a names b in its peer line" wait_until 10 \
	grep -Eq "^$TS tunneld: info: ${IFN[a]}: peer b \\(${short_b//+/\\+}\\): session up, endpoint ${UL[b]}:${PORT[b]}\$" "$T/a.log"

# Revoking b: a's line about removing it still names it.
keys_admin revoke b >>"$T/keys.out" 2>>"$T/keys.err"
roster_publish
roster_hand a
roster_hand b
check "a names b when it removes it" wait_until 10 \
	grep -Eq "tunneld: info: ${IFN[a]}: peer b \\(${short_b//+/\\+}\\) removed\$" "$T/a.log"
check "b learns it is revoked" wait_until 15 grep -q REVOKED "$T/b.log"

check "b's log is JSON lines with a's peer line" python3 - "$T/b.log" "${PUB[a]}" "${IFN[b]}" <<'PY'
import json, re, sys
path, key_a, ifn = sys.argv[1:]
lines = open(path, encoding="utf-8").read().splitlines()
assert len(lines) >= 5, lines
objs = [json.loads(l) for l in lines]       # every line parses
for o in objs:
    assert set(o) >= {"time", "level", "program", "message"}, o
    assert o["program"] == "tunneld" and o["level"] in ("error", "warning", "info", "debug"), o
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", o["time"]), o
    assert set(o) <= {"time", "level", "program", "message", "peer", "name", "endpoint"}, o
peer = [o for o in objs if o.get("peer") == key_a and "session up" in o["message"]]
assert peer, objs
assert peer[0]["name"] == "a" and peer[0]["endpoint"].endswith(":51821"), peer[0]
assert peer[0]["message"].startswith(ifn + ": peer a (" + key_a[:8] + "): session up"), peer[0]
assert any("REVOKED" in o["message"] and o["level"] == "error" for o in objs), objs
PY

out=$("$KEYS_BIN" --log-format json status --node --roster "$T/none" 2>&1 >/dev/null || true)
check "keys --log-format json: its error is a JSON line" python3 -c "
import json, sys; o = json.loads(sys.argv[1])
assert o['program'] == 'keys' and o['level'] == 'error' and 'cannot open' in o['message'], o" "$out"
check "an unknown --log-format is a usage error" bash -c "
	ip netns exec ${NS[a]} $TUNNELD --log-format xml -c /dev/null; [ \$? = 2 ]"
for n in a b c; do check "$n exits with status 0 at SIGTERM" node_stop "$n"; done
finish
