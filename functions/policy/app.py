"""Policy function: tenant policy administration (platform_admin) and the tenant service's pushes."""

from typing import Any

from mangum import Mangum
from mangum.adapter import DEFAULT_TEXT_MIME_TYPES

from bakery_gateway.clients import PerEventLoop, async_redis_factory
from bakery_gateway.constants import PROBLEM_CONTENT_TYPE
from bakery_gateway.events import strip_stage
from bakery_gateway.policy.admin import create_admin_app
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry import instrument

settings = get_settings()
app = create_admin_app(settings, redis_clients=PerEventLoop(async_redis_factory(settings.redis)))
# lifespan="off": Mangum would otherwise run startup and shutdown on every invocation.
# Problem documents are text too: without them here Mangum would base64-encode them.
adapter = Mangum(app, lifespan="off", text_mime_types=[*DEFAULT_TEXT_MIME_TYPES, PROBLEM_CONTENT_TYPE])


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return adapter(strip_stage(event), context)


# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(_handler, settings)
