#!/usr/bin/env bash
# A UDP datagram whose checksum comes to 0, sent over IPv6 through a sender with TUN offloads
# on: the kernel hands it over with CHECKSUM_PARTIAL and tunneld completes the checksum, which
# must then be written as 0xffff (0 is "no checksum", invalid over IPv6: the receiving kernel
# drops it).  Datagrams with an ordinary checksum are the control.
. "$(dirname "$0")/lib.sh"

IFACE_EXTRA[a]="Offload = auto"$'\n'
node_add a 1
node_add b 2
node_peer a b
node_peer b a
node_start a
node_start b
check "ping v6 overlay a -> b" ping_ok a "${OV6[b]}"

PY=$T/csum0.py
cat >"$PY" <<'PYEOF'
import socket, struct, sys

def fold(b):
    if len(b) % 2:
        b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s

def payload(src, dst, sport, dport, zero, tag):
    """100 bytes whose UDP checksum is 0 (zero) or not (the first word chosen)."""
    p = bytearray(tag * 100)
    p[0:2] = b"\0\0"
    udp = struct.pack("!HHHH", sport, dport, 8 + len(p), 0) + p
    pseudo = socket.inet_pton(socket.AF_INET6, src) + socket.inet_pton(socket.AF_INET6, dst) + \
        struct.pack("!IxxxB", len(udp), 17)
    w = 0xFFFF - fold(pseudo + udp)
    if not zero:
        w = (w + 1) & 0xFFFF
    p[0:2] = struct.pack("!H", w)
    return bytes(p)

mode, src, dst, sport, dport = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
if mode == "send":
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((src, sport))
    for zero, tag in ((True, b"z"), (False, b"c"), (True, b"y"), (False, b"d")):
        s.sendto(payload(src, dst, sport, dport, zero, tag), (dst, dport))
else:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind((dst, dport))
    print("ready", flush=True)
    # The first may wait for a sender slow to start on a loaded machine; then 3 s of quiet.
    s.settimeout(60)
    got = []
    try:
        while True:
            got.append(chr(s.recv(2000)[2]))
            s.settimeout(3)
    except socket.timeout:
        pass
    print("".join(sorted(got)), flush=True)
PYEOF

out=$T/csum0.out
nsx b timeout -k 2 90 python3 "$PY" recv "${OV6[a]}" "${OV6[b]}" 6200 6201 >"$out" 2>&1 &
BG_PIDS+=($!)
wait_until 30 grep -q ready "$out" || fail "receiver not ready within 30 s"
nsx a python3 "$PY" send "${OV6[a]}" "${OV6[b]}" 6200 6201
wait_until 80 bash -c "[ \$(wc -l <'$out') -ge 2 ]"
assert_eq "all four datagrams arrive, the two with checksum 0 too" cdyz "$(tail -n 1 "$out")"
finish
