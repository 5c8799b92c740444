"""The authorizer function's real handler, cold-started from its environment, on recorded events."""

from __future__ import annotations

import redis

from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import AUTHORIZER_REQUEST, load_event
from tests.support.lambda_gateway import LambdaGateway


def test_a_recorded_request_event_with_a_valid_token_is_authorized_with_its_identity(
    gateway: LambdaGateway, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", roles=["admin"])

    answer = gateway.invoke_authorizer(load_event(AUTHORIZER_REQUEST, token=token), [token])

    assert answer["isAuthorized"] is True
    assert answer["context"]["authenticated"] is True
    assert answer["context"]["user_id"] == "user-1"
    assert answer["context"]["tenant_id"] == "tenant-a"
    assert answer["context"]["roles"] == '["admin"]'


def test_a_recorded_request_event_with_a_bad_token_passes_through_unauthenticated(
    gateway: LambdaGateway,
) -> None:
    answer = gateway.invoke_authorizer(load_event(AUTHORIZER_REQUEST, token="eyJhbGciOiJub25lIn0.e30."))

    assert answer["isAuthorized"] is True
    assert answer["context"]["authenticated"] is False
    assert answer["context"]["reason"]


def test_a_recorded_request_event_without_a_token_is_unauthenticated(gateway: LambdaGateway) -> None:
    event = load_event(AUTHORIZER_REQUEST, identitySource=[])
    del event["headers"]["authorization"]

    answer = gateway.invoke_authorizer(event)

    assert answer["context"] == {
        "authenticated": False,
        "reason": "no bearer token in the Authorization header",
        "problem_type": "invalid-token",
    }


def test_the_function_caches_claims_in_the_configured_redis(
    gateway: LambdaGateway, dev_keys: DevKeyPair, redis_client: redis.Redis
) -> None:
    token = dev_keys.mint(user_id="user-1", ttl_seconds=120)

    gateway.authorize(token)

    assert 110 <= redis_client.ttl(redis_keyspace.claims_cache_key(token)) <= 120
