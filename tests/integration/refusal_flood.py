#!/usr/bin/python3
# A hostile engineer for refusal-limit tests: logs in to HOST:PORT as USER with KEY
# (python3-asyncssh) and sends COUNT requests that the bastion refuses, WINDOW at a time, until
# the connection is closed, COUNT is reached or SECONDS pass:
#   direct TARGET:PORT   direct-tcpip channel opens to a target the engineer may not reach
#   forward              tcpip-forward global requests (remote forwarding)
#   session              session channels (the bastion allows one; the rest are refused)
# Prints one line: attempts=N refused=N accepted=N closed=0|1 ms=N.
# Usage: refusal_flood.py HOST PORT USER KEY COUNT SECONDS MODE [TARGET:PORT]
import asyncio
import sys
import time

import asyncssh

WINDOW = 100


class Client(asyncssh.SSHClient):
    lost = False

    def connection_lost(self, exc):
        Client.lost = True


async def main():
    host, port, user, key = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    count, seconds, mode = int(sys.argv[5]), float(sys.argv[6]), sys.argv[7]
    target = sys.argv[8] if len(sys.argv) > 8 else ""
    st = {"attempts": 0, "refused": 0, "accepted": 0}
    t0 = time.monotonic()
    deadline = t0 + seconds
    conn = await asyncio.wait_for(asyncssh.connect(
        host, port, username=user, client_keys=[key], known_hosts=None, agent_path=None,
        config=None, client_factory=Client), 15)

    async def one():
        st["attempts"] += 1
        try:
            if mode == "direct":
                th, tp = target.rsplit(":", 1)
                chan, _ = await conn.create_connection(asyncssh.SSHTCPSession, th, int(tp))
                chan.close()
            elif mode == "forward":
                await conn.forward_remote_port("", 0, "localhost", 1)
            else:
                await conn.create_session(asyncssh.SSHClientSession)
            st["accepted"] += 1
        except Exception:  # refused, or the connection is gone: told apart by Client.lost
            if not Client.lost:
                st["refused"] += 1

    try:
        while st["attempts"] < count and time.monotonic() < deadline and not Client.lost:
            n = min(WINDOW, count - st["attempts"])
            await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))),
                                   max(1, deadline - time.monotonic()))
    except asyncio.TimeoutError:
        pass
    if not Client.lost:
        # Closed by the bastion after the last refusal?  Wait up to 5 s for it.
        try:
            await asyncio.wait_for(conn.wait_closed(), 5)
        except asyncio.TimeoutError:
            pass
    conn.close()
    print("attempts=%d refused=%d accepted=%d closed=%d ms=%d" % (
        st["attempts"], st["refused"], st["accepted"], int(Client.lost),
        (time.monotonic() - t0) * 1000))


asyncio.run(main())
