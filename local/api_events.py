"""API Gateway HTTP API payload 2.0 events, built from an HTTP request as API Gateway builds them."""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from bakery_local.template import AuthorizerSpec

ACCOUNT_ID = "000000000000"
API_ID = "local"
_TEXT_TYPES = (
    "text/",
    "application/json",
    "application/xml",
    "application/x-www-form-urlencoded",
    "+json",
    "+xml",
)


@dataclass(frozen=True)
class IncomingRequest:
    method: str
    raw_path: str
    raw_query: str
    headers: Sequence[tuple[str, str]]  # lower-case names, in arrival order
    body: bytes
    source_ip: str
    scheme: str = "http"  # how the client reached the runtime (uvicorn's, behind a trusted proxy)


def combined_headers(headers: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Headers as HTTP API delivers them: one entry per name, repeated values joined by commas, each
    value's bytes (``headers`` holds them read as Latin-1) as the UTF-8 text they spell."""
    combined: dict[str, str] = {}
    for name, value in headers:
        if name == "cookie":
            continue
        text = _as_utf8_text(value)
        combined[name] = f"{combined[name]},{text}" if name in combined else text
    return combined


def _as_utf8_text(value: str) -> str:
    """The client's bytes (``value`` read as Latin-1) as the text of their UTF-8: a JSON event carries
    text, and the event adapter reads it back into those bytes (``edge.lambda_event``). Bytes that are
    no UTF-8 stay as read."""
    if value.isascii():
        return value
    try:
        return value.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return value


def cookies(headers: Sequence[tuple[str, str]]) -> list[str]:
    return [
        cookie.strip()
        for name, value in headers
        if name == "cookie"
        for cookie in value.split(";")
        if cookie.strip()
    ]


def query_parameters(raw_query: str) -> dict[str, str] | None:
    if not raw_query:
        return None
    parameters: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        parameters[key] = f"{parameters[key]},{value}" if key in parameters else value
    return parameters


def _request_context(
    request: IncomingRequest, route_key: str, stage: str, domain: str, user_agent: str
) -> dict[str, Any]:
    now = time.time()
    return {
        "accountId": ACCOUNT_ID,
        "apiId": API_ID,
        "domainName": domain,
        "domainPrefix": domain.split(".")[0],
        "http": {
            "method": request.method,
            "path": request.raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": request.source_ip,
            "userAgent": user_agent,
        },
        "requestId": os.urandom(8).hex(),  # 16 hex digits, as uuid4().hex[:16] but a third of the cost
        "routeKey": route_key,
        "stage": stage,
        "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "timeEpoch": int(now * 1000),
    }


def _body(request: IncomingRequest) -> tuple[str | None, bool]:
    if not request.body:
        return None, False
    content_type = dict(request.headers).get("content-type", "").lower()
    if any(marker in content_type for marker in _TEXT_TYPES):
        try:
            return request.body.decode("utf-8"), False
        except UnicodeDecodeError:
            pass
    return base64.b64encode(request.body).decode("ascii"), True


def http_event(
    request: IncomingRequest,
    *,
    route_key: str,
    stage: str,
    path_parameters: Mapping[str, str],
    authorizer_context: Mapping[str, Any] | None,
    stage_variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The payload 2.0 event a function behind an HTTP API receives for ``request``."""
    headers = combined_headers(request.headers)
    domain = headers.get("host", "localhost").split(":")[0]
    context = _request_context(request, route_key, stage, domain, headers.get("user-agent", ""))
    headers["x-forwarded-proto"] = request.scheme  # API Gateway's own: a client's copy never survives
    headers.setdefault("x-forwarded-for", request.source_ip)
    body, is_base64 = _body(request)
    if authorizer_context is not None:
        context["authorizer"] = {"lambda": dict(authorizer_context)}
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": request.raw_path if stage == "$default" else f"/{stage}{request.raw_path}",
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": context,
        "isBase64Encoded": is_base64,
    }
    if stage != "$default":
        context["http"]["path"] = event["rawPath"]
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    _add_request_parts(event, request, path_parameters)
    if body is not None:
        event["body"] = body
    return event


def identity_source(request: IncomingRequest, authorizer: AuthorizerSpec) -> tuple[str, ...]:
    """The values of ``authorizer``'s identity sources in ``request`` ("" for a missing one: API
    Gateway then answers 401 without invoking the authorizer); its verdict is cached under them."""
    headers = combined_headers(request.headers)
    query = query_parameters(request.raw_query) or {}
    return tuple(headers.get(name, "") for name in authorizer.identity_headers) + tuple(
        query.get(name, "") for name in authorizer.identity_query_strings
    )


def authorizer_verdict(answer: Any) -> tuple[bool, dict[str, Any]]:
    """A simple response read as API Gateway reads it: ``isAuthorized`` and the context;
    ``ValueError`` for anything else (API Gateway's 500)."""
    if not isinstance(answer, Mapping) or not isinstance(answer.get("isAuthorized"), bool):
        raise ValueError("authorizer answered without a boolean isAuthorized")
    context = answer.get("context") or {}
    if not all(isinstance(value, str | int | float | bool) for value in context.values()):
        raise ValueError("authorizer context values must be strings, numbers or booleans")
    return answer["isAuthorized"], dict(context)


def authorizer_event(
    request: IncomingRequest,
    *,
    route_key: str,
    stage: str,
    identity_source: list[str],
    path_parameters: Mapping[str, str],
) -> dict[str, Any]:
    """The payload 2.0 REQUEST event a Lambda authorizer receives."""
    headers = combined_headers(request.headers)
    domain = headers.get("host", "localhost").split(":")[0]
    method, _, path = route_key.partition(" ")
    event: dict[str, Any] = {
        "version": "2.0",
        "type": "REQUEST",
        "routeArn": f"arn:aws:execute-api:local:{ACCOUNT_ID}:{API_ID}/{stage}/{method}{path}",
        "identitySource": identity_source,
        "routeKey": route_key,
        "rawPath": request.raw_path,
        "rawQueryString": request.raw_query,
        "headers": headers,
        "requestContext": _request_context(request, route_key, stage, domain, headers.get("user-agent", "")),
    }
    _add_request_parts(event, request, path_parameters)
    return event


def _add_request_parts(
    event: dict[str, Any], request: IncomingRequest, path_parameters: Mapping[str, str]
) -> None:
    """The optional members both event kinds carry only when the request has them."""
    if request_cookies := cookies(request.headers):
        event["cookies"] = request_cookies
    if parameters := query_parameters(request.raw_query):
        event["queryStringParameters"] = parameters
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
