"""A Redis connection the server closed while it sat idle is found before a command is written.

A Lambda container is frozen between invocations. When Redis restarts, fails over or drops idle
clients meanwhile, the server's end of stream waits in the kernel, and asyncio learns of it only
once the next command has been written onto the dead connection: that command fails ("Connection
closed by server"). Sending it again on a new connection is not safe in general, since a command
that reached a server may have run: the policy script moves rate-limit buckets and takes a circuit's
probe lease, the circuit record counts a failure, an audit entry or an alert is appended.

So the gateway's clients look before they write. An idle Redis connection has nothing to say (RESP2
replies, no subscription on these connections): a socket with anything to read then (the end of
stream, a reset, stray bytes) is closed unused, and the command goes out once, on a new connection.
Nothing that was written is ever sent again (docs/resilience.md, "Redis connections").
"""

from __future__ import annotations

import asyncio
import select

from redis.asyncio.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError as RedisConnectionError

# POLLIN covers bytes and an end of stream; POLLRDHUP (Linux) a peer that shut down its side;
# POLLHUP and POLLERR are reported whatever is asked.
_ANY_INPUT = select.POLLIN | getattr(select, "POLLRDHUP", 0)


def has_unread_input(transport: asyncio.BaseTransport | None) -> bool:
    """Whether the socket under ``transport`` holds input its protocol has not read: an end of
    stream, an error or bytes. One zero-timeout ``poll``; nothing is read."""
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), _ANY_INPUT)
    return bool(poller.poll(0))


def _refuse_if_closed(connection: Connection) -> None:
    # redis-py's own check reads only what its StreamReader already holds, which is nothing while
    # the event loop has not run since the server left; and with RESP3's maintenance notifications
    # on (redis-py's "auto"), the pool ignores its answer. A ConnectionError it does not ignore.
    writer = connection._writer
    if writer is not None and has_unread_input(writer.transport):
        raise RedisConnectionError("Redis closed the connection while it was idle")


class CheckedConnection(Connection):
    """redis-py's asyncio connection, whose pool check before each command (``can_read``) fails
    with ``ConnectionError`` when the socket has anything to read: the pool connects anew."""

    async def can_read(self) -> bool:
        _refuse_if_closed(self)
        return await super().can_read()


class CheckedSSLConnection(SSLConnection):
    """``CheckedConnection`` over TLS."""

    async def can_read(self) -> bool:
        _refuse_if_closed(self)
        return await super().can_read()
