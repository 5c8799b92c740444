"""httpx's API over aiohttp's connection pool: the downstream client's default transport.

Under concurrency httpcore's pool is the gateway's throughput limit (bench/README.md, issue 9);
aiohttp's is several times cheaper. Callers keep httpx's API and exceptions: this transport sends
the request httpx built, byte for byte as httpx's own transport would (the same header bytes,
repeats kept, nothing added but aiohttp's ``Content-Length: 0`` on a ``DELETE`` without a body; a
streamed body goes out whole with a ``Content-Length``), returns the body still content-encoded,
and raises the httpx exception httpx's transport raises for the same fault, so
``forwarding.downstream.forward`` maps it the same way (docs/resilience.md, the downstream client; the
differences are listed in tests/integration/forwarding/test_transport_differential.py).
Why not the ``httpx-aiohttp`` package: its 0.2.0 turns a service that disconnects or resets into
``httpx.ConnectTimeout`` (which the gateway retries, although the service may have seen the
request), joins repeated headers with commas (``Cookie: a=1, b=2``), adds aiohttp's default
``Content-Type`` to bodies sent without one, and lets a bad answer escape as an aiohttp error.

Imported by ``clients.factories.http_client_factory`` when it makes its first client, never at cold start:
aiohttp costs ~95 ms of CPU to import.
"""

from __future__ import annotations

import asyncio
import re
import select
import ssl
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import contextmanager

import aiohttp
import aiohttp.http_writer
import httpx
import multidict
import yarl

