"""Revocation at logout: what a logout asks of its policy round trip, and the policy function's check.

(That the script writes it, whatever the budgets, is in test_policy_engine.py.)
"""

from __future__ import annotations

import time
from typing import cast

import fakeredis
import pytest

from bakery_gateway.api.identity import Identity
from bakery_gateway.authentication.revocation import AsyncRedis, is_revoked, logout_revocation
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import RedisUnavailableError

NOW = time.time()


def store(fake: fakeredis.FakeAsyncRedis) -> AsyncRedis:
    """The fake as the revocation functions see it (its stubs type replies more loosely)."""
    return cast(AsyncRedis, fake)


@pytest.fixture
def fake_redis() -> fakeredis.FakeAsyncRedis:
    return fakeredis.FakeAsyncRedis(decode_responses=True)


def caller(expires_in: int) -> Identity:
    return Identity("user-1", "tenant-a", ("tenant-a",), ("owner",), "jti-1", int(NOW), int(NOW) + expires_in)


def test_a_logout_revokes_until_the_token_has_expired_past_the_leeway() -> None:
    revocation = logout_revocation(caller(600), None, leeway_seconds=30, now=NOW)

    assert 625 <= revocation.ttl_seconds <= 631


def test_a_logout_forgets_the_tokens_cached_claims() -> None:
    revocation = logout_revocation(caller(60), "the.token.value", leeway_seconds=0, now=NOW)

    assert revocation.claims_cache_key == redis_keyspace.claims_cache_key("the.token.value")


def test_a_logout_of_an_already_expired_token_still_revokes_it_briefly() -> None:
    assert logout_revocation(caller(-3600), None, leeway_seconds=30, now=NOW).ttl_seconds >= 1


async def test_a_revoked_jti_is_revoked(fake_redis: fakeredis.FakeAsyncRedis) -> None:
    await fake_redis.set(redis_keyspace.revoked_key("jti-1"), "1")

    assert await is_revoked(store(fake_redis), "jti-1")


async def test_an_unrevoked_jti_is_not_revoked(fake_redis: fakeredis.FakeAsyncRedis) -> None:
    assert not await is_revoked(store(fake_redis), "jti-1")


async def test_a_failed_check_is_reported_as_redis_unavailable() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    down = fakeredis.FakeAsyncRedis(server=server)

    with pytest.raises(RedisUnavailableError):
        await is_revoked(store(down), "jti-1")


def test_claims_cache_keys_hash_the_token() -> None:
    key = redis_keyspace.claims_cache_key("header.payload.signature")

    assert key.startswith(redis_keyspace.CLAIMS_CACHE_PREFIX)
    assert "payload" not in key
    assert len(key) == len(redis_keyspace.CLAIMS_CACHE_PREFIX) + 64


@pytest.mark.parametrize(("expires_in", "ttl"), [(60, 60), (900, 900), (3600, 900), (0, 0), (-5, 0)])
def test_the_claims_cache_ttl_is_the_shorter_of_15_minutes_and_the_tokens_life(
    expires_in: int, ttl: int
) -> None:
    assert redis_keyspace.claims_cache_ttl(1000 + expires_in, 1000) == ttl
