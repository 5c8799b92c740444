"""Proxy function: every /api/v1 path forwarded to its service, and the gateway's own routes."""

from typing import Any

from bakery_gateway.api.routes import GATEWAY_API_ROUTES
from bakery_gateway.clients.factories import PerEventLoop, async_redis_factory, http_client_factory
from bakery_gateway.clients.pipelined_redis import pipelined_redis_factory
from bakery_gateway.edge.lambda_http import AsgiAppHandler, run_on_container_loop
from bakery_gateway.forwarding.pipeline import ProxyPipeline
from bakery_gateway.forwarding.proxy_handler import ProxyHandler
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument, instrument_async
from bakery_gateway.telemetry.pseudonymize import user_id_for_log
from bakery_gateway.telemetry.request_record import RequestRecorder

BLOCKING_READ_MARGIN_SECONDS = 2.0
settings = get_settings()
# The proxy reads no text from Redis: undecoded replies cost it less on every request.
redis_clients = PerEventLoop(async_redis_factory(settings.redis, decode_responses=False))
http_clients = PerEventLoop(http_client_factory(settings))
pipeline = ProxyPipeline(
    settings,
    redis_clients=redis_clients,
    http_clients=http_clients,
    # Every request's one policy round trip, pipelined with the other requests' on one connection.
    script_clients=PerEventLoop(pipelined_redis_factory(settings.redis)),
)
recorder = RequestRecorder(user_id_for_log=user_id_for_log(settings.observability))


def _own_routes_app() -> Any:
    """The gateway's own routes, imported and built on the first request for one (FastAPI's import
    is most of a cold start, and proxied requests never need it)."""
    from bakery_gateway.own_routes.app import create_app

    return create_app(
        settings,
        pipeline=pipeline,
        recorder=recorder,
        redis_clients=redis_clients,
        http_clients=http_clients,
        # The alert stream's blocking reads (XREAD BLOCK up to SSE_WAIT_SECONDS) on connections of
        # their own, whose socket timeout outlasts the wait; REDIS_TIMEOUT_SECONDS stays everywhere else.
        blocking_redis_clients=PerEventLoop(
            async_redis_factory(
                settings.redis,
                read_timeout_seconds=settings.alerts.sse_wait_seconds + BLOCKING_READ_MARGIN_SECONDS,
            )
        ),
    )


events = ProxyHandler(pipeline, recorder, AsgiAppHandler(_own_routes_app), GATEWAY_API_ROUTES)


async def _async_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return await events(event, context)


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_on_container_loop(events(event, context))


# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(_handler, settings)
# ``handler``'s answer, awaited on the caller's running event loop (``bakery-gateway serve``).
async_handler = instrument_async(_async_handler, settings)
