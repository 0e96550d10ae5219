#!/usr/bin/python3
"""A hostile SSH client that ignores the server's channel window (test_bastion_window.sh).

ssh_window_flood.py HOST PORT USER KEY KNOWN_HOSTS MODE MIB [TARGET TPORT]

MODE jump: one direct-tcpip channel to TARGET:TPORT; session: one "session" channel (no
request).  Once the channel is open the client pretends the server granted a 2 GiB window and
writes MIB MiB in 32 KiB messages, as fast as the socket takes them.  Bounded: stops after MIB
MiB or 60 s.  Prints "sent N closed C": bytes handed to the transport and whether the server
closed the connection (or the channel) before the end.
"""
import asyncio
import sys
import time

import asyncssh


async def main():
    host, port, user, key, known, mode, mib = sys.argv[1:8]
    total = int(mib) << 20
    conn = await asyncssh.connect(host, int(port), username=user, client_keys=[key],
                                  known_hosts=known, agent_path=None)
    if mode == "jump":
        chan, _ = await conn.create_connection(asyncssh.SSHTCPSession, sys.argv[8],
                                               int(sys.argv[9]))
    else:
        # A bare "session" channel: opened, no shell/exec request (asyncssh's create_session
        # would ask for a shell, which the bastion answers and closes).
        chan = asyncssh.channel.SSHClientChannel(conn, asyncio.get_running_loop(), None,
                                                 "strict", 2 << 20, 32768)
        await chan._open(b"session")
        chan._session = asyncssh.SSHClientSession()
        chan._session.connection_made(chan)
    def gone():
        tr = conn._transport
        return chan._send_state != "open" or tr is None or tr.is_closing()

    def backlog():
        tr = conn._transport
        return tr.get_write_buffer_size() if tr is not None else 0

    chunk = b"x" * 32768
    sent = 0
    closed = False
    end = time.monotonic() + 60
    while sent < total and time.monotonic() < end:
        # The hostile part: whatever the server advertised, assume 2 GiB are granted.
        chan._send_window = 1 << 31
        if gone():
            closed = True
            break
        chan.write(chunk)
        sent += len(chunk)
        # Let the event loop move bytes (and notice a close) without waiting for the server.
        if backlog() > (4 << 20):
            await asyncio.sleep(0.01)
        else:
            await asyncio.sleep(0)
    # Wait (bounded) until the transport has handed everything to the kernel.
    while not gone() and backlog() > 0 and time.monotonic() < end:
        await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    if gone():
        closed = True
    print(f"sent {sent} closed {int(closed)}", flush=True)
    conn.abort()


try:
    asyncio.run(main())
except (OSError, asyncssh.Error) as e:
    print(f"error {e}", flush=True)
