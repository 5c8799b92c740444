"""The one loader of recorded API Gateway events (``tests/events/*.json``).

Recordings are never edited to suit a test: a test loads a fresh copy and adapts it here, through
``load_event``'s keyword overrides, so every deviation from the recording is visible in the test.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from enum import Enum
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from bakery_gateway.api.routes import API_PREFIX

EVENTS_DIR = Path(__file__).resolve().parent.parent / "events"

# The recordings the suite uses, by role.
HTTP_API_PROXY = "http_api_proxy"  # payload 2.0 event for the proxy, behind the Lambda authorizer
HTTP_API_PROXY_SAM = "http_api_proxy_sam"  # `sam local generate-event apigateway http-api-proxy`, verbatim
AUTHORIZER_REQUEST = "authorizer_request"  # payload 2.0 REQUEST authorizer event
FANOUT_DIRECT = "fanout_direct"  # a service invoking the fanout function directly: {"alert": {...}}
FANOUT_EVENTBRIDGE = "fanout_eventbridge"  # EventBridge's event for a "bakery-ia.alerts" / "Alert" put
FANOUT_HTTP_API = "fanout_http_api"  # payload 2.0 event of the IAM-authorized POST /internal/alerts
# WebSocket API events, per AWS's documentation (authorizer context values arrive as strings).
WEBSOCKET_AUTHORIZER_REQUEST = "websocket_authorizer_request"  # REQUEST authorizer on $connect
WEBSOCKET_CONNECT = "websocket_connect"  # $connect, behind that authorizer
WEBSOCKET_MESSAGE = "websocket_message"  # a message routed by its action ("subscribe" here)
WEBSOCKET_DISCONNECT = "websocket_disconnect"
# Captured from a running `sam local start-api` (SAM CLI 1.170.0) on template.yaml, tokens replaced by a
# placeholder: header names as the client spelled them, cookies both as a header and as a list, the
# request's method in the route key of an ANY route, "stageVariables": null.
SAM_LOCAL_AUTHORIZER_REQUEST = "sam_local_authorizer_request"  # TokenAuthorizer, POST /api/v1/sales/items
SAM_LOCAL_STREAM_AUTHORIZER_REQUEST = "sam_local_stream_authorizer_request"  # StreamTokenAuthorizer, ?token=
SAM_LOCAL_PROXY = "sam_local_proxy"  # the proxy's event for that POST, with our authorizer's context
SAM_LOCAL_FANOUT = "sam_local_fanout"  # POST /internal/alerts (SAM runs AWS_IAM routes unauthorized)


class _Recorded(Enum):
    AS_RECORDED = "as recorded"


AS_RECORDED = _Recorded.AS_RECORDED


@cache
def _recording(name: str) -> str:
    return (EVENTS_DIR / f"{name}.json").read_text()


def load_recording(name: str) -> dict[str, Any]:
    """A fresh, untouched copy of ``tests/events/{name}.json``, for events that are not HTTP API ones."""
    document: dict[str, Any] = json.loads(_recording(name))
    return document


def load_event(
    name: str,
    *,
    method: str | None = None,
    path: str | None = None,
    stage: str | None = None,
    route_key: str | None = None,
    headers: Mapping[str, str] | None = None,
    extra_headers: Mapping[str, str] | None = None,
    token: str | None = None,
    query: str | None = None,
    cookies: Sequence[str] | None = None,
    body: bytes | str | None = None,
    authorizer: Mapping[str, Any] | _Recorded | None = AS_RECORDED,
    request_id: str | None = None,
    source_ip: str | None = None,
    stage_variables: Mapping[str, str] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A fresh copy of ``tests/events/{name}.json`` with overrides applied.

    - ``method``, ``route_key``, ``request_id``: set where API Gateway puts them (top level and context).
    - ``source_ip``: ``requestContext.http.sourceIp``, the address API Gateway saw (headers untouched).
    - ``path``: ``rawPath`` and ``requestContext.http.path`` (and ``pathParameters.proxy``);
      ``stage``: the stage name, put in front of the path as HTTP API does for a named stage.
    - ``headers`` replaces the headers, ``extra_headers`` adds to them (names lower-cased, as HTTP API
      sends them, unless the recording keeps the client's spelling, as SAM's emulator does: then as
      given); ``token`` sets ``Authorization: Bearer`` under the recording's spelling of the name (and
      ``identitySource`` when recorded).
    - ``query``: ``rawQueryString`` and its ``queryStringParameters`` (repeated keys comma-joined).
    - ``body``: bytes travel base64 with ``isBase64Encoded``; text travels as is (a recorded
      ``content-length`` header follows the new body).
    - ``authorizer``: the Lambda authorizer context (``requestContext.authorizer.lambda``); None removes it.
    - ``stage_variables``: the stage's ``stageVariables`` (HTTP API sends the field only when set).
    - any other keyword replaces a top-level field of the recording (None removes it).
    """
    event: dict[str, Any] = json.loads(_recording(name))
    context: dict[str, Any] = event.setdefault("requestContext", {})
    http: dict[str, Any] = context.setdefault("http", {})
    recorded_names = list(event.get("headers") or {})
    lower_case = all(header == header.lower() for header in recorded_names)

    def spelled(header: str) -> str:
        return header.lower() if lower_case else header

    if headers is not None:
        event["headers"] = {spelled(key): value for key, value in headers.items()}
    if extra_headers is not None:
        event.setdefault("headers", {}).update({spelled(key): value for key, value in extra_headers.items()})
    if token is not None:
        recorded = [header for header in recorded_names if header.lower() == "authorization"]
        authorization = recorded[0] if recorded else spelled("Authorization")
        event.setdefault("headers", {})[authorization] = f"Bearer {token}"
        if "identitySource" in event:
            event["identitySource"] = [f"Bearer {token}"]
    if method is not None:
        http["method"] = method
    if route_key is not None:
        event["routeKey"] = route_key
        context["routeKey"] = route_key
    if path is not None:
        event["rawPath"] = path
        http["path"] = path
        if path.startswith(API_PREFIX):
            event["pathParameters"] = {"proxy": path[len(API_PREFIX) :]}
        else:
            event.pop("pathParameters", None)
    if stage is not None:
        context["stage"] = stage
        if stage != "$default":
            event["rawPath"] = f"/{stage}{event['rawPath']}"
            http["path"] = f"/{stage}{http['path']}"
    if query is not None:
        event["rawQueryString"] = query
        parameters: dict[str, str] = {}
        for key, value in parse_qsl(query, keep_blank_values=True):
            parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
        if parameters:
            event["queryStringParameters"] = parameters
        else:
            event.pop("queryStringParameters", None)
    if cookies is not None:
        event["cookies"] = list(cookies)
    if body is not None:
        raw = body if isinstance(body, bytes) else body.encode()
        event["body"] = base64.b64encode(raw).decode() if isinstance(body, bytes) else body
        event["isBase64Encoded"] = isinstance(body, bytes)
        for header in event.get("headers", {}):
            if header.lower() == "content-length":
                event["headers"][header] = str(len(raw))
    if authorizer is None:
        context.pop("authorizer", None)
    elif not isinstance(authorizer, _Recorded):
        context["authorizer"] = {"lambda": dict(authorizer)}
    if request_id is not None:
        context["requestId"] = request_id
    if source_ip is not None:
        http["sourceIp"] = source_ip
    if stage_variables is not None:
        event["stageVariables"] = dict(stage_variables)

    for key, value in fields.items():
        if key not in event:
            raise KeyError(f"{name}.json has no top-level field {key!r}; use a named override")
        if value is None:
            del event[key]
        else:
            event[key] = value
    return event
