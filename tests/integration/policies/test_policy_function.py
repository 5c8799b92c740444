"""The policy function's handler with real Redis, behind the real authorizer; and the proxy obeying it."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.telemetry.observability import SERVICE_NAME, logger
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.audit_stream import audit_entries
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.stub_service import StubService

TENANT = "/api/v1/admin/tenants/tenant-a"
PUSH = "/api/v1/internal/subscription-events"


@pytest.fixture
def admin_token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="ops-1", roles=["platform_admin"])


@pytest.fixture
def tenant_service_token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="svc-tenant", roles=["tenant-service"])


@pytest.fixture
def user_token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a")


@pytest.fixture
def log_lines() -> Iterator[Callable[[], list[dict[str, Any]]]]:
    """The gateway's log lines from now on, as JSON documents, formatted as on Lambda."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    gateway_logger = logging.getLogger(SERVICE_NAME)  # the standard logger under powertools' Logger
    gateway_logger.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    gateway_logger.removeHandler(handler)


def send(
    gateway: LambdaGateway,
    method: str,
    path: str,
    token: str,
    document: Any = None,
    *,
    query: str | None = None,
) -> ProxyResponse:
    body = json.dumps(document) if document is not None else None
    headers = {"content-type": "application/json"}
    return gateway.request(method, path, token=token, body=body, headers=headers, query=query)


# --- each route, through the handler ----------------------------------------------------------------
def test_get_policy_reads_what_redis_holds(
    gateway: LambdaGateway, redis_client: redis.Redis, admin_token: str
) -> None:
    redis_client.hset(redis_keyspace.read_only_key("tenant-a"), mapping={"reason": "maintenance"})

    response = send(gateway, "GET", f"{TENANT}/policy", admin_token)

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json()["read_only"]["reason"] == "maintenance"
    assert response.json()["subscription"]["status"] == "active"  # the paying tenants' cached record


def test_put_read_only_sets_the_flag(
    gateway: LambdaGateway, redis_client: redis.Redis, admin_token: str
) -> None:
    response = send(gateway, "PUT", f"{TENANT}/read-only", admin_token, {"reason": "billing_hold"})

    assert response.status == 200
    assert redis_client.hget(redis_keyspace.read_only_key("tenant-a"), "set_by") == "ops-1"


def test_put_subscription_sets_the_override(
    gateway: LambdaGateway, redis_client: redis.Redis, admin_token: str
) -> None:
    response = send(
        gateway, "PUT", f"{TENANT}/subscription", admin_token, {"status": "trialing", "plan": "pro"}
    )

    assert response.status == 200
    assert redis_client.hget(redis_keyspace.subscription_override_key("tenant-a"), "status") == "trialing"


def test_put_rate_limits_sets_the_overrides(
    gateway: LambdaGateway, redis_client: redis.Redis, admin_token: str
) -> None:
    limits = {
        "user": {"requests": 10, "window_seconds": 60},
        "tenant": {"requests": 100, "window_seconds": 60},
    }

    response = send(gateway, "PUT", f"{TENANT}/rate-limits", admin_token, limits)

    assert response.json()["rate_limit_overrides"] == limits
    assert redis_client.hgetall(redis_keyspace.rate_limit_overrides_key("tenant-a")) == {
        "user": "10:60000",
        "tenant": "100:60000",
    }


@pytest.mark.parametrize(
    ("policy", "body", "key"),
    [
        ("read-only", {"reason": "billing_hold"}, redis_keyspace.read_only_key),
        ("subscription", {"status": "trialing"}, redis_keyspace.subscription_override_key),
        (
            "rate-limits",
            {"user": {"requests": 10, "window_seconds": 60}},
            redis_keyspace.rate_limit_overrides_key,
        ),
    ],
)
def test_delete_removes_what_put_set(
    gateway: LambdaGateway,
    redis_client: redis.Redis,
    admin_token: str,
    policy: str,
    body: dict[str, Any],
    key: Callable[[str], str],
) -> None:
    send(gateway, "PUT", f"{TENANT}/{policy}", admin_token, body)

    assert send(gateway, "DELETE", f"{TENANT}/{policy}", admin_token).status == 204
    assert redis_client.exists(key("tenant-a")) == 0


