"""The Lambda authorizer: verifies the bearer token and hands the proxy its verdict.

Behind an HTTP API, a denial (``isAuthorized: false``) becomes API Gateway's own bare 403, and there
is no way to return a 401 from the authorizer. So the authorizer always allows the call through and
puts its verdict in the context: an identity when the token is good, ``authenticated: false`` and a
reason when it is not. The proxy answers the refusal as a 401 problem before it does anything else.
API Gateway caches that verdict per token; the proxy still re-checks expiry and revocation on every
request, so the cache can neither extend a token's life nor outlive a logout.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from bakery_gateway import redis_keys
from bakery_gateway.errors import InvalidTokenError
from bakery_gateway.identity import Identity, Unauthenticated
from bakery_gateway.observability import (
    AUTH_ATTEMPTS,
    AUTH_CACHE_HITS,
    AUTH_CACHE_MISSES,
    REDIS_ERRORS,
    logger,
)
from bakery_gateway.tokens import TokenVerifier

Verdict = Identity | Unauthenticated


class SyncRedisPipeline(Protocol):
    def get(self, name: str) -> object: ...
    def exists(self, *names: str) -> object: ...
    def execute(self) -> list[Any]: ...


class SyncRedis(Protocol):
    def pipeline(self, transaction: bool = True) -> SyncRedisPipeline: ...
    def set(self, name: str, value: str, ex: int | None = None) -> object: ...


class Authorizer:
    """Verifies tokens, with their validated claims cached in Redis and revocation checked there."""

    def __init__(
        self, verifier: TokenVerifier, redis: SyncRedis, *, clock: Callable[[], float] = time.time
    ) -> None:
        self._verifier = verifier
        self._redis = redis
        self._clock = clock

    def authorize(self, token: str) -> Verdict:
        verdict = self._authorize(token)
        AUTH_ATTEMPTS.labels("success" if isinstance(verdict, Identity) else "failure").inc()
        if isinstance(verdict, Unauthenticated):
            logger.info("token refused", extra={"reason": verdict.reason})
        return verdict

    def _authorize(self, token: str) -> Verdict:
        cache_key = redis_keys.claims_cache_key(token)
        cached, revoked = self._lookup(cache_key, _unverified_jti(token))
        if revoked:
            return Unauthenticated("token revoked", problem_type="token-revoked")
        if cached is not None:
            AUTH_CACHE_HITS.inc()
            identity = Identity.from_context(cached)
            if identity.expires_at + self._verifier.leeway_seconds < self._clock():
                return Unauthenticated("token expired")
            return identity
        AUTH_CACHE_MISSES.inc()
        try:
            identity = self._verifier.verify(token)
        except InvalidTokenError as error:
            return Unauthenticated(error.detail)
        self._store(cache_key, identity)
        return identity

    def _lookup(self, cache_key: str, jti: str | None) -> tuple[Mapping[str, Any] | None, bool]:
        """Cached claims and revocation in one round trip; a Redis outage only skips the cache."""
        try:
            pipeline = self._redis.pipeline(transaction=False)
            pipeline.get(cache_key)
            pipeline.exists(redis_keys.revoked_key(jti or ""))
            cached, revoked = pipeline.execute()
        except Exception:
            # The proxy checks revocation on every request and fails safe there.
            REDIS_ERRORS.labels("authorizer_lookup").inc()
            return None, False
        if jti is None:
            revoked = 0
        claims = json.loads(cached) if isinstance(cached, str) else None
        return claims, bool(revoked)

    def _store(self, cache_key: str, identity: Identity) -> None:
        ttl = redis_keys.claims_cache_ttl(identity.expires_at, self._clock())
        if ttl <= 0:
            return
        try:
            self._redis.set(cache_key, json.dumps(identity.to_context()), ex=ttl)
        except Exception:
            REDIS_ERRORS.labels("authorizer_store").inc()


def bearer_token(headers: Mapping[str, str] | None) -> str | None:
    """The token of an ``Authorization: Bearer`` header, or None."""
    value = (headers or {}).get("authorization", "")
    scheme, _, token = value.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def authorize_http_event(authorizer: Authorizer, event: Mapping[str, Any]) -> dict[str, Any]:
    """Answer an HTTP API (payload 2.0, simple response) authorizer event."""
    token = bearer_token(event.get("headers"))
    if token is None:
        AUTH_ATTEMPTS.labels("failure").inc()
        verdict: Verdict = Unauthenticated("no bearer token in the Authorization header")
    else:
        verdict = authorizer.authorize(token)
    return {"isAuthorized": True, "context": verdict.to_context()}


def _unverified_jti(token: str) -> str | None:
    """The token's ``jti`` before verification, only to look up its revocation in the same trip."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    return jti if isinstance(jti, str) else None
