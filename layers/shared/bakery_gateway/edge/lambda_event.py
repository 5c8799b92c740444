"""The payload 2.0 event adapter: an API Gateway HTTP API event read into the core's ``Request``.

Every sender of these events is read the same way, here and nowhere else. API Gateway lower-cases
header names, moves ``Cookie`` into the ``cookies`` list, puts a named stage in ``rawPath`` and names
an ``ANY`` route ``ANY /path`` in ``routeKey``. SAM's emulator (``sam local start-api``) keeps the
client's spelling of header names (``Authorization``), sends the ``Cookie`` header and a ``cookies``
list it parsed, names the request's own method in ``routeKey`` (``POST /path``) and sends
``"stageVariables": null``. The authorizer's verdict arrives as its context
(``requestContext.authorizer.lambda``) and is read into a typed one.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from bakery_gateway.api.identity import Verdict, verdict_from_context
from bakery_gateway.api.request import NO_STAGE_VARIABLES, Request
from bakery_gateway.api.routes import canonical_route_key

Event = Mapping[str, Any]


def request_from_event(event: Event) -> Request:
    """The request an event stands for: stage off the path, method in upper case, headers by
    lower-case name, body decoded, route key in API Gateway's spelling, the authorizer's verdict.

    Raises (``KeyError``, ``ValueError``, ``TypeError``) for what API Gateway never sends: an event
    without a method, a body that is not base64, an authenticated context without an identity.
    """
    context = event.get("requestContext") or {}
    http = context.get("http") or {}
    headers = request_headers(event)
    raw_path = str(event.get("rawPath") or "")
    path = str(http.get("path", raw_path))
    # HTTP API puts a named stage in the path (/prod/api/v1/...), not the $default one: routes match
    # on every stage once it is off.
    stage = context.get("stage")
    if stage and stage != "$default":
        prefix = f"/{stage}"
        if raw_path == prefix or raw_path.startswith(prefix + "/"):
            raw_path, path = raw_path[len(prefix) :] or "/", path[len(prefix) :] or "/"
    return Request(
        # A ``post`` reaches the service as ``POST`` (httpx writes methods upper-cased), so every
        # check (logout revocation, the demo rules, read-only, login throttling) judges ``POST`` too.
        method=str(http["method"]).upper(),
        raw_path=raw_path,
        path=path,
        query_string=event.get("rawQueryString") or "",
        headers=headers,
        body=request_body(event),
        source_ip=str(http.get("sourceIp", "")),
        host=str(context.get("domainName", "")),
        scheme=headers.get("x-forwarded-proto", "https"),
        route_key=canonical_route_key(str(event.get("routeKey") or "")),
        verdict=_verdict(context),
        stage_variables=event.get("stageVariables") or NO_STAGE_VARIABLES,
    )


def request_headers(event: Event) -> dict[str, str]:
    """The event's headers by lower-case name, cookies folded back into one ``Cookie`` header.

    Values are kept as the bytes the client sent, read as Latin-1 (HTTP's own reading): API Gateway
    hands over UTF-8 text, which would not survive being sent on as Latin-1 otherwise. API Gateway
    moves the ``Cookie`` header into ``cookies``; SAM's emulator sends both, its ``cookies`` parsed
    (a repeated name kept once, quotes removed), so the client's own header wins when there is one.
    """
    headers = {
        str(name).lower(): value if value.isascii() else value.encode().decode("latin-1")
        for name, value in (event.get("headers") or {}).items()
    }
    cookies = event.get("cookies")
    if cookies and "cookie" not in headers:
        headers["cookie"] = "; ".join(cookies)
    return headers


def request_body(event: Event) -> bytes:
    body = event.get("body")
    if not body:
        return b""
    if event.get("isBase64Encoded"):
        return base64.b64decode(body)
    return body.encode() if isinstance(body, str) else bytes(body)


def _verdict(context: Mapping[str, Any]) -> Verdict | None:
    """The Lambda authorizer's verdict, from its context; None without one (a JWT authorizer's
    ``authorizer.jwt``, or a route with no authorizer)."""
    authorizer = context.get("authorizer") or {}
    verdict = authorizer.get("lambda")
    return verdict_from_context(verdict) if isinstance(verdict, Mapping) else None
