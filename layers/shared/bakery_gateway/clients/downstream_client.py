"""The downstream client: httpx's API, and one thinner call for the proxy's hot path (``exchange``).

httpx builds a ``Request`` (its URL parsed, its headers merged and normalised), sends it through the
client's auth, redirect and cookie machinery, and wraps the answer in a ``Response`` read through a
stream: ~a third of a proxied request's CPU, for a request the proxy has already checked
(bench/README.md, power tuning). Over the aiohttp transport, ``exchange`` writes the header bytes
httpx would write, in httpx's order, and hands them to the transport's own ``exchange``: the same
bytes on the wire, the same httpx exceptions. What it skips does nothing for this client: no auth,
no event hooks, no redirects followed, and a cookie jar that keeps nothing. A URL whose path or
query httpx would rewrite (characters to percent-encode, dot segments) is parsed by httpx itself.
tests/integration/forwarding/test_exchange_differential.py holds it to httpx's ``send``.

Imported by ``clients.factories.http_client_factory`` when it makes its first client, never at cold start.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from typing import Any, Protocol

import httpx

Headers = Sequence[tuple[str, str]] | Sequence[tuple[bytes, bytes]]
Answer = tuple[int, list[tuple[bytes, bytes]], bytes]

# An origin httpx writes back as given once parsed (scheme, host, port), and a target (path and
# query) it leaves as it is: nothing to percent-encode, no dot segment to remove.
_ORIGIN = re.compile(r"https?://[A-Za-z0-9.\-]+(?::[0-9]+)?")
_TARGET = re.compile(
    r"/(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*(?:\?(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2})*)?"
)
_DOT_SEGMENT = re.compile(r"/\.\.?(?:[/?]|$)")
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class ThinTransport(Protocol):
    async def exchange(
        self,
        method: str,
        url: str,
        raw_headers: Sequence[tuple[bytes, bytes]],
        body: bytes,
        timeouts: dict[str, float | None],
    ) -> Answer: ...


class DownstreamClient(httpx.AsyncClient):
    """httpx's client, plus ``exchange``: one request, its whole answer, without httpx's objects
    where the transport can take the request's bytes itself."""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        transport = options.get("transport")
        self._exchange_transport: ThinTransport | None = transport if hasattr(transport, "exchange") else None
        # Fixed once the client exists: nothing here changes them afterwards.
        self._exchange_defaults = list(self.headers.raw)
        self._exchange_timeout = self.timeout.as_dict()

    async def exchange(self, method: str, url: str, headers: Headers, body: bytes) -> Answer:
        """``method url`` with ``headers`` and ``body``: the status, the header bytes and the body as
        the service sent them (still content-encoded)."""
        thin, split = self._exchange_transport, _split(url)
        if thin is None or split is None:
            return await send(self, method, url, headers, body)
        (origin, netloc), target = split
        method = method.upper()
        raw_headers = wire_headers(self._exchange_defaults, netloc, method, headers, body)
        return await thin.exchange(method, origin + target, raw_headers, body, self._exchange_timeout)


async def send(client: httpx.AsyncClient, method: str, url: str, headers: Headers, body: bytes) -> Answer:
    """``DownstreamClient.exchange`` through httpx's own API: any client, any transport."""
    response = await client.send(
        client.build_request(method, url, headers=headers, content=body), stream=True
    )
    try:
        content = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    return response.status_code, list(response.headers.raw), content


def wire_headers(
    defaults: Sequence[tuple[bytes, bytes]],
    netloc: bytes,
    method: str,
    headers: Headers,
    body: bytes,
) -> list[tuple[bytes, bytes]]:
    """The header lines httpx's ``build_request`` makes, in its order: ``Host`` (and ``Content-Length:
    0`` for a bodiless POST, PUT or PATCH) first, the client's defaults the request does not set,
    the request's own, then the body's ``Content-Length``. Names and values as httpx encodes them
    (text as ASCII: a ``UnicodeEncodeError`` as with httpx)."""
    given = [(_raw(name), _raw(value)) for name, value in headers]
    named = {name.lower() for name, _ in given}
    merged = [header for header in defaults if header[0].lower() not in named]
    merged += given
    named.update(name.lower() for name, _ in merged)
    if body and b"content-length" not in named:
        merged.append((b"Content-Length", str(len(body)).encode()))
        named.add(b"content-length")
    first = [] if b"host" in named else [(b"Host", netloc)]
    if method in _BODY_METHODS and b"content-length" not in named and b"transfer-encoding" not in named:
        first.append((b"Content-Length", b"0"))
    return first + merged


def _raw(text: str | bytes) -> bytes:
    return text if isinstance(text, bytes) else text.encode("ascii")


def _split(url: str) -> tuple[tuple[str, bytes], str] | None:
    """``url`` as httpx would write it, cut into its origin (and that origin's ``Host``) and its
    target; None when httpx would rewrite the target (then httpx parses it)."""
    start = url.find("/", url.find("://") + 3)
    if start < 0:
        return None
    target = url[start:]
    if not _TARGET.fullmatch(target) or _DOT_SEGMENT.search(target.partition("?")[0]):
        return None
    origin = _origin(url[:start])
    return None if origin is None else (origin, target)


@lru_cache(maxsize=64)
def _origin(text: str) -> tuple[str, bytes] | None:
    """An origin as httpx writes it (host in lower case, a default port dropped), and its ``Host``:
    the services' few base URLs, parsed once each."""
    if not _ORIGIN.fullmatch(text):
        return None
    url = httpx.URL(text + "/")
    return str(url)[:-1], url.netloc