def test_get_audit_lists_the_changes_made_through_the_function(
    gateway: LambdaGateway, admin_token: str
) -> None:
    send(gateway, "PUT", f"{TENANT}/read-only", admin_token, {"reason": "maintenance"})
    send(
        gateway, "PUT", f"{TENANT}/rate-limits", admin_token, {"tenant": {"requests": 9, "window_seconds": 9}}
    )

    records = send(gateway, "GET", f"{TENANT}/audit", admin_token, query="limit=50").json()["records"]

    assert [record["action"] for record in records] == ["rate_limits.set", "read_only.set"]


def test_the_tenant_service_push_caches_the_subscription_with_its_ttl(
    gateway: LambdaGateway, redis_client: redis.Redis, tenant_service_token: str
) -> None:
    push = {
        "tenant_id": "tenant-a",
        "subscription": {"status": "past_due", "plan": "pro", "grace_period_days": 3},
    }

    assert send(gateway, "POST", PUSH, tenant_service_token, push).status == 204
    key = redis_keyspace.subscription_key("tenant-a")
    assert redis_client.hget(key, "status") == "past_due"
    assert 0 < redis_client.ttl(key) <= 300


def test_the_tenant_service_push_can_invalidate(
    gateway: LambdaGateway, redis_client: redis.Redis, tenant_service_token: str
) -> None:
    assert (
        send(
            gateway, "POST", PUSH, tenant_service_token, {"tenant_id": "tenant-a", "invalidate": True}
        ).status
        == 204
    )
    assert redis_client.exists(redis_keyspace.subscription_key("tenant-a")) == 0


# --- refusals --------------------------------------------------------------------------------------
def test_a_tenant_user_is_refused_with_a_forbidden_role_problem(
    gateway: LambdaGateway, redis_client: redis.Redis, user_token: str
) -> None:
    response = send(gateway, "PUT", f"{TENANT}/read-only", user_token, {"reason": "maintenance"})

    assert_problem(response, 403, "forbidden-role")
    assert redis_client.exists(redis_keyspace.read_only_key("tenant-a")) == 0


def test_the_tenant_service_token_cannot_administer(
    gateway: LambdaGateway, tenant_service_token: str
) -> None:
    assert_problem(send(gateway, "GET", f"{TENANT}/policy", tenant_service_token), 403, "forbidden-role")


def test_an_invalid_body_is_a_400_naming_the_field(gateway: LambdaGateway, admin_token: str) -> None:
    limits = {"user": {"requests": 0, "window_seconds": 60}}

    problem = assert_problem(
        send(gateway, "PUT", f"{TENANT}/rate-limits", admin_token, limits), 400, "bad-request"
    )

    assert problem["invalid_params"] == [
        {"name": "user.requests", "reason": "Input should be greater than or equal to 1"}
    ]


def test_with_redis_down_the_function_answers_503_problems(
    start_gateway: GatewayStarter, closed_port: int, admin_token: str
) -> None:
    gateway = start_gateway(REDIS_PORT=str(closed_port), REDIS_TIMEOUT_SECONDS="0.2")

    response = send(gateway, "PUT", f"{TENANT}/read-only", admin_token, {"reason": "maintenance"})

    assert_problem(response, 503, "state-unavailable")
    assert response.headers["retry-after"] == "5"


def test_an_admin_token_logged_out_through_the_proxy_is_refused(
    gateway: LambdaGateway, stub_service: StubService, admin_token: str
) -> None:
    cached_verdict = gateway.context_for(admin_token)
    assert gateway.request("POST", "/api/v1/auth/logout", token=admin_token).status == 200

    response = gateway.request("GET", f"{TENANT}/policy", token=admin_token, context=cached_verdict)

    assert_problem(response, 401, "token-revoked")


