"""One pipelined Redis connection per event loop, for the command every proxied request sends.

Every proxied request makes one ``EVALSHA`` (``policies/script.py``). Through redis-py's pool each one
takes a pool lock, checks the connection for stray data, starts a task for the write's timeout and
records its observability events: more CPU than the rest of the policy step (bench/README.md).
Here concurrent requests share one connection instead: each writes its command at once and waits
for its reply, and the replies come back in the order the commands went out (Redis answers a
connection in order), so a request needs no lock and no extra task. Under load the commands of
many requests travel and are answered together: Redis pipelining, without batching anyone.

Before a command is written on a connection with no reply awaited, the socket is checked for
anything to read (``redis_connections``): a connection the server closed while it sat idle (a
restart while the container was frozen) is replaced, and the command goes out once, on the new
one. A command that was written is never sent again: the policy script is not idempotent. A reply
that does not come within ``REDIS_TIMEOUT_SECONDS``, a connection lost with commands in flight, or a
connection that cannot be opened fails the commands waiting on that connection with
``redis.exceptions.TimeoutError`` / ``ConnectionError`` (as redis-py raises them: the policy
engine's fallbacks handle these outages) and closes it; the next command connects again. Error
replies raise what redis-py raises for them (``NoScriptError`` for ``NOSCRIPT``,
``AuthenticationError`` for a refused password, else ``ResponseError``). Replies are bytes, as the
proxy reads them.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from bakery_gateway.clients.redis_connections import has_unread_input
from bakery_gateway.settings import RedisSettings

if TYPE_CHECKING:
    import ssl

Argument = str | bytes | int


def pack_command(*arguments: Argument) -> bytes:
    """A command in RESP, the form Redis reads."""
    parts = [b"*%d\r\n" % len(arguments)]
    for argument in arguments:
        data = argument if isinstance(argument, bytes) else str(argument).encode()
        parts.append(b"$%d\r\n%s\r\n" % (len(data), data))
    return b"".join(parts)


class _ReplyReader(asyncio.Protocol):
    """The connection's protocol: hands each reply, in order, to the command that waits for it."""

    def __init__(self, on_lost: Callable[[_ReplyReader], None]) -> None:
        import hiredis
        from redis._parsers.base import BaseParser

        # redis-py's own mapping of error replies (NOSCRIPT, NOAUTH, WRONGPASS, LOADING, ...), as its
        # hiredis parser uses it: the callers see the exception types a redis-py client raises.
        self._parser = hiredis.Reader(replyError=BaseParser.parse_error)
        self._waiting: deque[asyncio.Future[Any]] = deque()
        self._on_lost = on_lost
        self.transport: asyncio.Transport | None = None
        self.broken = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's and uvloop's TCP transports both set TCP_NODELAY themselves.
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not an asyncio.Transport

    def ready(self) -> bool:
        """Whether a command may be written now: not broken, and, when no reply is awaited, nothing
        unread on the socket (else the connection is closed here, before any command was written)."""
        if self.broken:
            return False
        if not self._waiting and has_unread_input(self.transport):
            self.close(_connection_error("Redis closed the connection while it was idle"))
            return False
        return True

    def send(self, packed: bytes, reply: asyncio.Future[Any]) -> None:
        if self.transport is None or self.broken:
            raise _connection_error("the connection to Redis is closed")
        self._waiting.append(reply)
        self.transport.write(packed)

    def data_received(self, data: bytes) -> None:
        self._parser.feed(data)
        while True:
            try:
                reply = self._parser.gets()
            except Exception as error:  # hiredis: a protocol error; nothing after it can be trusted
                self.close(_connection_error(f"unreadable reply from Redis: {error}"))
                return
            if reply is False:  # no whole reply yet (RESP2 has no boolean replies)
                return
            if not self._waiting:
                self.close(_connection_error("a reply from Redis that no command asked for"))
                return
            waiter = self._waiting.popleft()
            if waiter.done():  # its caller gave up (the connection is closing anyway)
                continue
            if isinstance(reply, Exception):
                waiter.set_exception(reply)
            else:
                waiter.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail_waiting(_connection_error(f"Redis closed the connection: {exc or 'end of stream'}"))

    def close(self, error: Exception) -> None:
        """Fails every waiting command with ``error`` and closes the connection."""
        self._fail_waiting(error)
        if self.transport is not None:
            self.transport.abort()

    def _fail_waiting(self, error: Exception) -> None:
        if not self.broken:
            self.broken = True
            self._on_lost(self)
        while self._waiting:
            waiter = self._waiting.popleft()
            if not waiter.done():
                waiter.set_exception(error)


