"""Revocation of access tokens at logout: a token id stays refused until the token expires."""

from __future__ import annotations

import time
from typing import Protocol

from bakery_gateway import redis_keys
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.observability import REDIS_ERRORS


class AsyncRedis(Protocol):
    async def exists(self, *names: str) -> int: ...
    async def set(self, name: str, value: str, ex: int | None = None) -> object: ...
    async def delete(self, *names: str) -> int: ...


async def is_revoked(redis: AsyncRedis, jti: str) -> bool:
    """Whether ``jti`` was revoked; ``RedisUnavailableError`` when Redis cannot say."""
    try:
        return bool(await redis.exists(redis_keys.revoked_key(jti)))
    except Exception as error:  # redis-py raises several unrelated types for one outage
        REDIS_ERRORS.labels("revocation_check").inc()
        raise RedisUnavailableError("revocation check failed") from error


async def revoke(
    redis: AsyncRedis, *, jti: str, expires_at: int, token: str | None, leeway_seconds: int
) -> None:
    """Refuse ``jti`` until it expires, and forget the token's cached claims."""
    try:
        ttl = redis_keys.revocation_ttl(expires_at, time.time(), leeway_seconds)
        await redis.set(redis_keys.revoked_key(jti), "1", ex=ttl)
        if token:
            await redis.delete(redis_keys.claims_cache_key(token))
    except Exception as error:
        REDIS_ERRORS.labels("revoke").inc()
        raise RedisUnavailableError("revocation could not be stored") from error