# --- the audit trail -------------------------------------------------------------------------------
def test_a_change_is_recorded_in_the_audit_stream(
    gateway: LambdaGateway, redis_client: redis.Redis, admin_token: str
) -> None:
    response = send(gateway, "PUT", f"{TENANT}/read-only", admin_token, {"reason": "administrative"})

    (entry,) = audit_entries(redis_client)
    assert entry["action"] == "read_only.set"
    assert (entry["actor"], entry["tenant_id"]) == ("ops-1", "tenant-a")
    assert entry["request_id"] == response.headers["x-request-id"]
    assert json.loads(entry["before"]) is None
    assert json.loads(entry["after"])["reason"] == "administrative"
    assert entry["at"]


def test_a_change_is_written_to_the_log_as_an_audit_line(
    gateway: LambdaGateway, admin_token: str, log_lines: Callable[[], list[dict[str, Any]]]
) -> None:
    response = send(gateway, "POST", PUSH, admin_token, {"tenant_id": "tenant-a", "invalidate": True})

    (audit_line,) = [line for line in log_lines() if line.get("audit") is True]
    assert audit_line["action"] == "subscription.invalidate"
    assert (audit_line["actor"], audit_line["tenant_id"]) == ("ops-1", "tenant-a")
    assert audit_line["correlation_id"] == response.headers["x-request-id"]
    assert audit_line["change"]["before"]["status"] == "active"
    assert audit_line["change"]["after"] is None


# --- the proxy obeys on the next request -------------------------------------------------------------
def test_a_read_only_tenant_is_refused_writes_by_the_proxy_at_once(
    gateway: LambdaGateway, stub_service: StubService, admin_token: str, user_token: str
) -> None:
    send(gateway, "PUT", f"{TENANT}/read-only", admin_token, {"reason": "billing_hold"})

    response = gateway.request("POST", "/api/v1/orders/", token=user_token, body="{}")

    problem = assert_problem(response, 403, "tenant-read-only")
    assert problem["reason"] == "billing_hold"
    assert stub_service.requests == []


def test_a_lifted_read_only_flag_lets_writes_through_again(
    gateway: LambdaGateway, stub_service: StubService, admin_token: str, user_token: str
) -> None:
    send(gateway, "PUT", f"{TENANT}/read-only", admin_token, {"reason": "billing_hold"})
    send(gateway, "DELETE", f"{TENANT}/read-only", admin_token)

    assert gateway.request("POST", "/api/v1/orders/", token=user_token, body="{}").status == 200


def test_a_user_rate_limit_override_applies_on_the_next_request(
    gateway: LambdaGateway, stub_service: StubService, admin_token: str, user_token: str
) -> None:
    send(
        gateway, "PUT", f"{TENANT}/rate-limits", admin_token, {"user": {"requests": 1, "window_seconds": 60}}
    )

    assert gateway.request("GET", "/api/v1/sales/", token=user_token).status == 200
    assert_problem(gateway.request("GET", "/api/v1/sales/", token=user_token), 429, "rate-limited")


def test_a_pushed_cancellation_is_a_402_on_the_next_request(
    gateway: LambdaGateway, stub_service: StubService, tenant_service_token: str, user_token: str
) -> None:
    send(
        gateway,
        "POST",
        PUSH,
        tenant_service_token,
        {"tenant_id": "tenant-a", "subscription": {"status": "cancelled"}},
    )

    problem = assert_problem(
        gateway.request("GET", "/api/v1/sales/", token=user_token), 402, "subscription-required"
    )
    assert problem["subscription_status"] == "cancelled"


def test_a_subscription_override_wins_over_the_cached_subscription(
    gateway: LambdaGateway, stub_service: StubService, admin_token: str, user_token: str
) -> None:
    send(gateway, "PUT", f"{TENANT}/subscription", admin_token, {"status": "canceled", "plan": "pro"})

    assert_problem(gateway.request("GET", "/api/v1/sales/", token=user_token), 402, "subscription-required")
