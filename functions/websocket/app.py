"""WebSocket function: $connect, $disconnect and the client protocol's message routes
(``bakery_gateway.assembly.websocket``)."""

from bakery_gateway.assembly.websocket import WebSocketFunction
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
function = WebSocketFunction.from_settings(settings)
# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(function.handle_event, settings)
