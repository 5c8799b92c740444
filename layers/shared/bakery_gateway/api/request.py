"""The one request the core takes, whichever host received it.

Two thin adapters make it: ``lambda_event.request_from_event`` from an API Gateway payload 2.0 event
(Lambda, ``sam local``, the local runtime) and ``asgi.request_from_scope`` from an ASGI scope
(``bakery-gateway serve``). The pipeline, the caller's identity and the FastAPI apps read only this:
no host has to manufacture an API Gateway event. It is built once per request, on the hot path, so
it holds what the host already read and parses nothing twice.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs

if TYPE_CHECKING:
    from bakery_gateway.api.identity import Verdict

NO_STAGE_VARIABLES: Final[Mapping[str, str]] = MappingProxyType({})
_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")
# The key of the request in an ASGI scope the gateway's own apps run in (``request_in``).
REQUEST_SCOPE_KEY: Final = "bakery.request"


@dataclass(frozen=True, slots=True)
class Request:
    """One HTTP request, as every step of the gateway reads it."""

    method: str  # upper case: a ``post`` is judged (and forwarded) as ``POST``
    # As the client sent it, percent-encoding kept, without a named stage's prefix: routing judges it.
    raw_path: str
    # As the host decoded it (API Gateway's ``requestContext.http.path``, ASGI's ``path``).
    path: str
    query_string: str  # as sent, without the ``?``
    # Lower-case names; each value the bytes the client sent, read as Latin-1 (HTTP's own reading),
    # repeated headers joined with commas and cookies folded into one ``Cookie`` header.
    headers: Mapping[str, str]
    body: bytes
    source_ip: str  # the client's address, as the host saw it
    host: str  # the domain name the client called, without a port
    scheme: str  # how the client reached the host: https (API Gateway), or the server's
    # The route that matched, as API Gateway names it (``ANY /api/v1/{proxy+}``); "" when none did.
    route_key: str = ""
    # The authorizer's verdict on the request's credentials; None when no authorizer ran.
    verdict: Verdict | None = None
    stage_variables: Mapping[str, str] = field(default_factory=lambda: NO_STAGE_VARIABLES)

    @property
    def query(self) -> dict[str, list[str]]:
        """The query's parameters, decoded, each with every value it was given, in order."""
        return parse_qs(self.query_string, keep_blank_values=True)


def request_in(scope: Mapping[str, Any]) -> Request:
    """The request an adapter put in the ASGI scope of one of the gateway's own apps."""
    request = scope[REQUEST_SCOPE_KEY]
    if not isinstance(request, Request):
        raise TypeError(f"{REQUEST_SCOPE_KEY} holds {type(request).__name__}, not a Request")
    return request


def request_id_for(client_value: str | None) -> str:
    """The request's id: the client's ``X-Request-ID`` when it is a sane one, else a new UUID."""
    if client_value and _SANE_REQUEST_ID.fullmatch(client_value):
        return client_value
    return str(uuid.uuid4())
