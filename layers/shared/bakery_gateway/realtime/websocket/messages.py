"""The client protocol: what a client sends on its WebSocket, and the answers it gets.

Client → gateway (JSON text frames; ``action`` is the route selection expression's value)::

    {"action": "subscribe", "topic": "alerts", "tenant_id": "..."}   # tenant_id optional: the active one
    {"action": "subscribe", "topic": "training", "job_id": "..."}
    {"action": "unsubscribe", "topic": "alerts" | "training", ...}   # same members as subscribe
    {"action": "ping"}

Answers: ``{"type": "ok", "action", "topic": "<full topic>"}``, ``{"type": "pong"}`` or
``{"type": "error", "error": "<code>", "detail": "..."}``. A malformed message gets an error answer,
never an exception.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bakery_gateway import bounded_json
from bakery_gateway.api.platform_limits import WEBSOCKET_MESSAGE_BYTES
from bakery_gateway.errors import JsonInputError

ACTIONS = ("subscribe", "unsubscribe", "ping")
TOPIC_KINDS = ("alerts", "training")
MAX_ID_LENGTH = 200


class MessageError(Exception):
    """A message the protocol refuses; ``code`` is the answer's ``error`` member."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


@dataclass(frozen=True, slots=True)
class Request:
    action: str
    topic: str | None = None  # "alerts" or "training" for (un)subscribe
    tenant_id: str | None = None
    job_id: str | None = None


def parse(body: str | None) -> Request:
    """The request in one text frame; ``MessageError`` for anything else."""
    if body is not None and len(body.encode()) > WEBSOCKET_MESSAGE_BYTES:
        # API Gateway closes the socket first (1009); any other way in is refused unread.
        raise MessageError("message-too-large", f"a message is at most {WEBSOCKET_MESSAGE_BYTES} bytes")
    try:
        document = bounded_json.loads(body or "", max_bytes=WEBSOCKET_MESSAGE_BYTES)
    except JsonInputError as error:
        raise MessageError("bad-request", f"a message must be a JSON object ({error})") from None
    if not isinstance(document, dict):
        raise MessageError("bad-request", "a message must be a JSON object")
    action = document.get("action")
    if action not in ACTIONS:
        raise MessageError("unknown-action", f"action must be one of {', '.join(ACTIONS)}")
    if action == "ping":
        return Request("ping")
    topic = document.get("topic")
    if topic not in TOPIC_KINDS:
        raise MessageError("bad-request", f"topic must be one of {', '.join(TOPIC_KINDS)}")
    tenant_id = _identifier(document, "tenant_id")
    job_id = _identifier(document, "job_id")
    if topic == "training" and job_id is None:
        raise MessageError("bad-request", "the training topic needs a job_id")
    return Request(action, topic, tenant_id, job_id)


def _identifier(document: dict[str, Any], name: str) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_ID_LENGTH:
        raise MessageError("bad-request", f"{name} must be a non-empty string of at most {MAX_ID_LENGTH}")
    if ":" in value or any(character.isspace() for character in value):
        raise MessageError("bad-request", f"{name} must not contain ':' or white space")
    return value


def ok(action: str, topic: str) -> str:
    return _dumps({"type": "ok", "action": action, "topic": topic})


def pong() -> str:
    return _dumps({"type": "pong"})


def error(code: str, detail: str) -> str:
    return _dumps({"type": "error", "error": code, "detail": detail})


def _dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, separators=(",", ":"))