class PipelinedRedis:
    """Commands on one connection, in flight together; the ``ScriptingRedis`` of the policy engine.

    Bound to the event loop it is first used on (``factories.PerEventLoop`` makes one per loop).
    """

    def __init__(self, settings: RedisSettings, *, tls: ssl.SSLContext | None = None) -> None:
        from bakery_gateway.clients.redis_auth import redis_password

        if not settings.host:
            from bakery_gateway.errors import ConfigurationError

            raise ConfigurationError("REDIS_HOST: not set; the gateway keeps its shared state in Redis")
        self._settings = settings
        self._host: str = settings.host
        self._password = redis_password(settings)
        self._tls = tls
        self._reader: _ReplyReader | None = None
        self._attempt: asyncio.Future[_ReplyReader] | None = None

    async def execute(self, *arguments: Argument) -> Any:
        """One command's reply; raises redis-py's errors (see the module's docstring)."""
        packed = pack_command(*arguments)
        reader = self._reader
        if reader is None or not reader.ready():
            reader = await self._connect()
        return await self._call(reader, packed)

    async def script_load(self, script: str) -> str:
        sha = await self.execute("SCRIPT", "LOAD", script)
        return sha.decode() if isinstance(sha, bytes) else str(sha)

    async def evalsha(self, sha: str, numkeys: int, *keys_and_args: Argument) -> Any:
        return await self.execute("EVALSHA", sha, numkeys, *keys_and_args)

    async def aclose(self) -> None:
        if self._reader is not None:
            self._reader.close(_connection_error("the client was closed"))
            self._reader = None

    async def _call(self, reader: _ReplyReader, packed: bytes) -> Any:
        loop = asyncio.get_running_loop()
        reply: asyncio.Future[Any] = loop.create_future()
        reader.send(packed, reply)
        # A timer, not asyncio.wait_for: no task per command. A silent server fails the connection.
        timer = loop.call_later(self._settings.timeout_seconds, _expire, reader, reply)
        try:
            return await reply
        finally:
            timer.cancel()

    async def _connect(self) -> _ReplyReader:
        """The connection being opened, or a new attempt: every command that finds no connection
        waits for the same attempt, and fails with it, within one timeout."""
        attempt = self._attempt
        if attempt is None:
            attempt = asyncio.ensure_future(self._open())
            attempt.add_done_callback(self._attempt_over)
            self._attempt = attempt
        # Shielded: a caller that gives up (its request cancelled) does not cancel the others' attempt.
        return await asyncio.shield(attempt)

    def _attempt_over(self, attempt: asyncio.Future[_ReplyReader]) -> None:
        self._attempt = None
        if not attempt.cancelled() and attempt.exception() is None:
            self._reader = attempt.result()

    async def _open(self) -> _ReplyReader:
        from redis.exceptions import TimeoutError as RedisTimeoutError

        settings, address = self._settings, f"{self._host}:{self._settings.port}"
        loop = asyncio.get_running_loop()
        try:
            _, reader = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _ReplyReader(self._forget),
                    self._host,
                    settings.port,
                    ssl=self._tls,
                    server_hostname=self._host if self._tls else None,
                ),
                settings.timeout_seconds,
            )
        except TimeoutError:
            raise RedisTimeoutError(f"Timeout connecting to Redis at {address}") from None
        except OSError as error:
            raise _connection_error(f"Error connecting to Redis at {address}: {error}") from error
        try:
            if self._password:
                await self._call(reader, pack_command("AUTH", self._password))
            if settings.db:
                await self._call(reader, pack_command("SELECT", settings.db))
        except BaseException:
            reader.close(_connection_error("connection set-up failed"))
            raise
        return reader

    def _forget(self, reader: _ReplyReader) -> None:
        if self._reader is reader:
            self._reader = None


def pipelined_redis_factory(settings: RedisSettings) -> Callable[[], PipelinedRedis]:
    """Pipelined clients (one per event loop, by ``factories.PerEventLoop``) for ``settings``."""

    def create() -> PipelinedRedis:
        tls = None
        if settings.tls:
            import ssl

            tls = ssl.create_default_context()
        return PipelinedRedis(settings, tls=tls)

    return create


def _expire(reader: _ReplyReader, reply: asyncio.Future[Any]) -> None:
    if not reply.done():
        from redis.exceptions import TimeoutError as RedisTimeoutError

        reader.close(RedisTimeoutError("Timeout reading from Redis"))


def _connection_error(message: str) -> Exception:
    from redis.exceptions import ConnectionError as RedisConnectionError

    return RedisConnectionError(message)
