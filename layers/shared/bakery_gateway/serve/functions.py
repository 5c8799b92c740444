"""The functions ``serve`` runs, built as Lambda builds them: by ``bakery_gateway.assembly``.

Each worker builds the proxy, the policy function and the authorizer from its settings once, as a
Lambda container does at cold start (the fanout on the first ``POST /internal/alerts``), and calls
them with the request, not with an event. The Lambda handlers' own wrapper (tracing, the EMF blob) is
Lambda's and is skipped; a Pushgateway push is still signalled after each request
(``after_each_request``).
"""

from __future__ import annotations

import asyncio
import base64
import os
import threading
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from bakery_gateway.api.identity import Verdict
from bakery_gateway.api.request import Request
from bakery_gateway.api.routes import (
    FANOUT_FUNCTION,
    FUNCTION_TIMEOUT_SECONDS,
    POLICY_FUNCTION,
    PROXY_FUNCTION,
)
from bakery_gateway.assembly.authorizer import AuthorizerFunction
from bakery_gateway.assembly.policy import PolicyFunction
from bakery_gateway.assembly.proxy import ProxyFunction
from bakery_gateway.authentication.authorizer import authorize_http_request
from bakery_gateway.serve.app import FunctionAnswer, ServedFunction
from bakery_gateway.settings import Settings

if TYPE_CHECKING:
    from bakery_gateway.assembly.fanout import FanoutFunction


def served_functions(settings: Settings) -> dict[str, ServedFunction]:
    """The HTTP API's functions, each called with the request."""
    proxy = ProxyFunction.from_settings(settings).handler
    policy = PolicyFunction.from_settings(settings).handler

    async def policy_answer(request: Request, context: Any) -> FunctionAnswer:
        return await policy.answer(request)

    return {
        PROXY_FUNCTION: ServedFunction(proxy.answer, FUNCTION_TIMEOUT_SECONDS[PROXY_FUNCTION]),
        POLICY_FUNCTION: ServedFunction(policy_answer, FUNCTION_TIMEOUT_SECONDS[POLICY_FUNCTION]),
        FANOUT_FUNCTION: ServedFunction(fanout_answer(settings), FUNCTION_TIMEOUT_SECONDS[FANOUT_FUNCTION]),
    }


def authorizer_call(settings: Settings) -> Callable[[Request], tuple[bool, Verdict]]:
    """The HTTP API authorizer's judgement of a request, as its event handler gives it: always
    authorized, the verdict in the context (``authentication.authorizer``)."""
    authorizer = AuthorizerFunction.from_settings(settings).authorizer

    def authorize(request: Request) -> tuple[bool, Verdict]:
        return True, authorize_http_request(authorizer, request)

    return authorize


def fanout_answer(settings: Settings) -> Callable[[Request, Any], Awaitable[FunctionAnswer]]:
    """``POST /internal/alerts``: the fanout reads an HTTP API event of its own (``realtime.alerts.
    ingress``) and blocks on its posts, so this rare, loopback-only route gets a minimal event and a
    thread. The fanout is built on its first request: few workers ever get one."""
    built: list[FanoutFunction] = []
    lock = threading.Lock()

    def fanout() -> FanoutFunction:
        with lock:  # requests that arrive together build one fanout, on their threads
            if not built:
                from bakery_gateway.assembly.fanout import FanoutFunction

                built.append(FanoutFunction.from_settings(settings))
            return built[0]

    async def answer(request: Request, context: Any) -> FunctionAnswer:
        event = {
            "version": "2.0",
            "routeKey": request.route_key,
            "rawPath": request.raw_path,
            "headers": dict(request.headers),
            "requestContext": {"http": {"method": request.method, "path": request.path}},
            "body": base64.b64encode(request.body).decode(),
            "isBase64Encoded": True,
        }
        result = await asyncio.to_thread(lambda: fanout().handle_event(event, context))
        headers = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
        return int(result["statusCode"]), headers, str(result.get("body") or "").encode()

    return answer


def after_each_request(settings: Settings) -> Callable[[], None] | None:
    """The process's Pushgateway push signal, when one is configured (docs/observability.md)."""
    from bakery_gateway.telemetry import pushgateway

    exporter = pushgateway.configured_exporter(settings.observability, os.environ)
    return None if exporter is None else exporter.after_invocation
