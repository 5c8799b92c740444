"""Policy function: tenant policy administration (platform_admin) and the tenant service's pushes."""

from typing import Any

from bakery_gateway.clients.factories import PerEventLoop, async_redis_factory
from bakery_gateway.edge.lambda_http import AsgiAppHandler, run_on_container_loop
from bakery_gateway.policies.admin import create_admin_app
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
app = create_admin_app(settings, redis_clients=PerEventLoop(async_redis_factory(settings.redis)))
events = AsgiAppHandler(lambda: app)


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return run_on_container_loop(events(event, context))


# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(_handler, settings)
