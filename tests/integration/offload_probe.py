#!/usr/bin/env python3
"""Probes for test_offload.sh (run inside a test namespace; no ethtool on these machines).

  tso IFNAME                      print the interface's TSO setting (ETHTOOL_GTSO): on or off
  udp-send ADDR PORT FIRST COUNT SIZE
                                  send datagrams FIRST.. FIRST+COUNT-1 of SIZE bytes in one
                                  sendto with UDP_SEGMENT (one UDP super-packet to the tunnel),
                                  each stamped with the time it was sent
  udp-recv ADDR PORT COUNT SIZE   receive up to COUNT datagrams and print how many were SIZE
                                  bytes with the expected contents, and the longest any took
                                  from its sendto (ms; the namespaces share one clock).  The
                                  first may take 60 s (a sender slow to start on a loaded
                                  machine is not a lost datagram); after it, 5 s of silence
                                  ends the wait.
"""
import array
import ctypes
import fcntl
import socket
import struct
import sys
import time

SIOCETHTOOL = 0x8946
ETHTOOL_GTSO = 0x1E
UDP_SEGMENT = 103


def tso(ifname):
    val = ctypes.create_string_buffer(struct.pack("II", ETHTOOL_GTSO, 0))
    ifr = struct.pack("16sP", ifname.encode(), ctypes.addressof(val))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, array.array("B", ifr))
    print("on" if struct.unpack("II", val.raw[:8])[1] else "off")


def datagram(i, size, sent):
    """Datagram i: the time it was sent (8 bytes), then a pattern that names i."""
    return struct.pack("!d", sent) + bytes((i * 7 + k) & 0xFF for k in range(8, size))


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def udp_send(addr, port, first, count, size):
    with socket.socket(family(addr), socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.IPPROTO_UDP, UDP_SEGMENT, size)
        now = time.time()
        s.sendto(b"".join(datagram(i, size, now) for i in range(first, first + count)),
                 (addr, port))


def udp_recv(addr, port, count, size):
    seen = set()
    longest = 0.0
    with socket.socket(family(addr), socket.SOCK_DGRAM) as s:
        s.bind((addr, port))
        print("ready", flush=True)
        s.settimeout(60)
        try:
            while len(seen) < count:
                d = s.recv(65536)
                s.settimeout(5)
                if len(d) != size:
                    continue
                sent = struct.unpack("!d", d[:8])[0]
                i = next((i for i in range(count)
                          if i not in seen and d[8:] == datagram(i, size, sent)[8:]), None)
                if i is not None:
                    seen.add(i)
                    longest = max(longest, time.time() - sent)
        except socket.timeout:
            pass
    print(len(seen), int(longest * 1000), flush=True)


def main():
    cmd = sys.argv[1]
    if cmd == "tso":
        tso(sys.argv[2])
    elif cmd == "udp-send":
        udp_send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]),
                 int(sys.argv[6]))
    elif cmd == "udp-recv":
        udp_recv(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
