"""Revocation of access tokens at logout: a token id stays refused until the token expires.

A logout revokes in its request's one policy round trip: ``policy.lua`` writes
``gw:auth:revoked:{jti}`` and forgets the token's cached claims before it looks at any budget, so
a drained budget cannot keep a logout from landing (``Revocation`` is what the proxy asks of it).
The proxy reads the same key on every request, the authorizer with its claims cache, and the policy
function through ``is_revoked``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bakery_gateway.api.identity import Identity
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.telemetry.observability import REDIS_ERRORS


class AsyncRedis(Protocol):
    async def exists(self, *names: str) -> int: ...


@dataclass(frozen=True, slots=True)
class Revocation:
    """What a logout asks of its policy round trip: refuse the caller's token id for
    ``ttl_seconds`` (until the token expires, plus the verifier's leeway), and forget the token's
    cached claims."""

    ttl_seconds: int
    claims_cache_key: str | None = None


def logout_revocation(
    identity: Identity, token: str | None, *, leeway_seconds: int, now: float
) -> Revocation:
    """The revocation of the token ``identity`` was read from (``token``, when the request has it)."""
    return Revocation(
        ttl_seconds=redis_keyspace.revocation_ttl(identity.expires_at, now, leeway_seconds),
        claims_cache_key=redis_keyspace.claims_cache_key(token) if token else None,
    )


async def is_revoked(redis: AsyncRedis, jti: str) -> bool:
    """Whether ``jti`` was revoked; ``RedisUnavailableError`` when Redis cannot say."""
    try:
        return bool(await redis.exists(redis_keyspace.revoked_key(jti)))
    except Exception as error:  # redis-py raises several unrelated types for one outage
        REDIS_ERRORS.labels("revocation_check").inc()
        raise RedisUnavailableError("revocation check failed") from error
