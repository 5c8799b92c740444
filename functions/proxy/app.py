"""Proxy function: every /api/v1 path forwarded to its service, and the gateway's own routes
(``bakery_gateway.assembly.proxy``)."""

from bakery_gateway.assembly.proxy import ProxyFunction
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
function = ProxyFunction.from_settings(settings)
# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(function.handle_event, settings)
