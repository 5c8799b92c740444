"""The WebSocket API's ``@connections`` management API, signed with SigV4, over pooled HTTP/1.1.

``POST {management_url}/@connections/{connection id}`` with the message as the body: the request
botocore's ``apigatewaymanagementapi.post_to_connection`` makes (the id percent-encoded: ``=`` is
``%3D``), signed for ``execute-api`` with the credentials of botocore's chain. botocore is imported on
the first post (credentials), not at cold start.

Why not boto3 or httpx: measured on 2 vCPUs, a post costs ~2 ms of CPU through boto3 and ~3 ms
through ``httpx.AsyncClient`` (httpcore's pool over anyio), against ~0.5 ms here (delivery included):
asyncio streams and h11 (httpx's own HTTP/1.1 parser), one keep-alive pool per event loop
(``clients.factories.PerEventLoop``) holding as many connections as there are posts in flight. The answer is
returned, not interpreted: ``websocket.delivery`` decides what a status means.
"""

from __future__ import annotations

import asyncio
import datetime
import os
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from bakery_gateway.clients.aws_signing import Credentials, SigV4Signer, host_header
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.errors import ConfigurationError

SERVICE = "execute-api"
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0
NO_ANSWER = 0  # the status of a post that got no HTTP answer (connection error, timeout)
_READ_BYTES = 64 * 1024


@dataclass(frozen=True, slots=True)
class PostAnswer:
    status: int  # the HTTP status; NO_ANSWER when there was none
    error_type: str | None = None  # ``x-amzn-ErrorType`` (``GoneException``), or why there was no answer


class ManagementApi(Protocol):
    """What delivery needs of ``@connections``: a post, and a close (``DELETE``) for a connection
    whose token ended. It answers, it does not raise for an HTTP error or a broken connection."""

    async def post(self, connection_id: str, data: bytes) -> PostAnswer: ...

    async def delete(self, connection_id: str) -> PostAnswer: ...


def region_of(endpoint_url: str) -> str | None:
    """``eu-west-1`` of ``https://abc.execute-api.eu-west-1.amazonaws.com/live``; None otherwise."""
    labels = (urlsplit(endpoint_url).hostname or "").split(".")
    if len(labels) > 3 and labels[1] == "execute-api":
        return labels[2]
    return None


def connection_url(management_url: str, connection_id: str) -> str:
    """The id encoded as botocore encodes a URI label (only ``-_.~`` kept)."""
    return f"{management_url.rstrip('/')}/@connections/{quote(connection_id, safe='-_.~')}"


class BotocoreCredentials:
    """botocore's credential chain (environment, profile, container, instance), resolved on first use
    and kept; each call returns the current frozen set, so refreshed credentials are picked up."""

    def __init__(self) -> None:
        self._source: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Credentials:
        with self._lock:
            if self._source is None:
                import botocore.session

                self._source = botocore.session.get_session().get_credentials()
                if self._source is None:
                    raise ConfigurationError("no AWS credentials: cannot sign posts to @connections")
            frozen = self._source.get_frozen_credentials()
        return Credentials(frozen.access_key, frozen.secret_key, frozen.token)


class ConnectionsClient:
    """``ManagementApi`` over HTTP(S). Shared by every thread of the container; each thread's event
    loop gets its own connection pool, reused across deliveries."""

    def __init__(
        self,
        management_url: str,
        *,
        max_connections: int = 64,
        credentials: Callable[[], Credentials] | None = None,
        region: str | None = None,
        clock: Callable[[], datetime.datetime] = lambda: datetime.datetime.now(datetime.UTC),
        read_timeout_seconds: float = READ_TIMEOUT_SECONDS,
    ) -> None:
        self.management_url = management_url.rstrip("/")
        self._credentials = credentials or BotocoreCredentials()
        # Lambda sets AWS_REGION; the local runtime sets it too when it provides the management URL.
        self._region = (
            region
            or region_of(management_url)
            or os.environ.get("AWS_REGION")
            or os.environ.get("AWS_DEFAULT_REGION")
        )
        self._signer = SigV4Signer(SERVICE, self._region) if self._region else None
        self._clock = clock
        self._pools = PerEventLoop(
            lambda: ConnectionPool(self.management_url, max_connections, read_timeout_seconds)
        )

    async def post(self, connection_id: str, data: bytes) -> PostAnswer:
        return await self._send("POST", connection_id, data)

    async def delete(self, connection_id: str) -> PostAnswer:
        """Close the connection (API Gateway answers 204; 410 when it is gone already)."""
        return await self._send("DELETE", connection_id, b"")

    async def _send(self, method: str, connection_id: str, data: bytes) -> PostAnswer:
        if self._signer is None:
            raise ConfigurationError("AWS_REGION: not set; cannot sign requests to @connections")
        url = connection_url(self.management_url, connection_id)
        headers = self._signer.headers(method, url, data, self._credentials(), self._clock())
        try:
            status, error_type = await self._pools.get().request(method, urlsplit(url).path, headers, data)
        except (OSError, TimeoutError, AnswerError) as error:
            return PostAnswer(NO_ANSWER, type(error).__name__)
        # The header may carry details after a colon: "GoneException:http://internal.amazon.com/...".
        return PostAnswer(status, error_type.split(":", 1)[0] if error_type else None)


