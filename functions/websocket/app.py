"""WebSocket function: $connect registers the connection, $disconnect removes it, and the message
routes (subscribe, unsubscribe, ping, $default) answer the client's protocol."""

from typing import Any

from bakery_gateway.clients.factories import sync_redis
from bakery_gateway.realtime.websocket.connections import Connections
from bakery_gateway.realtime.websocket.routes import handle
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
connections = Connections(sync_redis(settings.redis))


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, connections)


# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(_handler, settings)
