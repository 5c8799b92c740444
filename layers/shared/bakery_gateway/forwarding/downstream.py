"""Forwarding one request to its service and bringing the answer back unchanged."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bakery_gateway import constants as names
from bakery_gateway.api.identity import Identity
from bakery_gateway.errors import (
    BadDownstreamResponseError,
    BadRequestError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)

if TYPE_CHECKING:
    import httpx

Headers = list[tuple[str, str]]
# The statuses a service's answer may carry to a client: a final one, 2xx to 5xx.
FINAL_STATUSES = range(200, 600)

# Set by the gateway alone; any client copy is dropped (as every X-Forwarded-* and X-Demo-*:
# names.GATEWAY_HEADER_PREFIXES). Host and length are the client library's.
_REPLACED_REQUEST_HEADERS = frozenset({names.REQUEST_ID_HEADER, "forwarded", "host", "content-length"})
# The protocols a client may have used, as API Gateway reports them (an HTTP API serves HTTPS only).
_PROTOCOLS = frozenset({"http", "https"})
# An API key is the gateway's credential: no service ever sees it (docs/api-keys.md).
_DROPPED_REQUEST_HEADERS = (
    names.HOP_BY_HOP_HEADERS | names.IDENTITY_HEADERS | _REPLACED_REQUEST_HEADERS | {names.API_KEY_HEADER}
)
_DROPPED_RESPONSE_HEADERS = names.HOP_BY_HOP_HEADERS | {"content-length", names.REQUEST_ID_HEADER}


@dataclass(frozen=True, slots=True)
class ClientOrigin:
    """What API Gateway saw of the client; never what the client claims about itself."""

    source_ip: str
    protocol: str
    host: str


@dataclass(frozen=True, slots=True)
class DownstreamResponse:
    status: int
    headers: Headers
    body: bytes


def downstream_headers(
    client_headers: Iterable[tuple[str, str]],
    *,
    identity: Identity | None,
    tenant_id: str | None,
    request_id: str,
    origin: ClientOrigin,
) -> Headers:
    """The client's end-to-end headers, with the gateway's identity and tracing headers in place."""
    client_headers = list(client_headers)
    # The fixed set itself, unless the Connection header names more (then a copy with them).
    dropped = (
        _DROPPED_REQUEST_HEADERS | listed
        if (listed := _connection_listed(client_headers))
        else _DROPPED_REQUEST_HEADERS
    )
    headers = [
        (name, value)
        for name, value in client_headers
        if not _gateways_own(name, dropped) and not (name == "authorization" and _is_api_key(value))
    ]
    headers += [
        (names.REQUEST_ID_HEADER, request_id),
        ("x-forwarded-for", origin.source_ip),
        ("x-forwarded-proto", origin.protocol if origin.protocol in _PROTOCOLS else "https"),
        ("x-forwarded-host", origin.host),
    ]
    if identity is not None:
        headers.append((names.USER_ID_HEADER, identity.user_id))
        # A token may list tenants without an active one: then no tenant header, never an empty one.
        if tenant := tenant_id or identity.tenant_id:
            headers.append((names.TENANT_ID_HEADER, tenant))
        headers.append((names.USER_ROLES_HEADER, ",".join(identity.roles)))
        if identity.demo_session_id and identity.demo_account_type:
            headers += [
                (names.DEMO_SESSION_HEADER, identity.demo_session_id),
                (names.DEMO_ACCOUNT_TYPE_HEADER, identity.demo_account_type.value),
            ]
    return headers


def _gateways_own(name: str, dropped: AbstractSet[str]) -> bool:
    """Whether a (lower-case) client header name is one the gateway drops, in any spelling: WSGI
    servers, and nginx with ``underscores_in_headers``, read ``X_User_ID`` as ``X-User-ID``."""
    canonical = name.replace("_", "-")
    return name in dropped or canonical in dropped or canonical.startswith(names.GATEWAY_HEADER_PREFIXES)


def _is_api_key(authorization: str) -> bool:
    return authorization.lstrip()[:7].lower() == "apikey "


def response_headers(downstream: Sequence[tuple[str, str]], request_id: str) -> Headers:
    """The service's headers as the client gets them: end-to-end ones only, plus the request id."""
    dropped = (
        _DROPPED_RESPONSE_HEADERS | listed
        if (listed := _connection_listed(downstream))
        else _DROPPED_RESPONSE_HEADERS
    )
    headers = [(name, value) for name, value in downstream if name not in dropped]
    headers.append((names.REQUEST_ID_HEADER, request_id))
    return headers


async def forward(
    client: httpx.AsyncClient,
    *,
    method: str,
    url: str,
    headers: Headers,
    body: bytes,
    service: str,
    deadline_seconds: float,
    retry: Callable[[], bool] | None = None,
) -> DownstreamResponse:
    """Send the request and read the whole answer, raw (still content-encoded), within a deadline.

    A connection failure (nothing sent yet) is tried once more if ``retry()`` allows it; the retry
    shares the one deadline, so it never makes a client wait longer.
    """
    import httpx

    try:
        # httpx's read timeout is per read; the deadline bounds a service that trickles bytes too.
        async with asyncio.timeout(deadline_seconds):
            try:
                status, raw_headers, content = await _exchange(client, method, url, headers, body)
            except (httpx.ConnectError, httpx.ConnectTimeout):
                if retry is None or not retry():
                    raise
                status, raw_headers, content = await _exchange(client, method, url, headers, body)
    except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
        raise DownstreamUnavailableError(f"the {service} service could not be reached") from None
    except (httpx.TimeoutException, TimeoutError):
        raise DownstreamTimeoutError(f"the {service} service did not answer in time") from None
    except httpx.LocalProtocolError:
        # A header the client sent cannot be written as HTTP/1.1 (a CR, LF or NUL in it): the
        # client's fault, refused before a byte went out. Its value is not logged: it may be a token.
        raise BadRequestError("a request header holds characters HTTP does not allow") from None
    except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.DecodingError):
        raise BadDownstreamResponseError(f"the {service} service sent an invalid answer") from None
    if status not in FINAL_STATUSES:
        # HTTP parsers take any three digits (999); a client can use only a final status (RFC 9110 §15).
        raise BadDownstreamResponseError(f"the {service} service answered an invalid status")
    return DownstreamResponse(
        status=status,
        headers=[(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in raw_headers],
        body=content,
    )


async def _exchange(
    client: httpx.AsyncClient, method: str, url: str, headers: Headers, body: bytes
) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    from bakery_gateway.clients.downstream_client import DownstreamClient, send

    wire_headers: Headers | list[tuple[bytes, bytes]] = headers
    if not all(value.isascii() for _, value in headers):
        wire_headers = [(name.encode("latin-1"), _wire_bytes(value)) for name, value in headers]
    if isinstance(client, DownstreamClient):
        return await client.exchange(method, url, wire_headers, body)
    return await send(client, method, url, wire_headers, body)


def _wire_bytes(value: str) -> bytes:
    """A header value with non-ASCII characters, as bytes (httpx would refuse the text).

    A client's values arrive read as Latin-1 (``http_api.request_headers``), so Latin-1 gives back the
    bytes it sent; only a value of the gateway's own beyond Latin-1 (a name in a token) goes as UTF-8.
    """
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return value.encode()


def _connection_listed(headers: Iterable[tuple[str, str]]) -> set[str]:
    """Header names a sender marked hop-by-hop in its Connection header (RFC 9110 7.6.1)."""
    listed: set[str] = set()
    for name, value in headers:
        if name == "connection":
            listed.update(token.strip().lower() for token in value.split(",") if token.strip())
    return listed
