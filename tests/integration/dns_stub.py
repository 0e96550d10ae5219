#!/usr/bin/python3
# A DNS server for tests, on UDP ADDR:53 in the namespace it is started in.
#   NAME=silent      queries for NAME are read and never answered (a dead resolver)
#   NAME=IP@DELAY    A queries answered with IP after DELAY seconds; AAAA with no data
# Anything else gets NXDOMAIN at once.  Every query is logged to LOG ("query NAME TYPE") and
# every delayed answer when sent ("answer NAME IP").  Stops by itself after LIFETIME seconds.
# Usage: dns_stub.py ADDR LOG LIFETIME NAME=RULE...
import socket
import struct
import sys
import threading
import time


def main():
    addr, log_path, lifetime = sys.argv[1], sys.argv[2], float(sys.argv[3])
    rules = dict(a.split("=", 1) for a in sys.argv[4:])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((addr, 53))
    sock.settimeout(0.5)
    log = open(log_path, "a", buffering=1)
    log.write("ready\n")
    end = time.monotonic() + lifetime
    while time.monotonic() < end:
        try:
            data, peer = sock.recvfrom(512)
        except socket.timeout:
            continue
        if len(data) < 17:
            continue
        qid, = struct.unpack("!H", data[:2])
        labels, i = [], 12
        while i < len(data) and data[i] != 0:
            n = data[i]
            labels.append(data[i + 1:i + 1 + n].decode("ascii", "replace"))
            i += 1 + n
        if i + 5 > len(data):
            continue
        qtype, = struct.unpack("!H", data[i + 1:i + 3])
        question = data[12:i + 5]
        name = ".".join(labels).lower()
        log.write("query %s %d\n" % (name, qtype))
        rule = rules.get(name)
        if rule == "silent":
            continue
        if rule is None:
            sock.sendto(struct.pack("!HHHHHH", qid, 0x8183, 1, 0, 0, 0) + question, peer)
            continue
        ip, delay = rule.split("@")
        answer = b""
        if qtype == 1:
            answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + socket.inet_aton(ip)
        reply = struct.pack("!HHHHHH", qid, 0x8180, 1, 1 if answer else 0, 0, 0) + question
        reply += answer

        def send(reply=reply, peer=peer, name=name, qtype=qtype):
            sock.sendto(reply, peer)
            if qtype == 1:
                log.write("answer %s %s\n" % (name, ip))
        threading.Timer(float(delay), send).start()


main()
