"""``pipelined_redis``: commands in RESP, and replies handed to their commands in order, without a socket.

The protocol (``_ReplyReader``) is driven as asyncio drives it: ``connection_made`` with a transport
(a fake that records what is written), then ``data_received`` with whatever chunks the network
delivers, and ``connection_lost``. The waiters are futures of the test's real event loop.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bakery_gateway.clients.pipelined_redis import _ReplyReader, pack_command

# --- pack_command ---------------------------------------------------------------------------------


def test_pack_command_sends_each_argument_as_a_bulk_string() -> None:
    assert pack_command("GET", "key") == b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n"


def test_pack_command_sends_bytes_as_they_are_even_with_line_breaks_inside() -> None:
    assert pack_command(b"SET", b"k", b"a\r\nb") == b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n"


def test_pack_command_sends_integers_in_decimal() -> None:
    assert pack_command("EVALSHA", "abc", 2, -15) == (
        b"*4\r\n$7\r\nEVALSHA\r\n$3\r\nabc\r\n$1\r\n2\r\n$3\r\n-15\r\n"
    )


def test_pack_command_encodes_text_as_utf8_and_counts_its_bytes() -> None:
    assert pack_command("ECHO", "é") == b"*2\r\n$4\r\nECHO\r\n$2\r\n\xc3\xa9\r\n"


def test_pack_command_sends_an_empty_argument_as_an_empty_bulk_string() -> None:
    assert pack_command("ECHO", "") == b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n"


# --- _ReplyReader ---------------------------------------------------------------------------------


class FakeTransport(asyncio.Transport):
    """Records what the protocol writes and whether it aborted the connection."""

    def __init__(self) -> None:
        super().__init__()
        self.written: list[bytes] = []
        self.aborted = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.written.append(bytes(data))

    def abort(self) -> None:
        self.aborted = True


class Connection:
    """A ``_ReplyReader`` connected to a ``FakeTransport``, and the readers it reported lost."""

    def __init__(self) -> None:
        self.lost: list[_ReplyReader] = []
        self.reader = _ReplyReader(self.lost.append)
        self.transport = FakeTransport()
        self.reader.connection_made(self.transport)

    def send(self, *arguments: str | int) -> asyncio.Future[Any]:
        """A command's future, as ``PipelinedRedis`` makes and sends it."""
        reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self.reader.send(pack_command(*arguments), reply)
        return reply


async def test_send_writes_the_packed_command_to_the_connection() -> None:
    connection = Connection()
    connection.send("GET", "key")
    assert connection.transport.written == [pack_command("GET", "key")]


async def test_replies_in_one_chunk_reach_the_commands_in_the_order_they_were_sent() -> None:
    connection = Connection()
    replies = [connection.send("SET", "k", "v"), connection.send("GET", "k"), connection.send("INCR", "n")]
    connection.reader.data_received(b"+OK\r\n$1\r\nv\r\n:7\r\n")
    assert await asyncio.gather(*replies) == [b"OK", b"v", 7]


async def test_a_reply_split_across_chunks_is_handed_out_only_once_whole() -> None:
    connection = Connection()
    first, second = connection.send("GET", "a"), connection.send("INCR", "n")
    connection.reader.data_received(b"$5\r\nhel")
    assert not first.done()
    connection.reader.data_received(b"lo\r\n:4")  # the first reply ends inside this chunk
    assert first.result() == b"hello"
    assert not second.done()
    connection.reader.data_received(b"2\r\n")
    assert second.result() == 42


async def test_replies_fed_one_byte_at_a_time_reach_their_commands() -> None:
    connection = Connection()
    replies = [connection.send("ECHO", str(index)) for index in range(3)]
    for byte in b"$1\r\n0\r\n$1\r\n1\r\n$1\r\n2\r\n":
        connection.reader.data_received(bytes([byte]))
    assert await asyncio.gather(*replies) == [b"0", b"1", b"2"]


async def test_concurrent_waiters_each_get_their_own_reply() -> None:
    connection = Connection()
    replies = [connection.send("ECHO", f"value-{index}") for index in range(50)]
    waiting = asyncio.gather(*replies)  # all waiting before the first reply arrives
    stream = b"".join(b"$%d\r\nvalue-%d\r\n" % (len(f"value-{index}"), index) for index in range(50))
    # Chunks of 7 bytes: most replies are split, most chunks hold the ends of two replies.
    for start in range(0, len(stream), 7):
        connection.reader.data_received(stream[start : start + 7])
    assert await waiting == [f"value-{index}".encode() for index in range(50)]


async def test_nested_and_nil_replies_are_handed_out_as_lists_and_none() -> None:
    connection = Connection()
    script, missing = connection.send("EVALSHA", "sha", 0), connection.send("GET", "missing")
    connection.reader.data_received(b"*3\r\n:1\r\n*2\r\n$1\r\na\r\n$1\r\nb\r\n$-1\r\n$-1\r\n")
    assert script.result() == [1, [b"a", b"b"], None]
    assert missing.result() is None


