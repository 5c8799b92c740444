"""httpx's API over aiohttp's connection pool: the downstream client's default transport.

Under concurrency httpcore's pool is the gateway's throughput limit (bench/README.md, issue 9);
aiohttp's is several times cheaper. Callers keep httpx's API and exceptions: this transport sends
the request httpx built, byte for byte as httpx's own transport would (the same headers, repeats
kept, nothing added but aiohttp's ``Content-Length: 0`` on a ``DELETE`` without a body), returns the
body still content-encoded, and raises the httpx exception httpx's transport raises for the same
fault, so ``forwarding.forward`` maps it the same way (docs/resilience.md, the downstream client).
Why not the ``httpx-aiohttp`` package: its 0.2.0 turns a service that disconnects or resets into
``httpx.ConnectTimeout`` (which the gateway retries, although the service may have seen the
request), joins repeated headers with commas (``Cookie: a=1, b=2``), adds aiohttp's default
``Content-Type`` to bodies sent without one, and lets a bad answer escape as an aiohttp error.

Imported by ``clients.http_client_factory`` when it makes its first client, never at cold start:
aiohttp costs ~95 ms of CPU to import.
"""

from __future__ import annotations

import re
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager

import aiohttp
import httpx
import yarl

# The first matching row says what httpx's own transport raises for the same fault.
_ERRORS: tuple[tuple[type[Exception], type[httpx.TransportError]], ...] = (
    # Nothing was sent: the TCP (or TLS) connection could not be made, or no pool slot came free.
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


class AiohttpTransport(httpx.AsyncBaseTransport):
    """One aiohttp session (its connection pool), opened on the first request in the running loop."""

    def __init__(self, *, max_connections: int, keepalive_expiry_seconds: float, tls: ssl.SSLContext) -> None:
        self._max_connections = max_connections
        self._keepalive_expiry_seconds = keepalive_expiry_seconds
        self._tls = tls
        self._session: aiohttp.ClientSession | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        headers = _checked_headers(request.headers.raw)
        body = await request.aread()
        timeout = request.extensions.get("timeout", {})
        session = self._session or self._open()
        with _httpx_errors():
            response = await session.request(
                request.method,
                # encoded=True: httpx percent-encoded the URL already; aiohttp must not change it.
                yarl.URL(str(request.url), encoded=True),
                headers=headers,
                data=body or None,
                timeout=_timeout(timeout),
                allow_redirects=False,  # a redirect is the client's to follow, as with httpx
            )
        return httpx.Response(
            status_code=response.status,
            headers=list(response.raw_headers),
            stream=_ResponseBody(response),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": (response.reason or "").encode()},
        )

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

    def _open(self) -> aiohttp.ClientSession:
        connector = aiohttp.TCPConnector(
            limit=self._max_connections, keepalive_timeout=self._keepalive_expiry_seconds, ssl=self._tls
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
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


class _ResponseBody(httpx.AsyncByteStream):
    def __init__(self, response: aiohttp.ClientResponse) -> None:
        self._response = response

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


def _checked_headers(raw: list[tuple[bytes, bytes]]) -> list[tuple[str, str]]:
    """The headers as aiohttp must get them to send each one as httpx would."""
    spelling: dict[bytes, bytes] = {}
    headers = []
    for name, value in raw:
        if not _FIELD_NAME.fullmatch(name) or not _FIELD_VALUE.fullmatch(value):
            # The value is not in the message: it may be a token.
            raise httpx.LocalProtocolError(f"illegal header {name[:40]!r}")
        # A repeated name is spelt as it first was: aiohttp replaces a repeat spelt differently
        # ("Cookie", then "cookie") instead of sending both.
        name = spelling.setdefault(name.lower(), name)
        # aiohttp writes header text as UTF-8: text read as UTF-8 is written back as the same bytes.
        # (The gateway's values are UTF-8: API Gateway hands them over as text.)
        try:
            headers.append((name.decode("latin-1"), value.decode()))
        except UnicodeDecodeError:
            raise httpx.LocalProtocolError(f"header {name[:40]!r} is not UTF-8") from None
    # A list, not a mapping: aiohttp keeps each repeated header as a line of its own.
    return headers


def _timeout(timeout: dict[str, float | None]) -> aiohttp.ClientTimeout:
    """httpx's timeouts in aiohttp's terms; aiohttp has no write timeout (the proxy's deadline is)."""
    connect, pool = timeout.get("connect"), timeout.get("pool")
    return aiohttp.ClientTimeout(
        total=None,
        # aiohttp's ``connect`` covers the wait for a pool slot and the connection: httpx's two.
        connect=None if connect is None or pool is None else connect + pool,
        sock_connect=connect,
        sock_read=timeout.get("read"),
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