# The first matching row says what httpx's own transport raises for the same fault.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    # Nothing was sent: the TCP (or TLS) connection could not be made. (No free pool slot in time is
    # httpx.PoolTimeout, raised by the transport itself: aiohttp's own limit is not used.)
    (aiohttp.ClientConnectorError, httpx.ConnectError),
    (aiohttp.ConnectionTimeoutError, httpx.ConnectTimeout),
    # The request went out; the service then took longer than the read timeout between bytes.
    (aiohttp.ServerTimeoutError, httpx.ReadTimeout),
    # The request went out; the answer is missing, cut short or not HTTP.
    (aiohttp.ServerDisconnectedError, httpx.RemoteProtocolError),
    (aiohttp.ClientPayloadError, httpx.RemoteProtocolError),
    (aiohttp.ClientResponseError, httpx.RemoteProtocolError),
    (aiohttp.ClientConnectionError, httpx.ReadError),  # reset, broken pipe after connecting
)
# RFC 9110 field names and values. A header that either h11 (httpx's own transport) or aiohttp would
# refuse is refused before sending, as httpx's transport does: httpx.LocalProtocolError. (h11 lets
# control characters other than NUL through; aiohttp refuses them, and so does RFC 9110.)
_FIELD_NAME = re.compile(rb"[-!#$%&'*+.^_`|~0-9a-zA-Z]+")
_FIELD_VALUE = re.compile(rb"(?:[\x21-\x7e\x80-\xff]+(?:[ \t]+[\x21-\x7e\x80-\xff]+)*)?")
# An answer's headers as long and as many as h11 accepts (a 16 KiB header block), not aiohttp's
# 8 KiB per line and 128 headers.
_MAX_HEADER_BYTES = 16 * 1024
_MAX_HEADERS = _MAX_HEADER_BYTES // len(b"a:\r\n")
# Headers aiohttp would add on its own; httpx already set what it sends.
_NOT_ADDED = ("Accept", "Accept-Encoding", "User-Agent", "Content-Type")
# How the body is delimited is the transport's to say, from the bytes it sends (RFC 9112 6.1-6.3).
_FRAMING = (b"content-length", b"transfer-encoding")


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (its connection pool), opened on the first request in the running loop."""

    def __init__(self, *, max_connections: int, keepalive_expiry_seconds: float, tls: ssl.SSLContext) -> None:
        self._keepalive_expiry_seconds = keepalive_expiry_seconds
        self._tls = tls
        self._session: aiohttp.ClientSession | None = None
        # The pool's limit: a request holds a slot from before it takes a connection until its answer
        # is read or dropped. Here rather than aiohttp's ``limit``, whose wait ends in the same
        # ConnectionTimeoutError as a connection that could not be made (a retried ConnectTimeout).
        self._slots = asyncio.Semaphore(max_connections)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method = _checked_method(request.method)
        body = await request.aread()
        response = await self._send(
            method, str(request.url), request.headers.raw, body, request.extensions.get("timeout", {})
        )
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_ResponseBody(response, self._slots.release),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

    async def exchange(
        self,
        method: str,
        url: str,
        raw_headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """A request httpx would have built (``url`` as httpx writes it, ``raw_headers`` its header
        bytes), without httpx's request and response objects: the status, the header bytes and the
        whole body, still content-encoded. The same bytes sent and the same httpx errors raised as
        through ``handle_async_request`` (``clients.downstream_client``, the proxy's hot path)."""
        response = await self._send(_checked_method(method), url, raw_headers, body, timeouts)
        stream = _ResponseBody(response, self._slots.release)
        try:
            content = b"".join([chunk async for chunk in stream])
        finally:
            await stream.aclose()
        return response.status, list(response.raw_headers), content

    async def _send(
        self,
        method: str,
        url: str,
        raw_headers: Iterable[tuple[bytes, bytes]],
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> aiohttp.ClientResponse:
        """The request sent and the answer's head read; the caller frees the pool's slot with the body."""
        headers = _checked_headers(raw_headers, body)
        session = self._session or self._open()
        await self._take_slot(timeouts.get("pool"))
        try:
            with _httpx_errors():
                return await session.request(
                    method,
                    # encoded=True: httpx percent-encoded the URL already; aiohttp must not change it.
                    yarl.URL(url, encoded=True),
                    headers=headers,
                    data=body or None,
                    timeout=_timeout(timeouts),
                    allow_redirects=False,  # a redirect is the client's to follow, as with httpx
                )
        except BaseException:
            self._slots.release()
            raise

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    def __del__(self) -> None:
        # The loop this pool served is gone without aclose() (a worker or thread stopping): its
        # sockets go with it. Closed here, so that aiohttp does not log "Unclosed client session".
        connector = None if self._session is None else self._session.connector
        if connector is not None and self._session is not None:
            self._session.detach()
            connector._close()

    async def _take_slot(self, pool_timeout: float | None) -> None:
        if not self._slots.locked():
            await self._slots.acquire()  # free: returns at once, no timer
            return
        try:
            async with asyncio.timeout(pool_timeout):
                await self._slots.acquire()
        except TimeoutError:
            # As httpcore: no connection came free in time. Nothing was sent; forward() does not retry.
            raise httpx.PoolTimeout("no connection of the pool came free in time") from None

    def _open(self) -> aiohttp.ClientSession:
        connector = _PeerCheckingConnector(
            limit=0,  # the slots are the limit
            keepalive_timeout=self._keepalive_expiry_seconds,
            ssl=self._tls,
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            request_class=_Request,
            # trust_env=False: no proxy or netrc from the environment reroutes or signs service calls.
            trust_env=False,
            # A service's cookie belongs to the client that got it, never to the next request.
            cookie_jar=aiohttp.DummyCookieJar(),
            # The body goes back to the client as the service encoded it.
            auto_decompress=False,
            skip_auto_headers=_NOT_ADDED,
            max_line_size=_MAX_HEADER_BYTES,
            max_field_size=_MAX_HEADER_BYTES,
            max_headers=_MAX_HEADERS,
        )
        # aiohttp sends an idempotent request again when the connection drops before the answer;
        # the gateway never resends what a service may have seen (docs/resilience.md), and httpx
        # does not either. No public switch: aiohttp's own test client turns it off the same way.
        self._session._retry_connection = False
        return self._session


class _PeerCheckingConnector(aiohttp.TCPConnector):
    """aiohttp's pool, which never hands out an idle connection the service has closed.

    aiohttp reuses a connection while its protocol has not been told of the end of stream, which
    the event loop reports only at its next turn: a service that answers and closes without
    ``Connection: close`` had its next request written into the closed connection (a 502 every
    time). As httpcore does, an idle connection whose socket is readable (the peer's FIN, or bytes
    nobody asked for) is closed instead of reused. A connection closed after this check is a
    ``RemoteProtocolError`` still, as with httpx: the request may have reached the service.
    """

    async def _get(
        self, key: aiohttp.client_reqrep.ConnectionKey, traces: list[aiohttp.tracing.Trace]
    ) -> aiohttp.connector.Connection | None:
        while (connection := await super()._get(key, traces)) is not None:
            if connection.protocol is not None and _idle_and_open(connection.protocol.transport):
                return connection
            connection.close()
        return None


def _idle_and_open(transport: asyncio.BaseTransport | None) -> bool:
    """The socket under an idle keep-alive connection has nothing to read: no FIN, no stray bytes."""
    sock = None if transport is None else transport.get_extra_info("socket")
    if sock is None:
        return False
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN)
    return not poller.poll(0)


class _WireHeaders(multidict.CIMultiDict[str]):
    """A request's headers whose every character is one byte on the wire (Latin-1), as h11 writes them."""


class _Request(aiohttp.ClientRequest):
    """aiohttp's request, with headers written as the bytes httpx built, not re-encoded as UTF-8."""

    def update_headers(self, headers: aiohttp.typedefs.LooseHeaders | None) -> None:
        super().update_headers(headers)
        self.headers = _WireHeaders(self.headers)


_serialize_headers_as_aiohttp_does = aiohttp.http_writer._serialize_headers


def _serialize_headers(status_line: str, headers: multidict.CIMultiDict[str]) -> bytes:
    """aiohttp writes header text as UTF-8, which cannot write the byte ``\\xe9`` of a Latin-1
    ``josé``: the headers of this transport's requests are written one byte per character instead
    (``_checked_headers`` checked each of them). Any other aiohttp request is written by aiohttp."""
    if type(headers) is not _WireHeaders:
        return _serialize_headers_as_aiohttp_does(status_line, headers)
    lines = [status_line, *(f"{name}: {value}" for name, value in headers.items()), "", ""]
    return "\r\n".join(lines).encode("latin-1")


# aiohttp's StreamWriter looks the function up at each request: no public hook writes header bytes.
aiohttp.http_writer._serialize_headers = _serialize_headers


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse, free_slot: Callable[[], None]) -> None:
        self._response = response
        self._free_slot: Callable[[], None] | None = free_slot

    async def __aiter__(self) -> AsyncIterator[bytes]:
        with _httpx_errors():
            async for chunk in self._response.content.iter_any():
                yield chunk

    async def aclose(self) -> None:
        # A connection whose answer was read to the end goes back to the pool; any other is closed.
        if self._response.content.is_eof():
            self._response.release()
        else:
            self._response.close()
        free_slot, self._free_slot = self._free_slot, None
        if free_slot is not None:  # once, after aiohttp has its connection back
            free_slot()


