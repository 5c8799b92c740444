"""Policy administration over real sockets: the local runtime routes it to the policy function, and the
proxy enforces what it changed on the very next request."""

from __future__ import annotations

import uuid
from typing import Any, cast

import httpx
import pytest

from bakery_local.dev_tokens import DevKeyPair
from tests.e2e.runtime import RunningGateway
from tests.support.stub_service import StubService

PUSH = "/api/v1/internal/subscription-events"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def admin_token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="ops-1", roles=["platform_admin"])


@pytest.fixture
def user_token(dev_keys: DevKeyPair, tenant: str) -> str:
    return dev_keys.mint(user_id=f"user-{uuid.uuid4().hex[:8]}", tenant_id=tenant)


def policy_function_invocations(gateway: RunningGateway) -> int:
    counts = cast(dict[str, int], gateway.status()["function_invocations"])
    return counts.get("PolicyFunction", 0)


def admin_call(
    gateway: RunningGateway, method: str, path: str, token: str, document: Any = None
) -> httpx.Response:
    return httpx.request(method, f"{gateway.url}{path}", headers=bearer(token), json=document, timeout=5)


def test_an_admin_route_is_served_by_the_policy_function_and_never_forwarded(
    gateway: RunningGateway, received: StubService, admin_token: str, tenant: str
) -> None:
    before = policy_function_invocations(gateway)

    response = admin_call(gateway, "GET", f"/api/v1/admin/tenants/{tenant}/policy", admin_token)

    assert response.status_code == 200
    assert response.json()["tenant_id"] == tenant
    assert policy_function_invocations(gateway) == before + 1
    assert received.requests == []


def test_a_caller_without_the_platform_admin_role_gets_a_403_problem(
    gateway: RunningGateway, user_token: str, tenant: str
) -> None:
    response = admin_call(
        gateway, "PUT", f"/api/v1/admin/tenants/{tenant}/read-only", user_token, {"reason": "x"}
    )

    assert response.status_code == 403
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"].endswith("/forbidden-role")


def test_an_admin_request_without_a_token_is_refused_by_api_gateway(
    gateway: RunningGateway, tenant: str
) -> None:
    response = httpx.get(f"{gateway.url}/api/v1/admin/tenants/{tenant}/policy", timeout=5)

    assert response.status_code == 401


def test_a_tenant_made_read_only_is_refused_writes_through_the_proxy(
    gateway: RunningGateway, received: StubService, admin_token: str, user_token: str, tenant: str
) -> None:
    document = {"reason": "billing_hold", "detail": "invoice 42 unpaid"}
    assert admin_call(
        gateway, "PUT", f"/api/v1/admin/tenants/{tenant}/read-only", admin_token, document
    ).is_success

    response = httpx.post(f"{gateway.url}/api/v1/orders/", headers=bearer(user_token), json={}, timeout=5)

    assert response.status_code == 403
    assert response.json()["type"].endswith("/tenant-read-only")
    assert received.requests == []


def test_a_user_limit_of_one_request_makes_the_second_a_429(
    gateway: RunningGateway, received: StubService, admin_token: str, user_token: str, tenant: str
) -> None:
    limits = {"user": {"requests": 1, "window_seconds": 60}}
    assert admin_call(
        gateway, "PUT", f"/api/v1/admin/tenants/{tenant}/rate-limits", admin_token, limits
    ).is_success

    first = httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(user_token), timeout=5)
    second = httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(user_token), timeout=5)

    assert (first.status_code, second.status_code) == (200, 429)
    assert int(second.headers["retry-after"]) >= 1


def test_a_cancellation_pushed_by_the_tenant_service_is_a_402_on_the_next_request(
    gateway: RunningGateway, received: StubService, dev_keys: DevKeyPair, user_token: str, tenant: str
) -> None:
    service_token = dev_keys.mint(user_id="svc-tenant", roles=["tenant-service"])
    push = {"tenant_id": tenant, "subscription": {"status": "cancelled", "plan": "professional"}}
    assert admin_call(gateway, "POST", PUSH, service_token, push).status_code == 204

    response = httpx.get(f"{gateway.url}/api/v1/sales/items", headers=bearer(user_token), timeout=5)

    assert response.status_code == 402
    assert response.json()["subscription_status"] == "cancelled"


def test_the_audit_trail_shows_who_changed_what(
    gateway: RunningGateway, admin_token: str, tenant: str
) -> None:
    admin_call(
        gateway, "PUT", f"/api/v1/admin/tenants/{tenant}/read-only", admin_token, {"reason": "maintenance"}
    )
    admin_call(gateway, "DELETE", f"/api/v1/admin/tenants/{tenant}/read-only", admin_token)

    response = admin_call(gateway, "GET", f"/api/v1/admin/tenants/{tenant}/audit?limit=5", admin_token)

    records = response.json()["records"]
    assert [(record["action"], record["actor"]) for record in records] == [
        ("read_only.lift", "ops-1"),
        ("read_only.set", "ops-1"),
    ]