class AnswerError(Exception):
    """No usable HTTP answer (transport detail of this module; delivery sees ``NO_ANSWER``)."""


class ConnectionClosedError(AnswerError):
    """The server closed the connection before it answered."""


class ConnectionPool:
    """Keep-alive HTTP/1.1 connections to one origin, at most ``max_connections`` in use at once.
    Bound to the event loop it is used on."""

    def __init__(
        self, base_url: str, max_connections: int, read_timeout_seconds: float = READ_TIMEOUT_SECONDS
    ) -> None:
        parts = urlsplit(base_url)
        self._tls = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._tls else 80)
        self._host_header = host_header(base_url)
        self._ssl = ssl.create_default_context() if self._tls else None
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(max_connections)
        self._read_timeout_seconds = read_timeout_seconds

    async def request(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str | None]:
        """The status and ``x-amzn-ErrorType`` of the answer to ``method target``."""
        async with self._slots:
            while self._idle:
                connection = self._idle.pop()
                try:
                    answer = await connection.request(method, self._host_header, target, headers, body)
                except TimeoutError:
                    connection.close()
                    raise
                except (ConnectionClosedError, OSError):
                    # A kept connection the server closed while it was idle (its keep-alive timeout,
                    # or a container frozen between invocations): the post goes out again on another
                    # one. (Should the server have processed it after all, the client gets it twice
                    # and drops it by its stream id.)
                    connection.close()
                    continue
                except BaseException:
                    connection.close()
                    raise
                self._keep(connection)
                return answer
            connection = await self._connect()
            try:
                answer = await connection.request(method, self._host_header, target, headers, body)
            except BaseException:
                connection.close()
                raise
            self._keep(connection)
            return answer

    async def _connect(self) -> _Connection:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS):
            reader, writer = await asyncio.open_connection(
                self._host, self._port, ssl=self._ssl, server_hostname=self._host if self._tls else None
            )
        return _Connection(reader, writer, self._read_timeout_seconds)

    def _keep(self, connection: _Connection) -> None:
        if connection.ready_for_next():
            self._idle.append(connection)
        else:
            connection.close()


class _Connection:
    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, read_timeout_seconds: float
    ) -> None:
        import h11  # httpx's HTTP/1.1 parser: imported on the first post, not at cold start

        self._read_timeout_seconds = read_timeout_seconds
        self._reader = reader
        self._writer = writer
        self._h11 = h11.Connection(h11.CLIENT)

    async def request(
        self, method: str, host: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, str | None]:
        import h11

        connection = self._h11
        request = h11.Request(
            method=method,
            target=target,
            headers=[("Host", host), ("Content-Length", str(len(body))), *headers.items()],
        )
        try:
            # One write: headers and body in one segment.
            self._writer.write(connection.send(request) + connection.send(h11.Data(data=body)))
            connection.send(h11.EndOfMessage())
            return await self._answer()
        except h11.ProtocolError as error:
            raise AnswerError(f"not an HTTP answer: {error}") from error

    async def _answer(self) -> tuple[int, str | None]:
        import h11

        connection = self._h11
        status, error_type, received = 0, None, False
        async with asyncio.timeout(self._read_timeout_seconds):
            while True:
                event = connection.next_event()
                if event is h11.NEED_DATA:
                    data = await self._reader.read(_READ_BYTES)
                    if not data and not received:
                        raise ConnectionClosedError("closed before answering")
                    received = True
                    connection.receive_data(data)
                elif isinstance(event, h11.Response):
                    status = event.status_code
                    error_type = dict(event.headers).get(b"x-amzn-errortype", b"").decode() or None
                elif isinstance(event, h11.EndOfMessage):
                    return status, error_type
                elif isinstance(event, h11.ConnectionClosed):
                    raise ConnectionClosedError("closed while answering")

    def ready_for_next(self) -> bool:
        """Whether the connection can carry another request (then it is reset for it)."""
        import h11

        if self._h11.our_state is h11.DONE and self._h11.their_state is h11.DONE:
            self._h11.start_next_cycle()
            return not self._writer.is_closing()
        return False

    def close(self) -> None:
        self._writer.close()
