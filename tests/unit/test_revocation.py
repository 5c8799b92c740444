"""Revocation at logout: the jti is refused until the token expires; a Redis failure is reported."""

from __future__ import annotations

import time
from typing import cast

import fakeredis
import pytest

from bakery_gateway import redis_keys
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.revocation import AsyncRedis, is_revoked, revoke


def store(fake: fakeredis.FakeAsyncRedis) -> AsyncRedis:
    """The fake as the revocation functions see it (its stubs type replies more loosely)."""
    return cast(AsyncRedis, fake)


@pytest.fixture
def fake_redis() -> fakeredis.FakeAsyncRedis:
    return fakeredis.FakeAsyncRedis(decode_responses=True)


async def test_a_revoked_jti_is_kept_until_the_token_has_expired_past_the_leeway(
    fake_redis: fakeredis.FakeAsyncRedis,
) -> None:
    await revoke(
        store(fake_redis), jti="jti-1", expires_at=int(time.time()) + 600, token=None, leeway_seconds=30
    )

    assert await is_revoked(store(fake_redis), "jti-1")
    assert 625 <= await fake_redis.ttl(redis_keys.revoked_key("jti-1")) <= 631


async def test_an_unrevoked_jti_is_not_revoked(fake_redis: fakeredis.FakeAsyncRedis) -> None:
    assert not await is_revoked(store(fake_redis), "jti-1")


async def test_revoking_forgets_the_tokens_cached_claims(fake_redis: fakeredis.FakeAsyncRedis) -> None:
    await fake_redis.set(redis_keys.claims_cache_key("the.token.value"), "{}")

    await revoke(
        store(fake_redis),
        jti="jti-1",
        expires_at=int(time.time()) + 60,
        token="the.token.value",
        leeway_seconds=0,
    )

    assert await fake_redis.exists(redis_keys.claims_cache_key("the.token.value")) == 0


async def test_revoking_an_already_expired_token_still_stores_a_short_revocation(
    fake_redis: fakeredis.FakeAsyncRedis,
) -> None:
    await revoke(
        store(fake_redis), jti="jti-1", expires_at=int(time.time()) - 3600, token=None, leeway_seconds=30
    )

    assert await fake_redis.ttl(redis_keys.revoked_key("jti-1")) >= 1


async def test_a_failed_check_is_reported_as_redis_unavailable() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    down = fakeredis.FakeAsyncRedis(server=server)

    with pytest.raises(RedisUnavailableError):
        await is_revoked(store(down), "jti-1")
    with pytest.raises(RedisUnavailableError):
        await revoke(store(down), jti="jti-1", expires_at=int(time.time()) + 60, token=None, leeway_seconds=0)


def test_claims_cache_keys_hash_the_token() -> None:
    key = redis_keys.claims_cache_key("header.payload.signature")

    assert key.startswith(redis_keys.CLAIMS_CACHE_PREFIX)
    assert "payload" not in key
    assert len(key) == len(redis_keys.CLAIMS_CACHE_PREFIX) + 64


@pytest.mark.parametrize(("expires_in", "ttl"), [(60, 60), (900, 900), (3600, 900), (0, 0), (-5, 0)])
def test_the_claims_cache_ttl_is_the_shorter_of_15_minutes_and_the_tokens_life(
    expires_in: int, ttl: int
) -> None:
    assert redis_keys.claims_cache_ttl(1000 + expires_in, 1000) == ttl
