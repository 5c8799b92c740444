"""Lambda authorizer of both APIs: the HTTP API (bearer token, verdict in the context) and the
WebSocket API's $connect (token in the query string, an IAM policy)."""

from typing import Any

from bakery_gateway.authentication.authorizer import Authorizer
from bakery_gateway.authentication.reloading_verifier import ColdStartVerifier
from bakery_gateway.clients.factories import sync_redis
from bakery_gateway.edge.authorizer_events import handle_event
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry.instrument import instrument

settings = get_settings()
# Keys that cannot be loaded do not fail the import: tokens get a 503 problem until they load.
authorizer = Authorizer(ColdStartVerifier(settings.jwt), sync_redis(settings.redis))


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(authorizer, event)


# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(_handler, settings)
