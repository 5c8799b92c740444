"""Lambda authorizer of both APIs: the HTTP API (bearer token, verdict in the context) and the
WebSocket API's $connect (token in the query string, an IAM policy)
(``bakery_gateway.assembly.authorizer``)."""

from bakery_gateway.assembly.authorizer import AuthorizerFunction
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
function = AuthorizerFunction.from_settings(settings)
# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(function.handle_event, settings)
