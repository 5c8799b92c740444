"""The events a WebSocket API sends its functions and its REQUEST authorizer, as API Gateway builds them."""

from __future__ import annotations

import base64
import secrets
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from bakery_local.api_events import ACCOUNT_ID, API_ID, combined_headers

CONNECT = "CONNECT"
MESSAGE = "MESSAGE"
DISCONNECT = "DISCONNECT"


def new_connection_id() -> str:
    """A connection id shaped like API Gateway's: 16 base64 characters ending in ``=``."""
    return base64.b64encode(secrets.token_bytes(11)).decode("ascii")


@dataclass(frozen=True)
class Handshake:
    """What the opening HTTP request of a connection said; every later event repeats parts of it."""

    connection_id: str
    raw_query: str
    headers: Sequence[tuple[str, str]]  # lower-case names
    source_ip: str
    connected_at_ms: int
    stage: str

    @property
    def domain(self) -> str:
        return combined_headers(self.headers).get("host", "localhost").split(":")[0]

    @property
    def user_agent(self) -> str:
        return combined_headers(self.headers).get("user-agent", "")


def _query(raw_query: str) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    pairs = parse_qsl(raw_query, keep_blank_values=True)
    if not pairs:
        return None, None
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        multi.setdefault(key, []).append(value)
    return {key: values[-1] for key, values in multi.items()}, multi


def _multi_headers(headers: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    multi: dict[str, list[str]] = {}
    for name, value in headers:
        multi.setdefault(name, []).append(value)
    return multi


def request_context(
    handshake: Handshake, route_key: str, event_type: str, *, message_id: str | None = None
) -> dict[str, Any]:
    now = time.time()
    context: dict[str, Any] = {
        "routeKey": route_key,
        "eventType": event_type,
        "extendedRequestId": uuid.uuid4().hex[:16],
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "messageDirection": "IN",
        "stage": handshake.stage,
        "connectedAt": handshake.connected_at_ms,
        "requestTimeEpoch": int(now * 1000),
        "identity": {"sourceIp": handshake.source_ip, "userAgent": handshake.user_agent},
        "requestId": uuid.uuid4().hex[:16],
        "domainName": handshake.domain,
        "connectionId": handshake.connection_id,
        "apiId": API_ID,
    }
    if message_id is not None:
        context["messageId"] = message_id
    return context


def connect_event(handshake: Handshake, authorizer_context: Mapping[str, str] | None) -> dict[str, Any]:
    """The ``$connect`` event: the handshake's headers and query string, the authorizer's context."""
    context = request_context(handshake, "$connect", CONNECT)
    if authorizer_context is not None:
        context["authorizer"] = dict(authorizer_context)
    query, multi_query = _query(handshake.raw_query)
    event: dict[str, Any] = {
        "headers": combined_headers(handshake.headers),
        "multiValueHeaders": _multi_headers(handshake.headers),
        "requestContext": context,
        "isBase64Encoded": False,
    }
    if query is not None:
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = multi_query
    return event


def message_event(
    handshake: Handshake,
    route_key: str,
    body: str | bytes,
    authorizer_context: Mapping[str, str] | None,
) -> dict[str, Any]:
    """A message's event: ``body`` as text, or base64 with ``isBase64Encoded`` for a binary frame."""
    context = request_context(handshake, route_key, MESSAGE, message_id=uuid.uuid4().hex[:16])
    if authorizer_context is not None:
        context["authorizer"] = dict(authorizer_context)
    if isinstance(body, bytes):
        return {"requestContext": context, "body": base64.b64encode(body).decode(), "isBase64Encoded": True}
    return {"requestContext": context, "body": body, "isBase64Encoded": False}


def disconnect_event(
    handshake: Handshake, authorizer_context: Mapping[str, str] | None, status_code: int, reason: str
) -> dict[str, Any]:
    context = request_context(handshake, "$disconnect", DISCONNECT)
    context["disconnectStatusCode"] = status_code
    context["disconnectReason"] = reason
    if authorizer_context is not None:
        context["authorizer"] = dict(authorizer_context)
    return {
        "headers": {"Host": handshake.domain},
        "multiValueHeaders": {"Host": [handshake.domain]},
        "requestContext": context,
        "isBase64Encoded": False,
    }


def authorizer_event(handshake: Handshake) -> dict[str, Any]:
    """The REQUEST authorizer's event on ``$connect`` (the REST-style shape WebSocket APIs send)."""
    query, multi_query = _query(handshake.raw_query)
    return {
        "type": "REQUEST",
        "methodArn": f"arn:aws:execute-api:local:{ACCOUNT_ID}:{API_ID}/{handshake.stage}/$connect",
        "headers": combined_headers(handshake.headers),
        "multiValueHeaders": _multi_headers(handshake.headers),
        "queryStringParameters": query or {},
        "multiValueQueryStringParameters": multi_query or {},
        "stageVariables": {},
        "requestContext": request_context(handshake, "$connect", CONNECT),
    }


def policy_verdict(answer: Any) -> tuple[bool, dict[str, str]]:
    """An IAM-policy authorizer answer: allowed (some statement Allows, none Denies) and the context
    as ``requestContext.authorizer`` carries it (``principalId`` and each value as a string)."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("policyDocument"), Mapping):
        raise ValueError("authorizer answered without a policyDocument")
    statements = answer["policyDocument"].get("Statement") or []
    if isinstance(statements, Mapping):
        statements = [statements]
    effects = {str(statement.get("Effect", "")).capitalize() for statement in statements}
    allowed = "Allow" in effects and "Deny" not in effects
    context = answer.get("context") or {}
    if not isinstance(context, Mapping) or not all(
        isinstance(value, str | int | float | bool) for value in context.values()
    ):
        raise ValueError("authorizer context values must be strings, numbers or booleans")
    flattened = {str(key): _as_string(value) for key, value in context.items()}
    flattened["principalId"] = str(answer.get("principalId", ""))
    return allowed, flattened


def _as_string(value: str | int | float | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
