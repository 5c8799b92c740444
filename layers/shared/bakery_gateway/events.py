"""Reading API Gateway HTTP API (payload 2.0) events."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

_SANE_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


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
