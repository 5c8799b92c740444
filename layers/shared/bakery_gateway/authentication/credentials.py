"""The credentials a request carries: a bearer token, or an API key, read from its headers.

Read by the authorizer, which judges them, and by the proxy, which revokes a token at logout; so
they live apart from both, and the proxy's import does not pull in the authorizer. ``headers`` are a
request's, by lower-case name (``api.request.Request.headers``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from bakery_gateway.constants import API_KEY_HEADER

API_KEY_SCHEME: Final = "apikey"  # ``Authorization: ApiKey <key>``, compared case-insensitively
# Where a route takes its token from the query (``api.routes.HttpRoute.token_in_query``).
QUERY_TOKEN_PARAMETER: Final = "token"  # noqa: S105 - a parameter name, not a secret


def bearer_token(headers: Mapping[str, str] | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    value = (headers or {}).get("authorization", "")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def api_key(headers: Mapping[str, str] | None) -> str | None:
    """The API key a request carries, or None: ``Authorization: ApiKey <key>``, else ``X-API-Key``
    only when there is no ``Authorization`` header at all. API Gateway caches a verdict by the
    identity source (``Authorization``) alone, so a verdict must never depend on another header there
    (docs/api-keys.md)."""
    headers = headers or {}
    authorization = headers.get("authorization", "").strip()
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == API_KEY_SCHEME:
        return value.strip()
    if not authorization:
        return headers.get(API_KEY_HEADER, "").strip() or None
    return None
