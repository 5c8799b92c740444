"""The authorizer against a real Redis: the claims cache, revocation, and Redis being down."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
import redis

from bakery_gateway.authentication.authorizer import Authorizer
from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import sync_redis
from bakery_gateway.edge.authorizer_events import authorize_http_event
from bakery_gateway.settings import JwtSettings, RedisSettings
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import MetricReader
from tests.support.events import AUTHORIZER_REQUEST, load_event
from tests.support.redis_server import RedisEndpoint


@pytest.fixture
def verifier(dev_keys: DevKeyPair) -> TokenVerifier:
    return TokenVerifier(parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS"), JwtSettings())


@pytest.fixture
def authorizer(verifier: TokenVerifier, redis_server: RedisEndpoint, redis_client: redis.Redis) -> Authorizer:
    """An authorizer with the client the function makes (clients.sync_redis), on the tests' database."""
    settings = RedisSettings(host=redis_server.host, port=redis_server.port, db=redis_server.db)
    return Authorizer(verifier, sync_redis(settings))


def context_for(authorizer: Authorizer, token: str) -> dict[str, Any]:
    context: dict[str, Any] = authorize_http_event(authorizer, load_event(AUTHORIZER_REQUEST, token=token))[
        "context"
    ]
    return context


def jti_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def test_claims_are_cached_under_the_token_hash_with_a_ttl_within_the_tokens_life(
    authorizer: Authorizer, dev_keys: DevKeyPair, redis_client: redis.Redis
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", ttl_seconds=600)

    context_for(authorizer, token)

    assert redis_client.keys("*") == [redis_keyspace.claims_cache_key(token)]
    assert 590 <= redis_client.ttl(redis_keyspace.claims_cache_key(token)) <= min(900, 600)
    assert token not in str(redis_client.get(redis_keyspace.claims_cache_key(token)))


def test_a_long_lived_token_is_cached_for_at_most_15_minutes(
    authorizer: Authorizer, dev_keys: DevKeyPair, redis_client: redis.Redis
) -> None:
    token = dev_keys.mint(user_id="user-1", ttl_seconds=7200)

    context_for(authorizer, token)

    assert 890 <= redis_client.ttl(redis_keyspace.claims_cache_key(token)) <= 900


def test_the_second_authorization_is_answered_from_the_cache(
    authorizer: Authorizer, dev_keys: DevKeyPair, metric: MetricReader
) -> None:
    token = dev_keys.mint(user_id="user-1")
    hits, misses = metric("gateway_auth_cache_hits_total"), metric("gateway_auth_cache_misses_total")
    successes = metric("gateway_auth_attempts_total", status="success")

    first, second = context_for(authorizer, token), context_for(authorizer, token)

    assert first == second
    assert first["authenticated"] is True
    assert metric("gateway_auth_cache_misses_total") == misses + 1
    assert metric("gateway_auth_cache_hits_total") == hits + 1
    assert metric("gateway_auth_attempts_total", status="success") == successes + 2


def test_a_revoked_jti_is_unauthenticated_as_token_revoked(
    authorizer: Authorizer, dev_keys: DevKeyPair, redis_client: redis.Redis, metric: MetricReader
) -> None:
    token = dev_keys.mint(user_id="user-1")
    redis_client.set(redis_keyspace.revoked_key(jti_of(token)), "1", ex=60)
    failures = metric("gateway_auth_attempts_total", status="failure")

    context = context_for(authorizer, token)

    assert context == {"authenticated": False, "reason": "token revoked", "problem_type": "token-revoked"}
    assert metric("gateway_auth_attempts_total", status="failure") == failures + 1


def test_an_invalid_token_is_unauthenticated_and_not_cached(
    authorizer: Authorizer, dev_keys: DevKeyPair, redis_client: redis.Redis
) -> None:
    token = dev_keys.mint(user_id="user-1", now=time.time() - 7200, ttl_seconds=3600)

    context = context_for(authorizer, token)

    assert context["authenticated"] is False
    assert context["reason"] == "token expired"
    assert redis_client.keys("*") == []


def test_with_redis_down_tokens_are_still_verified_without_an_exception(
    verifier: TokenVerifier, dev_keys: DevKeyPair, closed_port: int, metric: MetricReader
) -> None:
    # GIVEN the function's Redis client pointed at a port nothing listens on
    down = sync_redis(RedisSettings(host="127.0.0.1", port=closed_port, timeout_seconds=0.2))
    authorizer = Authorizer(verifier, down)
    lookups, stores = (
        metric("gateway_redis_errors_total", operation="authorizer_lookup"),
        metric("gateway_redis_errors_total", operation="authorizer_store"),
    )

    # WHEN a valid and an invalid token arrive
    started = time.perf_counter()
    good = context_for(authorizer, dev_keys.mint(user_id="user-1"))
    bad = context_for(authorizer, dev_keys.mint(user_id="user-1", token_type="refresh"))

    # THEN both are judged, quickly, and the outage is counted
    assert good["authenticated"] is True
    assert bad["authenticated"] is False
    assert time.perf_counter() - started < 2
    assert metric("gateway_redis_errors_total", operation="authorizer_lookup") == lookups + 2
    assert metric("gateway_redis_errors_total", operation="authorizer_store") == stores + 1
