"""Proxy function: the gateway's own routes, and every /api/v1 path forwarded to its service."""

from typing import Any

from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

from bakery_gateway.clients import PerEventLoop, async_redis_factory, http_client_factory
from bakery_gateway.events import strip_stage
from bakery_gateway.proxy_app import create_app
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry import instrument

BLOCKING_READ_MARGIN_SECONDS = 2.0
settings = get_settings()
app = create_app(
    settings,
    # The proxy reads no text from Redis: undecoded replies cost it less on every request.
    redis_clients=PerEventLoop(async_redis_factory(settings.redis, decode_responses=False)),
    http_clients=PerEventLoop(http_client_factory(settings)),
    # The alert stream's blocking reads (XREAD BLOCK up to SSE_WAIT_SECONDS) on connections of their
    # own, whose socket timeout outlasts the wait; the short REDIS_TIMEOUT_SECONDS stays everywhere else.
    blocking_redis_clients=PerEventLoop(
        async_redis_factory(
            settings.redis,
            read_timeout_seconds=settings.alerts.sse_wait_seconds + BLOCKING_READ_MARGIN_SECONDS,
        )
    ),
)
# lifespan="off": Mangum would otherwise run startup and shutdown on every invocation.
# Problem documents are text too: without them here Mangum would base64-encode them.
adapter = Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, "application/problem+json"])


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return adapter(strip_stage(event), context)


# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(_handler, settings)
