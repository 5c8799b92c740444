"""API Gateway's part, played in process: authorizer event → context → function event → response.

The function is the one template.yaml routes the request to: the policy function for
``/api/v1/admin/**`` and the subscription pushes, the proxy for everything else.

Every response passes the checks the brief makes of all of them: a request id is echoed, and
nothing contains a stack trace or the caller's token.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bakery_gateway.api.problems import PROBLEM_TYPE_BASE
from bakery_gateway.api.routes import (
    ADMIN_PATHS,
    HTTP_ROUTES,
    LOGOUT_PATH,
    POLICY_FUNCTION,
    PUBLIC_ROUTE_KEYS,
    SERVICE_PATHS,
    SUBSCRIPTION_EVENTS_PATH,
)
from bakery_gateway.constants import PROBLEM_CONTENT_TYPE
from tests.support.events import AUTHORIZER_REQUEST, HTTP_API_PROXY, load_event
from tests.support.lambda_runtime import LambdaContext

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]

PROXY_ROUTE_KEY = f"ANY {SERVICE_PATHS}"
LOGOUT_ROUTE_KEY = f"POST {LOGOUT_PATH}"
ADMIN_ROUTE_KEY = f"ANY {ADMIN_PATHS}"
SUBSCRIPTION_EVENTS_ROUTE_KEY = f"POST {SUBSCRIPTION_EVENTS_PATH}"
POLICY_ROUTE_KEYS = frozenset(route.route_key for route in HTTP_ROUTES if route.function == POLICY_FUNCTION)
STACK_TRACE_MARKERS = ("Traceback (most recent call last)", 'File "/')


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


def route_key_for(method: str, path: str) -> str:
    """The route key of our HTTP API that a request matches (public routes have their own)."""
    key = f"{method} {path}"
    if key in PUBLIC_ROUTE_KEYS or key in (LOGOUT_ROUTE_KEY, SUBSCRIPTION_EVENTS_ROUTE_KEY):
        return key
    # A greedy public route (``ANY /api/v1/demo/{proxy+}``) is more specific than the catch-all,
    # so API Gateway prefers it.
    for public in PUBLIC_ROUTE_KEYS:
        route_method, _, template = public.partition(" ")
        prefix = template.removesuffix("{proxy+}")
        if prefix != template and route_method in ("ANY", method) and path.startswith(prefix):
            return public
    return ADMIN_ROUTE_KEY if path.startswith(ADMIN_PATHS.removesuffix("{proxy+}")) else PROXY_ROUTE_KEY


class LambdaGateway:
    def __init__(self, authorizer: Handler, proxy: Handler, policy: Handler | None = None) -> None:
        self._authorizer = authorizer
        self._proxy = proxy
        self._policy = policy

    def authorize(self, token: str | None, **overrides: Any) -> dict[str, Any]:
        """The authorizer's answer to the recorded REQUEST event carrying ``token``."""
        if token is None:
            event = load_event(AUTHORIZER_REQUEST, **overrides)
            event["headers"].pop("authorization", None)
            event["identitySource"] = []
        else:
            event = load_event(AUTHORIZER_REQUEST, token=token, **overrides)
        answer = self._authorizer(event, LambdaContext())
        assert_nothing_leaks(json.dumps(answer), token)
        return answer

    def context_for(self, token: str) -> dict[str, Any]:
        return dict(self.authorize(token)["context"])

    def authorize_credentials(self, headers: Mapping[str, str]) -> dict[str, Any]:
        """The authorizer's context for a request whose credential headers are ``headers`` (an API
        key's ``Authorization: ApiKey ...`` or ``X-API-Key``), instead of the recorded bearer token."""
        event = load_event(AUTHORIZER_REQUEST)
        event["headers"].pop("authorization", None)
        event["headers"].update({name.lower(): value for name, value in headers.items()})
        event["identitySource"] = (
            [event["headers"]["authorization"]] if "authorization" in event["headers"] else []
        )
        answer = self._authorizer(event, LambdaContext())
        for value in headers.values():
            assert_nothing_leaks(json.dumps(answer), value.rpartition(" ")[2])
        return dict(answer["context"])

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
        event_name: str = HTTP_API_PROXY,
        lambda_context: LambdaContext | None = None,
        **overrides: Any,
    ) -> ProxyResponse:
        """Send one request through the handler its route belongs to.

        The authorizer context is ``context`` when given (a cached verdict), else the authorizer's
        verdict on ``token``; public routes and token-less requests carry none. ``lambda_context``
        is the function's (default: 30 s left).
        """
        route_key = route_key_for(method, path)
        authorizer: Mapping[str, Any] | None = context
        if authorizer is None and token is not None and route_key not in PUBLIC_ROUTE_KEYS:
            authorizer = self.context_for(token)
        event = load_event(
            event_name,
            method=method,
            path=path,
            stage=stage,
            route_key=route_key,
            extra_headers=headers,
            token=token,
            query=query,
            cookies=cookies,
            body=body,
            authorizer=authorizer,
            **overrides,
        )
        return self.invoke(event, lambda_context)

    def invoke(self, event: dict[str, Any], lambda_context: LambdaContext | None = None) -> ProxyResponse:
        """Send a prepared event (see ``load_event``) to the handler of its route key."""
        handler = self._policy if event.get("routeKey") in POLICY_ROUTE_KEYS else self._proxy
        assert handler is not None, f"no policy function started for {event.get('routeKey')}"
        response = ProxyResponse(handler(event, lambda_context or LambdaContext()))
        authorization = str((event.get("headers") or {}).get("authorization", ""))
        token = authorization.partition(" ")[2] or None
        assert_nothing_leaks(json.dumps(response.raw) + response.body.decode("latin-1"), token)
        assert response.headers.get("x-request-id"), "every response echoes a request id"
        return response


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
