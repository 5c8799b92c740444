"""Lambda authorizer of both APIs: the HTTP API (bearer token, verdict in the context) and the
WebSocket API's $connect (token in the query string, an IAM policy)."""

from typing import Any

from bakery_gateway.authorizer import Authorizer, handle_event
from bakery_gateway.clients import sync_redis
from bakery_gateway.keys import load_public_keys
from bakery_gateway.settings import get_settings
from bakery_gateway.telemetry import instrument
from bakery_gateway.tokens import TokenVerifier

settings = get_settings()
authorizer = Authorizer(
    TokenVerifier(load_public_keys(settings.jwt), settings.jwt), sync_redis(settings.redis)
)


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return handle_event(authorizer, event)


# Tracing when on, the EMF blob, a Pushgateway push now and then (docs/observability.md).
handler = instrument(_handler, settings)
