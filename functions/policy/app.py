"""Policy function: tenant policy administration (platform_admin) and the tenant service's pushes
(``bakery_gateway.assembly.policy``)."""

from bakery_gateway.assembly.policy import PolicyFunction
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
function = PolicyFunction.from_settings(settings)
# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(function.handle_event, settings)