def _checked_method(method: str) -> str:
    if not _FIELD_NAME.fullmatch(method.encode("latin-1", "replace")):
        raise httpx.LocalProtocolError("illegal method")  # h11's refusal: a method is a token
    return method


def _checked_headers(raw: Iterable[tuple[bytes, bytes]], body: bytes) -> list[tuple[str, str]]:
    """The headers as aiohttp must get them to send each one as httpx would, framed for ``body``."""
    spelling: dict[bytes, bytes] = {}
    headers = []
    framed = False
    for name, value in raw:
        if not _FIELD_NAME.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            # The value is not in the message: it may be a token.
            raise httpx.LocalProtocolError(f"illegal header {name[:40]!r}")
        if name.lower() in _FRAMING:
            # httpx frames a streamed body as chunked; this transport sends the bytes it read, so its
            # own Content-Length, where httpx put its framing, is the only one: never both (a
            # service would read the body's bytes as a second request).
            if not framed:
                framed = True
                headers.append(("Content-Length", str(len(body))))
            continue
        # A repeated name is spelt as it first was: aiohttp replaces a repeat spelt differently
        # ("Cookie", then "cookie") instead of sending both.
        name = spelling.setdefault(name.lower(), name)
        # Latin-1: each byte one character, written back as that byte (``_serialize_headers``).
        headers.append((name.decode("latin-1"), value.decode("latin-1")))
    # A list, not a mapping: aiohttp keeps each repeated header as a line of its own.
    return headers


def _timeout(timeout: dict[str, float | None]) -> aiohttp.ClientTimeout:
    """httpx's timeouts in aiohttp's terms (the pool's is the slots'); aiohttp has no write timeout
    (the proxy's deadline is)."""
    connect = timeout.get("connect")
    return aiohttp.ClientTimeout(
        total=None, connect=connect, sock_connect=connect, sock_read=timeout.get("read")
    )


@contextmanager
def _httpx_errors() -> Iterator[None]:
    try:
        yield
    except aiohttp.ClientError as error:
        for aiohttp_error, httpx_error in _ERRORS:
            if isinstance(error, aiohttp_error):
                raise httpx_error(str(error) or type(error).__name__) from error
        raise httpx.TransportError(str(error) or type(error).__name__) from error
