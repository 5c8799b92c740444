"""API Gateway's HTTP API, played in process in front of the real handlers, by the local runtime's pieces.

A request goes the way ``bakery-gateway local`` (``bakery_local.gateway``) sends it: its route
selected among template.yaml's by the same table (``bakery_gateway.serve.routing``), its
authorizer's identity sources read (missing: API Gateway's own 401, the authorizer unasked), the
authorizer's payload 2.0 event and then the function's built from the one request
(``bakery_local.api_events``), the simple response read as API Gateway reads it (``isAuthorized:
false``: 403; a malformed answer: 500). Synchronous and serverless: the handlers run on the test's
``LambdaRuntime`` loop.

Not played: the authorizer's result cache (every request asks the authorizer; a test plays a cached
verdict with ``context=``), and a handler's exception, which fails the test instead of becoming
API Gateway's 500. Every function response passes the checks the brief makes of all of them: a
request id is echoed, and nothing contains a stack trace or the caller's token.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from bakery_gateway.api.problems import PROBLEM_TYPE_BASE
from bakery_gateway.api.routes import (
    AUTHORIZER_FUNCTION,
    POLICY_FUNCTION,
    PROXY_FUNCTION,
    SERVICE_PATHS,
    canonical_route_key,
)
from bakery_gateway.constants import PROBLEM_CONTENT_TYPE
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.serve.routing import RouteMatch, RouteTable
from bakery_local import api_events
from bakery_local.template import HttpApiSpec, RouteSpec, read_http_api

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

TEMPLATE = Path(__file__).resolve().parents[2] / "template.yaml"
PROXY_ROUTE_KEY = f"ANY {SERVICE_PATHS}"
STACK_TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/')
# The client of the recorded events (tests/events/http_api_proxy.json): its API's host, its address.
API_HOST = "a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com"
CLIENT_IP = "203.0.113.10"
CLIENT_HEADERS = {"accept": "application/json", "user-agent": "Mozilla/5.0 (X11; Linux x86_64) Bakery-IA/1.0"}
DEFAULT_PATH = "/api/v1/sales/products"
CREDENTIAL_HEADERS = ("authorization", "x-api-key")  # values a response must never show


@cache
def http_api() -> HttpApiSpec:
    """template.yaml's HTTP API, its parameters at their defaults."""
    return read_http_api(TEMPLATE, environ={})


@cache
def _route_table() -> RouteTable[RouteSpec]:
    return RouteTable(http_api().routes)


def _route_named(route_key: str) -> RouteMatch[RouteSpec]:
    (route,) = (route for route in http_api().routes if route.route_key == route_key)
    return RouteMatch(route, {})


def route_for(method: str, path: str) -> RouteMatch[RouteSpec]:
    """The route API Gateway selects for ``method path`` (a test asks only for routes that exist)."""
    match = _route_table().match(method, path)
    assert match is not None, f"template.yaml has no route for {method} {path}"
    return match


@dataclass(frozen=True)
class ProxyResponse:
    """A payload 2.0 Lambda response, read the way API Gateway reads it."""

    raw: dict[str, Any]

    @property
    def status(self) -> int:
        return int(self.raw["statusCode"])

    @property
    def headers(self) -> dict[str, str]:
        return dict(self.raw.get("headers") or {})

    @property
    def cookies(self) -> list[str]:
        return list(self.raw.get("cookies") or [])

    @property
    def is_base64(self) -> bool:
        return bool(self.raw.get("isBase64Encoded"))

    @property
    def body(self) -> bytes:
        body = self.raw.get("body") or ""
        return base64.b64decode(body) if self.is_base64 else body.encode()

    def json(self) -> Any:
        return json.loads(self.body)


def gateway_answer(status: int, message: str) -> ProxyResponse:
    """API Gateway's own answer, no function invoked: a JSON object with a message."""
    return ProxyResponse(
        {
            "statusCode": status,
            "headers": {"content-type": "application/json"},
            "body": json.dumps({"message": message}),
        }
    )


