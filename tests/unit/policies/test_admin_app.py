"""The policy function's app through its event adapter, on fakeredis, with hand-built authorizer contexts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator, Sequence
from typing import Any

import fakeredis
import pytest

from bakery_gateway.api.identity import Identity, Unauthenticated
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.edge.lambda_http import AsgiAppHandler, run_on_container_loop
from bakery_gateway.policies import audit as audit_module
from bakery_gateway.policies.admin import create_admin_app
from bakery_gateway.settings import PolicySettings, Settings
from tests.support.audit_stream import audit_entries
from tests.support.lambda_gateway import Handler, ProxyResponse, assert_problem, function_event

NOW = time.time()
TENANT = "/api/v1/admin/tenants/tenant-a"
PUSH = "/api/v1/internal/subscription-events"
CACHE_SECONDS = 120


def context(*roles: str, user_id: str = "admin-1", jti: str = "jti-1") -> dict[str, Any]:
    identity = Identity(user_id, None, (), roles, jti, int(NOW), int(NOW) + 3600)
    return identity.to_context()


class AdminHarness:
    """The app behind its event adapter on a loop of its own (as on Lambda), and a sync view of its Redis."""

    def __init__(self) -> None:
        self.server = fakeredis.FakeServer()
        self.redis = fakeredis.FakeRedis(server=self.server, decode_responses=True)
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        settings = Settings(policy=PolicySettings(subscription_cache_seconds=CACHE_SECONDS))
        clients = PerEventLoop(lambda: fakeredis.FakeAsyncRedis(server=self.server, decode_responses=True))
        app = create_admin_app(settings, redis_clients=clients, clock=lambda: NOW)
        # As functions/policy/app.py wraps it (that module builds real Redis clients at import).
        events = AsgiAppHandler(lambda: app)
        self.handler: Handler = lambda event, context: run_on_container_loop(events(event, context))

    def call(
        self,
        method: str,
        path: str,
        document: Any = None,
        *,
        roles: Sequence[str] = ("platform_admin",),
        authorizer: dict[str, Any] | None = None,
        query: str | None = None,
        body: str | None = None,
    ) -> ProxyResponse:
        event = function_event(
            method,
            path,
            query=query,
            body=json.dumps(document) if document is not None else body,
            context=authorizer if authorizer is not None else context(*roles),
        )
        return ProxyResponse(self.handler(event, LambdaContext()))

    def close(self) -> None:
        self.loop.close()
        asyncio.set_event_loop(None)


@pytest.fixture
def admin() -> Iterator[AdminHarness]:
    harness = AdminHarness()
    yield harness
    harness.close()


# --- each route --------------------------------------------------------------------------------
def test_the_policy_of_a_tenant_without_any_is_all_unset(admin: AdminHarness) -> None:
    response = admin.call("GET", f"{TENANT}/policy")

    assert response.status == 200
    assert response.json() == {
        "tenant_id": "tenant-a",
        "read_only": None,
        "subscription": None,
        "subscription_override": None,
        "rate_limit_overrides": {"user": None, "tenant": None},
    }


def test_the_policy_shows_the_cached_subscription(admin: AdminHarness) -> None:
    admin.redis.hset(redis_keyspace.subscription_key("tenant-a"), mapping={"status": "active", "plan": "pro"})

    subscription = admin.call("GET", f"{TENANT}/policy").json()["subscription"]

    assert subscription == {
        "status": "active",
        "plan": "pro",
        "current_period_end": 0,
        "grace_period_days": 0,
    }


def test_setting_read_only_answers_the_tenants_new_policy(admin: AdminHarness) -> None:
    response = admin.call("PUT", f"{TENANT}/read-only", {"reason": "billing_hold", "detail": "invoice 42"})

    assert response.status == 200
    flag = response.json()["read_only"]
    assert (flag["reason"], flag["detail"], flag["set_by"]) == ("billing_hold", "invoice 42", "admin-1")


def test_lifting_read_only_is_a_204_and_removes_the_flag(admin: AdminHarness) -> None:
    admin.call("PUT", f"{TENANT}/read-only", {"reason": "maintenance"})

    response = admin.call("DELETE", f"{TENANT}/read-only")

    assert response.status == 204
    assert admin.redis.exists(redis_keyspace.read_only_key("tenant-a")) == 0


def test_setting_a_subscription_override_stores_it_for_the_proxy(admin: AdminHarness) -> None:
    document = {"status": "active", "plan": "enterprise", "current_period_end": 1_900_000_000}

    response = admin.call("PUT", f"{TENANT}/subscription", document)

    assert response.status == 200
    assert response.json()["subscription_override"] == {**document, "grace_period_days": 0}
    assert admin.redis.hget(redis_keyspace.subscription_override_key("tenant-a"), "plan") == "enterprise"


def test_removing_the_subscription_override_is_a_204(admin: AdminHarness) -> None:
    admin.call("PUT", f"{TENANT}/subscription", {"status": "active"})

    assert admin.call("DELETE", f"{TENANT}/subscription").status == 204
    assert admin.redis.exists(redis_keyspace.subscription_override_key("tenant-a")) == 0


def test_setting_rate_limits_answers_them_in_seconds(admin: AdminHarness) -> None:
    response = admin.call("PUT", f"{TENANT}/rate-limits", {"user": {"requests": 5, "window_seconds": 60}})

    assert response.status == 200
    assert response.json()["rate_limit_overrides"] == {
        "user": {"requests": 5, "window_seconds": 60},
        "tenant": None,
    }


def test_removing_rate_limits_is_a_204(admin: AdminHarness) -> None:
    admin.call("PUT", f"{TENANT}/rate-limits", {"tenant": {"requests": 5, "window_seconds": 60}})

    assert admin.call("DELETE", f"{TENANT}/rate-limits").status == 204
    assert admin.redis.exists(redis_keyspace.rate_limit_overrides_key("tenant-a")) == 0


def test_the_audit_route_lists_the_tenants_changes_newest_first(admin: AdminHarness) -> None:
    admin.call("PUT", f"{TENANT}/read-only", {"reason": "maintenance"})
    admin.call("DELETE", f"{TENANT}/read-only")

    response = admin.call("GET", f"{TENANT}/audit")

    assert response.status == 200
    records = response.json()["records"]
    assert [record["action"] for record in records] == ["read_only.lift", "read_only.set"]
    assert records[0]["before"]["reason"] == "maintenance"
    assert records[0]["after"] is None


def test_the_audit_route_honours_its_limit(admin: AdminHarness) -> None:
    for reason in ("maintenance", "billing_hold", "administrative"):
        admin.call("PUT", f"{TENANT}/read-only", {"reason": reason})

    records = admin.call("GET", f"{TENANT}/audit", query="limit=1").json()["records"]

    assert [record["after"]["reason"] for record in records] == ["administrative"]


@pytest.mark.parametrize("limit", ["0", "501", "ten", "-1", "%C2%B2"])
def test_an_audit_limit_out_of_range_is_a_400_naming_it(admin: AdminHarness, limit: str) -> None:
    problem = assert_problem(admin.call("GET", f"{TENANT}/audit", query=f"limit={limit}"), 400, "bad-request")

    assert problem["invalid_params"][0]["name"] == "limit"


def test_a_pushed_subscription_is_cached_at_once(admin: AdminHarness) -> None:
    push = {"tenant_id": "tenant-a", "subscription": {"status": "cancelled", "plan": "pro"}}

    response = admin.call("POST", PUSH, push, roles=["tenant-service"])

    assert response.status == 204
    key = redis_keyspace.subscription_key("tenant-a")
    assert admin.redis.hget(key, "status") == "cancelled"
    assert 0 < admin.redis.ttl(key) <= CACHE_SECONDS


def test_a_pushed_invalidation_drops_the_cached_subscription(admin: AdminHarness) -> None:
    admin.redis.hset(redis_keyspace.subscription_key("tenant-a"), mapping={"status": "active"})

    response = admin.call(
        "POST", PUSH, {"tenant_id": "tenant-a", "invalidate": True}, roles=["tenant-service"]
    )

    assert response.status == 204
    assert admin.redis.exists(redis_keyspace.subscription_key("tenant-a")) == 0


def test_a_platform_admin_may_push_too(admin: AdminHarness) -> None:
    response = admin.call("POST", PUSH, {"tenant_id": "tenant-a", "invalidate": True})

    assert response.status == 204


# --- who may call --------------------------------------------------------------------------------
@pytest.mark.parametrize("roles", [(), ("owner",), ("admin",), ("tenant-service",)])
def test_an_admin_route_refuses_a_caller_without_the_platform_admin_role(
    admin: AdminHarness, roles: tuple[str, ...]
) -> None:
    response = admin.call("PUT", f"{TENANT}/read-only", {"reason": "maintenance"}, roles=roles)

    problem = assert_problem(response, 403, "forbidden-role")
    assert problem["required_roles"] == ["platform_admin"]
    assert admin.redis.exists(redis_keyspace.read_only_key("tenant-a")) == 0


def test_the_push_refuses_a_caller_that_is_neither_tenant_service_nor_admin(admin: AdminHarness) -> None:
    response = admin.call("POST", PUSH, {"tenant_id": "tenant-a", "invalidate": True}, roles=["owner"])

    problem = assert_problem(response, 403, "forbidden-role")
    assert problem["required_roles"] == ["platform_admin", "tenant-service"]


def test_a_token_the_authorizer_refused_is_a_401(admin: AdminHarness) -> None:
    response = admin.call("GET", f"{TENANT}/policy", authorizer=Unauthenticated("token expired").to_context())

    assert_problem(response, 401, "invalid-token")
    assert response.headers["www-authenticate"].startswith("Bearer ")


def test_a_revoked_admin_token_is_a_401_even_from_a_cached_authorizer_verdict(admin: AdminHarness) -> None:
    admin.redis.set(redis_keyspace.revoked_key("jti-1"), "1")

    assert_problem(admin.call("GET", f"{TENANT}/policy"), 401, "token-revoked")


# --- bodies and paths ----------------------------------------------------------------------------
def test_an_invalid_body_is_a_400_naming_the_field_and_changes_nothing(admin: AdminHarness) -> None:
    response = admin.call("PUT", f"{TENANT}/read-only", {"reason": "holiday"})

    problem = assert_problem(response, 400, "bad-request")
    assert problem["invalid_params"][0]["name"] == "reason"
    assert admin.redis.exists(redis_keyspace.read_only_key("tenant-a")) == 0


def test_a_body_that_is_not_json_is_a_400(admin: AdminHarness) -> None:
    problem = assert_problem(admin.call("PUT", f"{TENANT}/rate-limits", body="user=1"), 400, "bad-request")

    assert problem["invalid_params"][0]["name"] == "body"


def test_a_malformed_tenant_id_in_the_path_is_a_400(admin: AdminHarness) -> None:
    response = admin.call("GET", "/api/v1/admin/tenants/not%20a%20tenant/policy")

    problem = assert_problem(response, 400, "bad-request")
    assert problem["invalid_params"][0]["name"] == "tenant_id"


def test_an_unknown_admin_path_is_a_404_problem(admin: AdminHarness) -> None:
    assert_problem(admin.call("GET", "/api/v1/admin/tenants/tenant-a/secrets"), 404, "not-found")


def test_a_method_a_route_does_not_have_is_a_405_problem(admin: AdminHarness) -> None:
    assert_problem(admin.call("POST", f"{TENANT}/policy"), 405, "method-not-allowed")


# --- audit and outages ---------------------------------------------------------------------------
def test_a_change_is_logged_as_an_audit_line(admin: AdminHarness, monkeypatch: pytest.MonkeyPatch) -> None:
    lines: list[dict[str, Any]] = []

    class Recorder:
        def info(self, message: str, *, extra: dict[str, Any]) -> None:
            lines.append(extra)

    monkeypatch.setattr(audit_module, "logger", Recorder())

    response = admin.call("PUT", f"{TENANT}/rate-limits", {"user": {"requests": 1, "window_seconds": 60}})

    (line,) = lines
    assert line["audit"] is True
    assert (line["action"], line["tenant_id"], line["actor"]) == ("rate_limits.set", "tenant-a", "admin-1")
    assert line["correlation_id"] == response.headers["x-request-id"]
    assert line["change"] == {
        "before": None,
        "after": {"user": {"requests": 1, "window_seconds": 60}, "tenant": None},
    }


def test_a_change_carries_its_request_id_into_the_audit_stream(admin: AdminHarness) -> None:
    response = admin.call("PUT", f"{TENANT}/read-only", {"reason": "maintenance"})

    (entry,) = audit_entries(admin.redis)
    assert entry["request_id"] == response.headers["x-request-id"]


@pytest.mark.parametrize(
    ("method", "path", "document"),
    [
        ("GET", f"{TENANT}/policy", None),
        ("PUT", f"{TENANT}/read-only", {"reason": "maintenance"}),
        ("DELETE", f"{TENANT}/rate-limits", None),
        ("GET", f"{TENANT}/audit", None),
        ("POST", PUSH, {"tenant_id": "tenant-a", "invalidate": True}),
    ],
)
def test_with_redis_down_every_route_is_a_503_problem(
    admin: AdminHarness, method: str, path: str, document: Any
) -> None:
    admin.server.connected = False

    response = admin.call(method, path, document)

    assert_problem(response, 503, "state-unavailable")
    assert response.headers["retry-after"] == "5"
