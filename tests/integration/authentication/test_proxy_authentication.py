"""The proxy function refuses what the authorizer refused, re-checks expiry and revocation, and logs out."""

from __future__ import annotations

import time

import jwt
import pytest
import redis

from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.stub_service import StubService

OLD_DEMO_ACCOUNT_TYPES = ["individual_bakery", "professional_bakery", "central_baker", "enterprise_chain"]


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a", ttl_seconds=600)


def jti_of(token: str) -> str:
    return str(jwt.decode(token, options={"verify_signature": False})["jti"])


def assert_unauthorized(response: ProxyResponse, problem_type: str = "invalid-token") -> str:
    """A 401 problem with a Bearer invalid_token challenge; returns its detail."""
    problem = assert_problem(response, 401, problem_type)
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    return str(problem["detail"])


# --- refused before anything else ----------------------------------------------------------------
def test_an_unauthenticated_context_is_answered_401_and_reaches_no_service(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair
) -> None:
    expired = dev_keys.mint(user_id="user-1", now=time.time() - 7200, ttl_seconds=3600)

    response = gateway.request("GET", "/api/v1/sales/", token=expired, headers={"x-request-id": "req-401"})

    assert assert_unauthorized(response) == "token expired"
    assert response.headers["www-authenticate"] == (
        'Bearer error="invalid_token", error_description="token expired"'
    )
    assert response.json()["instance"] == "req-401"
    assert stub_service.requests == []


def test_a_request_without_a_token_is_answered_401(gateway: LambdaGateway, stub_service: StubService) -> None:
    # API Gateway answers 401 itself (no identity source); the proxy fails closed on its own too.
    response = gateway.request("GET", "/api/v1/sales/", without_authorizer=True)

    assert "no bearer token" in assert_unauthorized(response)
    assert stub_service.requests == []


def test_a_forged_token_is_answered_401(gateway: LambdaGateway, second_dev_keys: DevKeyPair) -> None:
    assert_unauthorized(
        gateway.request("GET", "/api/v1/sales/", token=second_dev_keys.mint(user_id="intruder"))
    )


def test_a_refresh_token_is_answered_401(gateway: LambdaGateway, dev_keys: DevKeyPair) -> None:
    refresh = dev_keys.mint(user_id="user-1", token_type="refresh")

    assert (
        assert_unauthorized(gateway.request("GET", "/api/v1/sales/", token=refresh)) == "not an access token"
    )


@pytest.mark.parametrize("old_name", OLD_DEMO_ACCOUNT_TYPES)
def test_a_demo_token_with_an_old_account_type_is_answered_401_naming_the_valid_types(
    gateway: LambdaGateway, stub_service: StubService, dev_keys: DevKeyPair, old_name: str
) -> None:
    token = dev_keys.mint(
        user_id="demo-user",
        tenant_id="demo-tenant",
        extra_claims={"is_demo": True, "demo_session_id": "session-1", "demo_account_type": old_name},
    )

    response = gateway.request("GET", "/api/v1/sales/", token=token)

    detail = assert_unauthorized(response, "invalid-demo-account-type")
    assert detail == "demo_account_type must be one of professional, enterprise"
    assert stub_service.requests == []


def test_an_expired_token_in_a_cached_authenticated_context_is_answered_401(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    # GIVEN the verdict API Gateway cached while the token was valid, now past its expiry
    cached = gateway.context_for(token)
    cached["exp"] = int(time.time()) - 3600

    # WHEN it is used again
    response = gateway.request("GET", "/api/v1/sales/", token=token, context=cached)

    # THEN the proxy refuses it on its own
    assert assert_unauthorized(response) == "token expired"
    assert stub_service.requests == []


def test_public_routes_need_no_token(gateway: LambdaGateway, stub_service: StubService) -> None:
    response = gateway.request("POST", "/api/v1/auth/login", body='{"email": "a@b.c", "password": "x"}')

    assert response.status == 200
    assert stub_service.last_request.path == "/auth-svc/api/v1/auth/login"
    assert "x-user-id" not in stub_service.last_request.header_names


# --- logout and revocation -----------------------------------------------------------------------
def test_logout_is_forwarded_to_the_auth_service(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway.request("POST", "/api/v1/auth/logout", token=token)

    assert response.status == 200
    assert stub_service.last_request.method == "POST"
    assert stub_service.last_request.path == "/auth-svc/api/v1/auth/logout"
    assert stub_service.last_request.header("x-user-id") == "user-1"


def test_logout_revokes_the_jti_until_the_token_expires_and_forgets_its_cached_claims(
    gateway: LambdaGateway, redis_client: redis.Redis, token: str
) -> None:
    context = gateway.context_for(token)
    assert redis_client.exists(redis_keyspace.claims_cache_key(token))

    gateway.request("POST", "/api/v1/auth/logout", token=token, context=context)

    ttl = redis_client.ttl(redis_keyspace.revoked_key(jti_of(token)))
    assert 600 - 5 <= ttl <= 600 + 30 + 1  # the token's remaining life, plus the verifier's leeway
    assert not redis_client.exists(redis_keyspace.claims_cache_key(token))


def test_a_logged_out_token_reused_with_the_same_cached_context_is_answered_401(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    # GIVEN a verdict API Gateway keeps in its authorizer cache, and a logout made with it
    cached = gateway.context_for(token)
    assert gateway.request("POST", "/api/v1/auth/logout", token=token, context=cached).status == 200
    requests_before = len(stub_service.requests)

    # WHEN the same cached verdict comes back with a read and a write
    read = gateway.request("GET", "/api/v1/sales/", token=token, context=cached)
    write = gateway.request("POST", "/api/v1/sales/orders", token=token, context=cached, body="{}")

    # THEN both are refused as revoked, and no service sees them
    assert assert_unauthorized(read, "token-revoked") == "token revoked"
    assert_unauthorized(write, "token-revoked")
    assert len(stub_service.requests) == requests_before


@pytest.mark.parametrize("path", ["/api/v1/auth/logout/", "/api/v1/auth/%6cogout"])
def test_a_logout_spelled_another_way_revokes_too(
    gateway: LambdaGateway, stub_service: StubService, token: str, path: str
) -> None:
    gateway.request("POST", path, token=token)

    response = gateway.request("GET", "/api/v1/sales/", token=token)

    assert stub_service.requests[0].path == f"/auth-svc{path}"
    assert_unauthorized(response, "token-revoked")


def test_a_logged_out_token_is_refused_by_the_authorizer_too(gateway: LambdaGateway, token: str) -> None:
    gateway.request("POST", "/api/v1/auth/logout", token=token)

    response = gateway.request("GET", "/api/v1/sales/", token=token)

    assert_unauthorized(response, "token-revoked")
