"""Fanout function: alerts from services stored, published, posted to WebSocket subscribers and
routed to notifications (``bakery_gateway.assembly.fanout``)."""

from bakery_gateway.assembly.fanout import FanoutFunction
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
function = FanoutFunction.from_settings(settings)
# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(function.handle_event, settings)
