"""The Lambda authorizer, with an in-memory Redis: verdicts, the claims cache, revocation, outages."""

from __future__ import annotations

import time
from typing import Any

import fakeredis
import jwt
import pytest
import redis

from bakery_gateway.authentication.authorizer import Authorizer
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.edge.authorizer_events import authorize_http_event
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import MetricReader
from tests.support.demo_sessions import start_demo_session
from tests.support.events import (
    AUTHORIZER_REQUEST,
    SAM_LOCAL_AUTHORIZER_REQUEST,
    SAM_LOCAL_STREAM_AUTHORIZER_REQUEST,
    load_event,
)

CONTEXT_VALUE_TYPES = (str, int, bool)


def authorize(authorizer: Authorizer, token: str | None) -> dict[str, Any]:
    """The authorizer's answer to the recorded REQUEST event carrying ``token``."""
    event = load_event(AUTHORIZER_REQUEST, token=token) if token else load_event(AUTHORIZER_REQUEST)
    if token is None:
        del event["headers"]["authorization"]
    return authorize_http_event(authorizer, event)


def unverified_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


class DownRedis:
    """A Redis client whose server is unreachable."""

    def pipeline(self, transaction: bool = True) -> DownRedis:
        return self

    def get(self, name: str) -> None:
        return None

    def exists(self, *names: str) -> None:
        return None

    def hgetall(self, name: str) -> None:
        return None

    def execute(self) -> list[Any]:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")

    def set(self, name: str, value: str, ex: int | None = None) -> None:
        raise redis.ConnectionError("Error 111 connecting to 127.0.0.1:6379. Connection refused.")