def client_request(
    method: str,
    path: str,
    *,
    token: str | None = None,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    query: str | None = None,
    cookies: Sequence[str] | None = None,
    source_ip: str = CLIENT_IP,
) -> api_events.IncomingRequest:
    """The request a client of the recorded API sends over HTTPS (cookies in one ``Cookie`` header)."""
    sent = {
        "host": API_HOST,
        **CLIENT_HEADERS,
        **{name.lower(): value for name, value in (headers or {}).items()},
    }
    if token is not None:
        sent["authorization"] = f"Bearer {token}"
    raw_body = body.encode() if isinstance(body, str) else body or b""
    if raw_body:
        sent.setdefault("content-length", str(len(raw_body)))
    if cookies:
        sent["cookie"] = "; ".join(cookies)
    return api_events.IncomingRequest(
        method=method,
        raw_path=path,
        raw_query=query or "",
        headers=list(sent.items()),
        body=raw_body,
        source_ip=source_ip,
        scheme="https",
    )


def function_event(
    method: str, path: str, *, context: Mapping[str, Any] | None, **request: Any
) -> dict[str, Any]:
    """The event API Gateway hands the function of ``method path``'s route, ``context`` its
    authorizer's verdict, for a test that invokes the handler itself; ``request``: ``client_request``'s."""
    return _event(client_request(method, path, **request), route_for(method, path), context)