async def test_an_error_reply_raises_response_error_and_keeps_the_connection() -> None:
    connection = Connection()
    failing, following = connection.send("INCR", "text"), connection.send("GET", "k")
    connection.reader.data_received(b"-ERR value is not an integer or out of range\r\n$1\r\nv\r\n")
    with pytest.raises(ResponseError, match=r"^value is not an integer"):
        await failing
    assert await following == b"v"
    assert not connection.reader.broken
    assert not connection.transport.aborted


async def test_a_noscript_reply_raises_no_script_error() -> None:
    connection = Connection()
    reply = connection.send("EVALSHA", "0" * 40, 0)
    connection.reader.data_received(b"-NOSCRIPT No matching script. Please use EVAL.\r\n")
    with pytest.raises(NoScriptError, match=r"^No matching script"):
        await reply


async def test_the_reply_of_a_cancelled_command_is_dropped_and_later_replies_keep_their_commands() -> None:
    connection = Connection()
    given_up, kept = connection.send("GET", "slow"), connection.send("GET", "next")
    given_up.cancel()  # its caller was cancelled while its command was on the wire
    connection.reader.data_received(b"$4\r\nslow\r\n$4\r\nnext\r\n")
    assert await kept == b"next"
    assert not connection.reader.broken


async def test_connection_lost_fails_every_waiting_command_with_connection_error() -> None:
    connection = Connection()
    replies = [connection.send("GET", "k"), connection.send("GET", "l")]
    connection.reader.connection_lost(ConnectionResetError("reset by peer"))
    for reply in replies:
        with pytest.raises(RedisConnectionError, match="reset by peer"):
            await reply
    assert connection.reader.broken
    assert connection.lost == [connection.reader]


async def test_connection_lost_at_end_of_stream_fails_the_waiting_command_with_connection_error() -> None:
    connection = Connection()
    reply = connection.send("GET", "k")
    connection.reader.connection_lost(None)
    with pytest.raises(RedisConnectionError, match="end of stream"):
        await reply


async def test_replies_already_received_are_kept_when_the_connection_is_lost_after_them() -> None:
    connection = Connection()
    answered, unanswered = connection.send("GET", "k"), connection.send("GET", "l")
    connection.reader.data_received(b"$1\r\nv\r\n")
    connection.reader.connection_lost(None)
    assert await answered == b"v"
    with pytest.raises(RedisConnectionError):
        await unanswered


async def test_a_command_sent_on_a_lost_connection_raises_connection_error() -> None:
    connection = Connection()
    connection.reader.connection_lost(None)
    with pytest.raises(RedisConnectionError):
        connection.send("GET", "k")
    assert connection.transport.written == []


async def test_a_command_sent_before_the_connection_is_made_raises_connection_error() -> None:
    reader = _ReplyReader(lambda _: None)
    reply: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
    with pytest.raises(RedisConnectionError):
        reader.send(pack_command("PING"), reply)


async def test_a_reply_no_command_asked_for_closes_the_connection() -> None:
    connection = Connection()
    reply = connection.send("GET", "k")
    connection.reader.data_received(b"$1\r\nv\r\n+OK\r\n")  # one reply too many
    assert await reply == b"v"
    assert connection.transport.aborted
    assert connection.reader.broken
    assert connection.lost == [connection.reader]
    with pytest.raises(RedisConnectionError):  # the replies after it could belong to anyone
        connection.send("GET", "k")


async def test_a_reply_no_command_asked_for_fails_the_commands_sent_after_it() -> None:
    connection = Connection()
    connection.reader.data_received(b"+OK\r\n")  # nothing is waiting
    with pytest.raises(RedisConnectionError):
        connection.send("GET", "k")
    assert connection.transport.aborted


async def test_an_unreadable_reply_closes_the_connection_and_fails_every_waiting_command() -> None:
    connection = Connection()
    replies = [connection.send("GET", "k"), connection.send("GET", "l")]
    connection.reader.data_received(b"?not resp\r\n")
    for reply in replies:
        with pytest.raises(RedisConnectionError, match="unreadable reply"):
            await reply
    assert connection.transport.aborted
    assert connection.lost == [connection.reader]


async def test_an_unreadable_reply_after_good_ones_fails_only_the_commands_still_waiting() -> None:
    connection = Connection()
    answered, unanswered = connection.send("GET", "k"), connection.send("GET", "l")
    connection.reader.data_received(b"$1\r\nv\r\n?not resp\r\n")
    assert await answered == b"v"
    with pytest.raises(RedisConnectionError):
        await unanswered


async def test_close_fails_every_waiting_command_with_the_given_error_and_aborts() -> None:
    connection = Connection()
    replies = [connection.send("GET", "k"), connection.send("GET", "l")]
    connection.reader.close(RedisTimeoutError("Timeout reading from Redis"))
    for reply in replies:
        with pytest.raises(RedisTimeoutError):
            await reply
    assert connection.transport.aborted


async def test_the_loss_is_reported_once_when_the_aborted_connection_then_reports_its_end() -> None:
    connection = Connection()
    connection.reader.close(RedisTimeoutError("Timeout reading from Redis"))
    connection.reader.connection_lost(None)  # what asyncio calls after abort()
    assert connection.lost == [connection.reader]