# --- verdicts ------------------------------------------------------------------------------------
def test_a_valid_token_is_authorized_with_the_identity_in_the_context(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", tenant_ids=["tenant-b"], roles=["admin"])
    claims = unverified_claims(token)

    answer = authorize(authorizer, token)

    assert answer["isAuthorized"] is True
    assert answer["context"] == {
        "authenticated": True,
        "user_id": "user-1",
        "tenant_id": "tenant-a",
        "tenant_ids": '["tenant-a", "tenant-b"]',
        "roles": '["admin"]',
        "jti": claims["jti"],
        "iat": claims["iat"],
        "exp": claims["exp"],
        "is_demo": False,
    }


def test_a_demo_token_puts_its_session_and_account_type_in_the_context(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_demo_session(fake_redis, "session-1", "enterprise", "demo-tenant", ("demo-outlet",))
    token = dev_keys.mint(
        user_id="demo-user",
        tenant_id="demo-tenant",
        extra_claims={"is_demo": True, "demo_session_id": "session-1", "demo_account_type": "enterprise"},
    )

    context = authorize(authorizer, token)["context"]

    assert context["is_demo"] is True
    assert context["demo_session_id"] == "session-1"
    assert context["demo_account_type"] == "enterprise"


@pytest.mark.parametrize("demo", [False, True])
def test_context_values_are_only_strings_numbers_or_booleans(
    authorizer: Authorizer, dev_keys: DevKeyPair, demo: bool, fake_redis: fakeredis.FakeRedis
) -> None:
    start_demo_session(fake_redis, "s", "professional", "tenant-a")
    extra = {"is_demo": True, "demo_session_id": "s", "demo_account_type": "professional"} if demo else {}
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", extra_claims=extra)

    for answer in (authorize(authorizer, token), authorize(authorizer, "garbage")):
        assert all(isinstance(value, CONTEXT_VALUE_TYPES) for value in answer["context"].values())


def test_an_invalid_token_passes_through_as_unauthenticated_with_its_reason(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", now=time.time() - 7200, ttl_seconds=3600)

    answer = authorize(authorizer, token)

    assert answer == {
        "isAuthorized": True,
        "context": {"authenticated": False, "reason": "token expired", "problem_type": "invalid-token"},
    }


@pytest.mark.parametrize(
    "authorization", [None, "", "Basic dXNlcjpwYXNz", "Bearer", "Bearer   ", "Token abc"]
)
def test_a_missing_or_non_bearer_authorization_is_unauthenticated(
    authorizer: Authorizer, authorization: str | None
) -> None:
    event = load_event(AUTHORIZER_REQUEST)
    if authorization is None:
        del event["headers"]["authorization"]
    else:
        event["headers"]["authorization"] = authorization

    answer = authorize_http_event(authorizer, event)

    assert answer["isAuthorized"] is True
    assert answer["context"]["authenticated"] is False
    assert answer["context"]["reason"] == "no bearer token in the Authorization header"


# --- the claims cache ----------------------------------------------------------------------------
def test_claims_are_cached_under_a_hash_of_the_token_never_the_token(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")

    authorize(authorizer, token)

    keys = fake_redis.keys("*")
    assert keys == [redis_keyspace.claims_cache_key(token)]
    signature = token.rsplit(".", 1)[1]
    for key in keys:
        stored = f"{key!s} {fake_redis.get(key)!s}"
        assert token not in stored
        assert signature not in stored
        assert token.split(".")[1] not in stored


def test_the_cache_ttl_never_outlives_the_token(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    token = dev_keys.mint(user_id="user-1", ttl_seconds=300)

    authorize(authorizer, token)

    assert 290 <= fake_redis.ttl(redis_keyspace.claims_cache_key(token)) <= 300


def test_the_cache_ttl_is_at_most_15_minutes(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    token = dev_keys.mint(user_id="user-1", ttl_seconds=24 * 3600)

    authorize(authorizer, token)

    assert 890 <= fake_redis.ttl(redis_keyspace.claims_cache_key(token)) <= 900


def test_a_refused_token_is_not_cached(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    authorize(authorizer, dev_keys.mint(user_id="user-1", token_type="refresh"))

    assert fake_redis.keys("*") == []


def test_the_second_authorization_of_a_token_is_a_cache_hit(
    authorizer: Authorizer, dev_keys: DevKeyPair, metric: MetricReader
) -> None:
    token = dev_keys.mint(user_id="user-1")
    hits, misses = metric("gateway_auth_cache_hits_total"), metric("gateway_auth_cache_misses_total")
    successes = metric("gateway_auth_attempts_total", status="success")

    first = authorize(authorizer, token)
    second = authorize(authorizer, token)

    assert second == first
    assert metric("gateway_auth_cache_misses_total") == misses + 1
    assert metric("gateway_auth_cache_hits_total") == hits + 1
    assert metric("gateway_auth_attempts_total", status="success") == successes + 2


def test_a_cache_hit_does_not_verify_the_token_again(
    verifier: TokenVerifier,
    fake_redis: fakeredis.FakeRedis,
    dev_keys: DevKeyPair,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    authorizer = Authorizer(verifier, fake_redis)
    token = dev_keys.mint(user_id="user-1")
    authorize(authorizer, token)

    def no_second_verification(token: str) -> None:
        raise AssertionError("verified a token whose claims are cached")

    monkeypatch.setattr(verifier, "verify", no_second_verification)

    assert authorize(authorizer, token)["context"]["user_id"] == "user-1"


@pytest.mark.parametrize("stored", ["[" * 5000, "not json", '{"user_id": "u"}', "[]"])
def test_an_unreadable_cached_record_is_a_miss_and_the_token_is_verified_again(
    authorizer: Authorizer, fake_redis: fakeredis.FakeRedis, dev_keys: DevKeyPair, stored: str
) -> None:
    token = dev_keys.mint(user_id="user-1")
    fake_redis.set(redis_keyspace.claims_cache_key(token), stored)

    assert authorize(authorizer, token)["context"]["user_id"] == "user-1"


def test_failures_are_counted(authorizer: Authorizer, metric: MetricReader) -> None:
    failures = metric("gateway_auth_attempts_total", status="failure")

    authorize(authorizer, "not-a-token")
    authorize(authorizer, None)

    assert metric("gateway_auth_attempts_total", status="failure") == failures + 2


def test_cached_claims_of_a_token_that_has_since_expired_are_refused(
    verifier: TokenVerifier, fake_redis: fakeredis.FakeRedis, dev_keys: DevKeyPair
) -> None:
    # GIVEN a token whose claims were cached while it was valid
    now = time.time()
    token = dev_keys.mint(user_id="user-1", ttl_seconds=60, now=now)
    authorize(Authorizer(verifier, fake_redis, clock=lambda: now), token)

    # WHEN it is presented after its expiry and the leeway, with the cache entry still there
    later = Authorizer(verifier, fake_redis, clock=lambda: now + 60 + verifier.leeway_seconds + 1)
    context = authorize(later, token)["context"]

    # THEN it is refused
    assert context == {"authenticated": False, "reason": "token expired", "problem_type": "invalid-token"}


# --- revocation ----------------------------------------------------------------------------------
def test_a_revoked_token_is_unauthenticated_with_the_revoked_problem_type(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    token = dev_keys.mint(user_id="user-1")
    fake_redis.set(redis_keyspace.revoked_key(unverified_claims(token)["jti"]), "1", ex=3600)

    context = authorize(authorizer, token)["context"]

    assert context == {"authenticated": False, "reason": "token revoked", "problem_type": "token-revoked"}


def test_a_token_revoked_after_its_claims_were_cached_is_refused(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    token = dev_keys.mint(user_id="user-1")
    assert authorize(authorizer, token)["context"]["authenticated"] is True

    fake_redis.set(redis_keyspace.revoked_key(unverified_claims(token)["jti"]), "1", ex=3600)

    assert authorize(authorizer, token)["context"]["problem_type"] == "token-revoked"


# --- Redis outage --------------------------------------------------------------------------------
def test_with_redis_down_a_valid_token_is_still_verified(
    verifier: TokenVerifier, dev_keys: DevKeyPair, metric: MetricReader
) -> None:
    errors = metric("gateway_redis_errors_total", operation="authorizer_lookup")

    answer = authorize(Authorizer(verifier, DownRedis()), dev_keys.mint(user_id="user-1"))

    assert answer["context"]["authenticated"] is True
    assert answer["context"]["user_id"] == "user-1"
    assert metric("gateway_redis_errors_total", operation="authorizer_lookup") == errors + 1


def test_with_redis_down_an_invalid_token_is_still_refused(
    verifier: TokenVerifier, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", token_type="refresh")

    context = authorize(Authorizer(verifier, DownRedis()), token)["context"]

    assert context["authenticated"] is False


# --- a token in the query string: the alert stream only (EventSource cannot set headers) ----------
def event_with_query_token(token: str, route_key: str) -> dict[str, Any]:
    event = load_event(AUTHORIZER_REQUEST, route_key=route_key, query=f"token={token}&tenant_id=tenant-a")
    del event["headers"]["authorization"]
    return event


def test_the_alert_stream_accepts_a_token_from_the_query_string(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")

    answer = authorize_http_event(authorizer, event_with_query_token(token, "GET /api/v1/alerts/stream"))

    assert answer["context"]["authenticated"] is True
    assert answer["context"]["user_id"] == "user-1"


def test_other_routes_never_take_a_token_from_the_query_string(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")

    answer = authorize_http_event(authorizer, event_with_query_token(token, "ANY /api/v1/{proxy+}"))

    assert answer["context"]["authenticated"] is False


# --- events from SAM's emulator (`sam local start-api`) ---------------------------------------------


def test_a_token_in_the_authorization_header_as_sams_emulator_spells_it_is_verified(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    event = load_event(SAM_LOCAL_AUTHORIZER_REQUEST, token=dev_keys.mint(user_id="user-1"))
    assert "Authorization" in event["headers"]

    answer = authorize_http_event(authorizer, event)

    assert answer["context"]["authenticated"] is True
    assert answer["context"]["user_id"] == "user-1"


def test_a_query_token_on_the_stream_route_as_sams_emulator_sends_it_is_verified(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id="bakery-1")
    event = load_event(SAM_LOCAL_STREAM_AUTHORIZER_REQUEST, query=f"tenant_id=bakery-1&token={token}")
    assert event["identitySource"] == [], "SAM names no identity source for StreamTokenAuthorizer"

    answer = authorize_http_event(authorizer, event)

    assert answer["context"]["authenticated"] is True
