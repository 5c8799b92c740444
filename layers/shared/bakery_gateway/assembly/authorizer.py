"""The authorizer function of both APIs: the HTTP API (bearer token, verdict in the context) and the
WebSocket API's ``$connect`` (token in the query string, an IAM policy)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bakery_gateway.authentication.authorizer import Authorizer
from bakery_gateway.authentication.reloading_verifier import ColdStartVerifier
from bakery_gateway.clients import factories
from bakery_gateway.edge import authorizer_events
from bakery_gateway.settings import Settings


@dataclass(frozen=True)
class AuthorizerFunction:
    authorizer: Authorizer

    @classmethod
    def from_settings(cls, settings: Settings) -> AuthorizerFunction:
        # Keys that cannot be loaded do not fail the build: tokens get a 503 problem until they load.
        verifier = ColdStartVerifier(settings.jwt)
        return cls(Authorizer(verifier, factories.sync_redis(settings.redis)))

    def handle_event(self, event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        """A Lambda invocation: either API's authorizer event, answered as that API expects."""
        return authorizer_events.handle_event(self.authorizer, event)
