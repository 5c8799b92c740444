"""The authenticated request path through the local runtime: client → authorizer → proxy → service."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import httpx
import jwt
import pytest

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.conftest import ALLOWED_ORIGIN, DEAD_SERVICE, READ_TIMEOUT_SECONDS, SLOW_SERVICE
from tests.e2e.runtime import RunningGateway
from tests.support.stub_service import StubService

ECHOED_SERVICES = [service for service in names.SERVICES if service not in (DEAD_SERVICE, SLOW_SERVICE)]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="bakery-1", tenant_ids=["bakery-1", "bakery-2"])


@pytest.mark.parametrize("service", ECHOED_SERVICES)
def test_each_service_route_reaches_its_own_url(
    gateway: RunningGateway, received: StubService, token: str, service: str
) -> None:
    # Under /api/v1/tenants/ the next segment names a tenant, which must be one of the token's.
    path = "/api/v1/tenants/bakery-1/members" if service == "tenants" else f"/api/v1/{service}/things/42"

    response = httpx.get(f"{gateway.url}{path}", headers=bearer(token))

    assert response.status_code == 200
    assert received.last_request.path == f"/{service}-svc{path}"


def test_the_tenant_scoped_form_reaches_the_service_it_names(
    gateway: RunningGateway, received: StubService, token: str
) -> None:
    response = httpx.get(f"{gateway.url}/api/v1/tenants/bakery-2/orders/7", headers=bearer(token))

    assert response.status_code == 200
    assert received.last_request.path == "/orders-svc/api/v1/tenants/bakery-2/orders/7"
    assert received.last_request.header("x-tenant-id") == "bakery-2"


def test_identity_headers_are_injected_and_client_copies_never_arrive(
    gateway: RunningGateway, received: StubService, token: str
) -> None:
    forged = {"X-User-ID": "admin", "X-User-Roles": "platform_admin", "X-Demo-Session-Id": "forged"}

    httpx.get(f"{gateway.url}/api/v1/sales/items", headers={**bearer(token), **forged})

    request = received.last_request
    assert request.header_values("x-user-id") == ["user-1"]
    assert request.header_values("x-tenant-id") == ["bakery-1"]
    assert request.header_values("x-user-roles") == ["owner"]
    assert request.header("x-demo-session-id") is None


def test_repeated_query_keys_arrive_in_order(
    gateway: RunningGateway, received: StubService, token: str
) -> None:
    httpx.get(f"{gateway.url}/api/v1/sales/items?day=mon&day=tue&q=a%20b", headers=bearer(token))

    assert received.last_request.query == "day=mon&day=tue&q=a%20b"


def test_a_binary_body_arrives_byte_for_byte(
    gateway: RunningGateway, received: StubService, token: str
) -> None:
    body = bytes(range(256)) * 8

    response = httpx.post(
        f"{gateway.url}/api/v1/pos/uploads",
        headers={**bearer(token), "Content-Type": "application/octet-stream"},
        content=body,
    )

    assert response.status_code == 200
    assert received.last_request.body == body


def test_a_binary_answer_comes_back_byte_for_byte(
    gateway: RunningGateway, received: StubService, token: str
) -> None:
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    received.reply(200, [("Content-Type", "image/png")], image)

    response = httpx.get(f"{gateway.url}/api/v1/recipes/photo.png", headers=bearer(token))

    assert response.content == image
    assert response.headers["content-type"] == "image/png"


def test_cookies_go_to_the_service_and_every_set_cookie_comes_back(
    gateway: RunningGateway, received: StubService, token: str
) -> None:
    received.reply(200, [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; HttpOnly")], b"{}")

    response = httpx.get(
        f"{gateway.url}/api/v1/auth/me", headers={**bearer(token), "Cookie": "session=s1; theme=dark"}
    )

    assert response.headers.get_list("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert received.last_request.header("cookie") == "session=s1; theme=dark"


def test_repeated_request_headers_arrive_combined(
    gateway: RunningGateway, received: StubService, token: str
) -> None:
    headers = [("Authorization", f"Bearer {token}"), ("Accept-Language", "es"), ("Accept-Language", "en")]

    httpx.get(f"{gateway.url}/api/v1/sales/items", headers=headers)

    assert received.last_request.header("accept-language") == "es,en"


def test_the_request_id_is_echoed_and_sent_downstream(
    gateway: RunningGateway, received: StubService, token: str
) -> None:
    response = httpx.get(
        f"{gateway.url}/api/v1/sales/items", headers={**bearer(token), "X-Request-ID": "pos-77"}
    )

    assert response.headers["x-request-id"] == "pos-77"
    assert received.last_request.header("x-request-id") == "pos-77"


def _refused_tokens(dev_keys: DevKeyPair, stranger: DevKeyPair) -> dict[str, str]:
    now = int(time.time())
    claims = {
        "sub": "user-1",
        "tenant_id": "bakery-1",
        "jti": "j-1",
        "iat": now,
        "exp": now + 600,
        "type": "access",
    }
    header = base64.urlsafe_b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()).rstrip(b"=")
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=")
    signature = hmac.new(dev_keys.public_pem, header + b"." + payload, hashlib.sha256).digest()
    hs256_with_public_key = b".".join([header, payload, base64.urlsafe_b64encode(signature).rstrip(b"=")])
    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    return {
        "expired": dev_keys.mint(user_id="user-1", tenant_id="bakery-1", now=now - 7200, ttl_seconds=600),
        "not yet valid": dev_keys.mint(
            user_id="user-1", tenant_id="bakery-1", extra_claims={"nbf": now + 3600}
        ),
        "wrong key": jwt.encode(
            claims, stranger.private_pem, algorithm="RS256", headers={"kid": dev_keys.key_id}
        ),
        "alg none": (none_header + b"." + payload + b".").decode(),
        "HS256 signed with the public key": hs256_with_public_key.decode(),
        "refresh token": dev_keys.mint(user_id="user-1", tenant_id="bakery-1", token_type="refresh"),
        "malformed": "not-a-jwt",
    }


@pytest.mark.parametrize(
    "kind",
    [
        "expired",
        "not yet valid",
        "wrong key",
        "alg none",
        "HS256 signed with the public key",
        "refresh token",
        "malformed",
    ],
)
def test_a_bad_token_is_refused_with_a_401_problem(
    gateway: RunningGateway,
    received: StubService,
    dev_keys: DevKeyPair,
    second_dev_keys: DevKeyPair,
    kind: str,
) -> None:
    bad_token = _refused_tokens(dev_keys, second_dev_keys)[kind]

    response = httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(bad_token))

    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"].startswith('Bearer error="invalid_token"')
    assert response.json()["instance"] == response.headers["x-request-id"]
    assert bad_token not in response.text
    assert received.requests == []


def test_a_request_without_authorization_gets_api_gateways_401_without_invoking_the_authorizer(
    gateway: RunningGateway,
) -> None:
    before = gateway.status()["authorizer_invocations"]

    response = httpx.get(f"{gateway.url}/api/v1/sales/items")

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert gateway.status()["authorizer_invocations"] == before


def test_the_authorizer_runs_once_per_token_within_the_cache_ttl(
    gateway: RunningGateway, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-cached", tenant_id="bakery-1")
    before = gateway.status()["authorizer_invocations"]
    assert isinstance(before, int)

    for _ in range(3):
        assert httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(token)).status_code == 200

    assert gateway.status()["authorizer_invocations"] == before + 1


def test_a_token_is_refused_right_after_logout_though_its_authorization_is_cached(
    gateway: RunningGateway, received: StubService, dev_keys: DevKeyPair
) -> None:
    token = dev_keys.mint(user_id="user-leaving", tenant_id="bakery-1")
    assert httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(token)).status_code == 200

    logout = httpx.post(f"{gateway.url}/api/v1/auth/logout", headers=bearer(token))
    after = httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(token))

    assert logout.status_code == 200
    assert received.requests[-1].path == "/auth-svc/api/v1/auth/logout"
    assert after.status_code == 401
    assert after.json()["detail"] == "token revoked"


def test_public_routes_need_no_token(gateway: RunningGateway, received: StubService) -> None:
    login = httpx.post(f"{gateway.url}/api/v1/auth/login", json={"email": "a@b.example", "password": "x"})
    health = httpx.get(f"{gateway.url}/health")

    assert login.status_code == 200
    assert received.last_request.header("x-user-id") is None
    assert health.json()["status"] == "healthy"
    assert health.json()["redis"] == "connected"


def test_a_dead_service_gives_a_503_problem(gateway: RunningGateway, token: str) -> None:
    response = httpx.get(f"{gateway.url}/api/v1/{DEAD_SERVICE}/runs", headers=bearer(token))

    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"


def test_a_slow_service_gives_a_504_problem_within_the_configured_timeout(
    gateway: RunningGateway, token: str
) -> None:
    started = time.monotonic()
    response = httpx.get(f"{gateway.url}/api/v1/{SLOW_SERVICE}/weather", headers=bearer(token), timeout=30)
    elapsed = time.monotonic() - started

    assert response.status_code == 504
    assert response.json()["title"] == "Service timed out"
    # The read timeout plus the connect allowance, far below the stub's own delay.
    assert elapsed < READ_TIMEOUT_SECONDS + 2


def test_a_body_over_the_limit_gets_413(gateway: RunningGateway, received: StubService, token: str) -> None:
    response = httpx.post(
        f"{gateway.url}/api/v1/sales/import", headers=bearer(token), content=b"x" * (65 * 1024)
    )

    assert response.status_code == 413
    assert received.requests == []


def test_an_unknown_service_gets_a_404_problem(gateway: RunningGateway, token: str) -> None:
    response = httpx.get(f"{gateway.url}/api/v1/bakeries-of-mars/1", headers=bearer(token))

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


def test_a_preflight_from_an_allowed_origin_is_answered_by_the_api(gateway: RunningGateway) -> None:
    response = httpx.options(
        f"{gateway.url}/api/v1/sales/items",
        headers={"Origin": ALLOWED_ORIGIN, "Access-Control-Request-Method": "POST"},
    )

    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN


def test_an_origin_not_configured_is_never_echoed(gateway: RunningGateway, token: str) -> None:
    response = httpx.get(
        f"{gateway.url}/api/v1/sales/items", headers={**bearer(token), "Origin": "https://evil.example"}
    )

    assert "access-control-allow-origin" not in response.headers
