"""The functions ``serve`` runs, as the very objects the Lambda handler modules build.

Each ``functions/<name>/app.py`` builds its objects once, at import (the proxy's pipeline and own
routes, the policy function's admin app, the authorizer, the fanout): ``serve`` imports those modules
(installed with the package as ``bakery_functions``) and calls the objects with the request, not the
handlers with an event, so one wiring serves Lambda and ``serve`` alike. The handlers' own wrapper
(tracing, the EMF blob) is Lambda's and is skipped; a Pushgateway push is still signalled after each
request (``after_each_request``).
"""

from __future__ import annotations

import asyncio
import base64
import importlib
import os
from collections.abc import Callable, Mapping
from typing import Any

from bakery_gateway.api.identity import Verdict
from bakery_gateway.api.request import Request
from bakery_gateway.api.routes import (
    AUTHORIZER_FUNCTION,
    FANOUT_FUNCTION,
    FUNCTION_TIMEOUT_SECONDS,
    POLICY_FUNCTION,
    PROXY_FUNCTION,
)
from bakery_gateway.serve.app import FunctionAnswer, ServedFunction
from bakery_gateway.settings import Settings

HANDLER_MODULES: Mapping[str, str] = {
    PROXY_FUNCTION: "bakery_functions.proxy.app",
    POLICY_FUNCTION: "bakery_functions.policy.app",
    FANOUT_FUNCTION: "bakery_functions.fanout.app",
    AUTHORIZER_FUNCTION: "bakery_functions.authorizer.app",
}


def handler_module(function: str) -> Any:
    """The function's handler module, imported (its objects built) on first use."""
    return importlib.import_module(HANDLER_MODULES[function])


def served_functions() -> dict[str, ServedFunction]:
    """The HTTP API's functions, each called with the request."""
    proxy = handler_module(PROXY_FUNCTION).events  # forwarding.proxy_handler.ProxyHandler
    policy = handler_module(POLICY_FUNCTION).events  # edge.lambda_http.AsgiAppHandler

    async def policy_answer(request: Request, context: Any) -> FunctionAnswer:
        answer: FunctionAnswer = await policy.answer(request)
        return answer

    return {
        PROXY_FUNCTION: ServedFunction(proxy.answer, FUNCTION_TIMEOUT_SECONDS[PROXY_FUNCTION]),
        POLICY_FUNCTION: ServedFunction(policy_answer, FUNCTION_TIMEOUT_SECONDS[POLICY_FUNCTION]),
        FANOUT_FUNCTION: ServedFunction(fanout_answer, FUNCTION_TIMEOUT_SECONDS[FANOUT_FUNCTION]),
    }


def authorizer_call() -> Callable[[Request], tuple[bool, Verdict]]:
    """The HTTP API authorizer's judgement of a request, as its event handler gives it: always
    authorized, the verdict in the context (``authentication.authorizer``)."""
    from bakery_gateway.authentication.authorizer import authorize_http_request

    authorizer = handler_module(AUTHORIZER_FUNCTION).authorizer

    def authorize(request: Request) -> tuple[bool, Verdict]:
        return True, authorize_http_request(authorizer, request)

    return authorize


async def fanout_answer(request: Request, context: Any) -> FunctionAnswer:
    """``POST /internal/alerts``: the fanout reads an HTTP API event of its own (``realtime.alerts.
    ingress``) and blocks on its posts, so this rare, loopback-only route gets a minimal event and a
    thread."""
    from bakery_gateway.realtime.alerts.ingress import handle

    event = {
        "version": "2.0",
        "routeKey": request.route_key,
        "rawPath": request.raw_path,
        "headers": dict(request.headers),
        "requestContext": {"http": {"method": request.method, "path": request.path}},
        "body": base64.b64encode(request.body).decode(),
        "isBase64Encoded": True,
    }
    result = await asyncio.to_thread(lambda: handle(event, context, handler_module(FANOUT_FUNCTION).fanout))
    headers = [(str(name), str(value)) for name, value in (result.get("headers") or {}).items()]
    return int(result["statusCode"]), headers, str(result.get("body") or "").encode()


def after_each_request(settings: Settings) -> Callable[[], None] | None:
    """The process's Pushgateway push signal, when one is configured (docs/observability.md)."""
    config = settings.observability
    if not config.pushgateway_url:
        return None
    from bakery_gateway.telemetry import pushgateway

    exporter = pushgateway.process_exporter(
        config.pushgateway_url, config.pushgateway_interval_seconds, os.environ
    )
    return exporter.after_invocation