def _event(
    request: api_events.IncomingRequest,
    match: RouteMatch[RouteSpec],
    context: Mapping[str, Any] | None,
    *,
    stage: str | None = None,
    stage_variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    return api_events.http_event(
        request,
        route_key=match.route.route_key,
        stage=stage or http_api().stage,
        path_parameters=match.path_parameters,
        authorizer_context=context,
        stage_variables=stage_variables,
    )


class LambdaGateway:
    def __init__(self, authorizer: Handler, proxy: Handler, policy: Handler | None = None) -> None:
        self._functions: dict[str, Handler | None] = {
            AUTHORIZER_FUNCTION: authorizer,
            PROXY_FUNCTION: proxy,
            POLICY_FUNCTION: policy,
        }
        self._api = http_api()
        self._function_of = {route.route_key: route.function for route in self._api.routes}

    def authorize(
        self,
        token: str | None,
        *,
        method: str = "GET",
        path: str = DEFAULT_PATH,
        query: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """The authorizer's answer to a request carrying ``token`` on the route of ``method path``."""
        answer = self._ask_authorizer(client_request(method, path, token=token, query=query, headers=headers))
        assert not isinstance(answer, ProxyResponse), (
            f"API Gateway answers {method} {path} itself: {answer.raw}"
        )
        return answer

    def context_for(self, token: str) -> dict[str, Any]:
        return dict(self.authorize(token)["context"])

    def authorize_credentials(
        self, headers: Mapping[str, str], *, path: str = DEFAULT_PATH
    ) -> dict[str, Any]:
        """The authorizer's context for a request whose credential headers are ``headers`` (an API
        key's ``Authorization: ApiKey ...`` or ``X-API-Key``), instead of a bearer token."""
        return dict(self.authorize(None, path=path, headers=headers)["context"])

    def invoke_authorizer(self, event: dict[str, Any], secrets: Sequence[str] = ()) -> dict[str, Any]:
        """The authorizer function's answer to a prepared REQUEST event; it shows none of ``secrets``."""
        answer = self._handler(AUTHORIZER_FUNCTION)(event, LambdaContext(AUTHORIZER_FUNCTION))
        for secret in secrets:
            assert_nothing_leaks(json.dumps(answer), secret)
        return answer

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        context: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        body: bytes | str | None = None,
        query: str | None = None,
        stage: str | None = None,
        cookies: Sequence[str] | None = None,
        source_ip: str = CLIENT_IP,
        stage_variables: Mapping[str, str] | None = None,
        lambda_context: LambdaContext | None = None,
        without_authorizer: bool = False,
        route_key: str | None = None,
    ) -> ProxyResponse:
        """Send one request through API Gateway to the function of its route.

        The authorizer context is ``context`` when given (a cached verdict), else the authorizer's
        verdict on the request; public routes carry none. ``without_authorizer``: the request reaches
        the function with no verdict at all, as through a route wired without its authorizer by
        mistake (the functions fail closed); ``route_key``: served on that route whatever the path, as
        by a host that sends every path to the proxy (``serve``), where API Gateway would answer 404
        itself. ``lambda_context`` is the function's (default: 30 s left).
        """
        request = client_request(
            method,
            path,
            token=token,
            headers=headers,
            body=body,
            query=query,
            cookies=cookies,
            source_ip=source_ip,
        )
        match = _route_table().match(method, path) if route_key is None else _route_named(route_key)
        if match is None:
            return gateway_answer(404, "Not Found")
        verdict: Mapping[str, Any] | ProxyResponse | None = context
        if verdict is None and match.route.authorizer is not None and not without_authorizer:
            verdict = self._verdict(request, match)
        if isinstance(verdict, ProxyResponse):
            return verdict
        event = _event(request, match, verdict, stage=stage, stage_variables=stage_variables)
        return self.invoke(event, lambda_context)

    def invoke(self, event: dict[str, Any], lambda_context: LambdaContext | None = None) -> ProxyResponse:
        """Send a prepared event (see ``load_event``) to the function of its route key."""
        function = self._function_of.get(canonical_route_key(str(event.get("routeKey"))), PROXY_FUNCTION)
        response = ProxyResponse(self._handler(function)(event, lambda_context or LambdaContext(function)))
        # SAM's emulator keeps the client's spelling of header names.
        headers = {str(name).lower(): str(value) for name, value in (event.get("headers") or {}).items()}
        token = headers.get("authorization", "").partition(" ")[2] or None
        assert_nothing_leaks(json.dumps(response.raw) + response.body.decode("latin-1"), token)
        assert response.headers.get("x-request-id"), "every response echoes a request id"
        return response

    def _ask_authorizer(
        self, request: api_events.IncomingRequest, match: RouteMatch[RouteSpec] | None = None
    ) -> dict[str, Any] | ProxyResponse:
        """The answer of the authorizer of ``request``'s route (``match``), or API Gateway's own 401
        when one of its identity sources is missing: then the authorizer is never asked."""
        match = match or route_for(request.method, request.raw_path)
        authorizer = self._api.authorizers[str(match.route.authorizer)]
        identity = api_events.identity_source(request, authorizer)
        if not all(identity):
            return gateway_answer(401, "Unauthorized")
        event = api_events.authorizer_event(
            request,
            route_key=match.route.route_key,
            stage=self._api.stage,
            identity_source=list(identity),
            path_parameters=match.path_parameters,
        )
        credentials = [
            value.rpartition(" ")[2] for name, value in request.headers if name in CREDENTIAL_HEADERS
        ]
        return self.invoke_authorizer(event, credentials)

    def _verdict(
        self, request: api_events.IncomingRequest, match: RouteMatch[RouteSpec]
    ) -> dict[str, Any] | ProxyResponse:
        """The authorizer's context for ``request``, or API Gateway's answer instead of the function's."""
        answer = self._ask_authorizer(request, match)
        if isinstance(answer, ProxyResponse):
            return answer
        try:
            authorized, context = api_events.authorizer_verdict(answer)
        except ValueError:
            return gateway_answer(500, "Internal Server Error")
        return context if authorized else gateway_answer(403, "Forbidden")

    def _handler(self, function: str) -> Handler:
        handler = self._functions.get(function)
        assert handler is not None, f"no {function} started"
        return handler


def assert_nothing_leaks(text: str, token: str | None) -> None:
    for marker in STACK_TRACE_MARKERS:
        assert marker not in text, f"a response contains a stack trace: {text[:500]}"
    if token:
        assert token not in text, "a response echoes the caller's token"


def assert_problem(response: ProxyResponse, status: int, problem_type: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of this status and type; returns its document."""
    assert response.status == status, response.raw
    assert response.headers["content-type"] == PROBLEM_CONTENT_TYPE
    problem: dict[str, Any] = response.json()
    assert problem["type"] == PROBLEM_TYPE_BASE + problem_type
    assert problem["status"] == status
    assert problem["title"]
    assert problem["detail"]
    assert problem["instance"] == response.headers["x-request-id"]
    return problem
