"""Reading API Gateway HTTP API (payload 2.0) events, in the shapes every sender gives them.

API Gateway lower-cases header names and sends one ``routeKey`` per route (``ANY /path`` for an
``ANY`` route); SAM's emulator (``sam local start-api``) keeps the client's spelling of header names
(``Authorization``) and names the request's own method in ``routeKey`` (``POST /path``). The
functions read both through this module, never ``event["headers"]`` or ``routeKey`` directly.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Collection, Mapping
from typing import Any

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def headers(event: Mapping[str, Any]) -> dict[str, str]:
    """The event's headers by lower-case name, whoever spelled them (API Gateway, SAM's emulator, a test)."""
    return {str(name).lower(): value for name, value in (event.get("headers") or {}).items()}


def route_key_in(route_key: object, route_keys: Collection[str]) -> bool:
    """Whether ``route_key`` is one of ``route_keys``, also when it is SAM's emulator's spelling of an
    ``ANY`` route: the request's method in place of ``ANY``."""
    if not isinstance(route_key, str):
        return False
    if route_key in route_keys:
        return True
    _, _, path = route_key.partition(" ")
    return bool(path) and f"ANY {path}" in route_keys


def normalize(event: dict[str, Any]) -> dict[str, Any]:
    """The event as every step reads it, made once, first: ``strip_stage``, and the method in upper
    case. An event's ``post`` reaches the service as ``POST`` (httpx writes methods upper-cased), so
    every check (logout revocation, the demo rules, read-only, login throttling) judges ``POST`` too.
    """
    event = strip_stage(event)
    http = event.get("requestContext", {}).get("http", {})
    method = http.get("method")
    if not isinstance(method, str) or method.isupper():
        return event
    http = {**http, "method": method.upper()}
    return {**event, "requestContext": {**event["requestContext"], "http": http}}


def strip_stage(event: dict[str, Any]) -> dict[str, Any]:
    """The event with a named stage taken off its path, so routes match on every stage.

    HTTP API puts a named stage in ``rawPath`` (``/prod/api/v1/...``) but not the ``$default`` one.
    """
    stage = event.get("requestContext", {}).get("stage")
    if not stage or stage == "$default":
        return event
    prefix = f"/{stage}"
    raw_path = event.get("rawPath", "")
    if raw_path != prefix and not raw_path.startswith(prefix + "/"):
        return event
    http = dict(event["requestContext"].get("http", {}))
    http["path"] = http.get("path", raw_path)[len(prefix) :] or "/"
    return {
        **event,
        "rawPath": raw_path[len(prefix) :] or "/",
        "requestContext": {**event["requestContext"], "http": http},
    }


def request_id(client_value: str | None) -> str:
    """The client's request id when it is a sane one, else a new UUID."""
    if client_value and _SANE_REQUEST_ID.fullmatch(client_value):
        return client_value
    return str(uuid.uuid4())


def authorizer_context(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    context = authorizer.get("lambda")
    return context if isinstance(context, Mapping) else None
