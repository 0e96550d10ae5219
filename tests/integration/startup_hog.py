#!/usr/bin/python3
# A hostile SSH client for admission tests: keeps SLOTS TCP connections to HOST:PORT, each
# sending an SSH banner and then nothing; when the server closes one (or refuses it), it is
# reopened after 200 ms.  Source addresses are taken in turn from SRC (comma-separated).
# Bounded: stops after SECONDS or MAX_OPENS connection attempts, whichever comes first.
# Writes STATS (one line, key=value) at the end and every second while running:
#   held=N      connections open now that got the server's banner
#   max_held=N  the most such connections open at once
#   opens=N     connection attempts;  banners=N  attempts answered with a banner
# Usage: startup_hog.py HOST PORT SRC SLOTS SECONDS MAX_OPENS STATS
import asyncio
import socket
import sys
import time


class Stats:
    def __init__(self):
        self.held = self.max_held = self.opens = self.banners = 0

    def line(self):
        return "held=%d max_held=%d opens=%d banners=%d\n" % (
            self.held, self.max_held, self.opens, self.banners)


async def one(host, port, src, st, deadline, max_opens):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    while time.monotonic() < deadline and st.opens < max_opens:
        st.opens += 1
        got = False
        writer = None
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(
                host, port, family=fam, local_addr=(src, 0)), 5)
            writer.write(b"SSH-2.0-OpenSSH_9.2p1 hog\r\n")
            while time.monotonic() < deadline:
                left = deadline - time.monotonic()
                try:
                    data = await asyncio.wait_for(reader.read(4096), min(left, 1))
                except asyncio.TimeoutError:
                    continue
                if not data:
                    break
                if not got and data.startswith(b"SSH-"):
                    # A close the server made before sending this banner may still wait to
                    # be read on another connection (one poll can return both, in any
                    # order): let those run first, so that a connection already closed is
                    # not counted as held beside its replacement.
                    await asyncio.sleep(0.05)
                    got = True
                    st.banners += 1
                    st.held += 1
                    st.max_held = max(st.max_held, st.held)
        except (OSError, asyncio.TimeoutError):
            pass
        finally:
            if got:
                st.held -= 1
            if writer is not None:
                writer.close()
        await asyncio.sleep(0.2)


async def report(path, st, deadline):
    while time.monotonic() < deadline:
        with open(path, "w") as f:
            f.write(st.line())
        await asyncio.sleep(1)


async def main():
    host, port, srcs = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(",")
    slots, seconds, max_opens, path = (int(sys.argv[4]), float(sys.argv[5]),
                                       int(sys.argv[6]), sys.argv[7])
    st = Stats()
    deadline = time.monotonic() + seconds
    tasks = [one(host, port, srcs[i % len(srcs)], st, deadline, max_opens)
             for i in range(slots)]
    await asyncio.gather(report(path, st, deadline), *tasks)
    with open(path, "w") as f:
        f.write(st.line())


asyncio.run(main())
