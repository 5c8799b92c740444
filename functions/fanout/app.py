"""Fanout function: alerts from services (direct invocation, EventBridge, POST /internal/alerts)
stored in the tenant's Redis stream, published on its channel, posted to the tenant's WebSocket
subscribers and routed to notifications; training progress posted to the job's subscribers."""

from typing import Any

from bakery_gateway.realtime.alerts.fanout import fanout_from_settings
from bakery_gateway.realtime.alerts.ingress import handle
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
fanout = fanout_from_settings(settings)


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle(event, context, fanout)


# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(_handler, settings)
