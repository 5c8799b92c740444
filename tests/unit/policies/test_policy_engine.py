"""The policy engine through ``PolicyEngine.enforce``, on fakeredis (with Lua) and a mocked tenant service."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
from collections.abc import Callable
from typing import Any

import fakeredis
import httpx
import pytest

from bakery_gateway.api.identity import Identity
from bakery_gateway.authentication.revocation import logout_revocation
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.errors import (
    RateLimitedError,
    ReadOnlyTenantError,
    StateUnavailableError,
    SubscriptionRequiredError,
    TokenRevokedError,
)
from bakery_gateway.policies import engine as engine_module
from bakery_gateway.policies.engine import PolicyEngine, PolicyRequest
from bakery_gateway.policies.subscription import Subscription
from bakery_gateway.settings import PolicySettings, RateLimitRule, Scope, Settings
from tests.conftest import MetricReader

NOW = time.time()
TENANT_SERVICE = "http://tenants.internal"
DAY = 86_400
Responder = Callable[[httpx.Request], httpx.Response]


def identity(user_id: str = "user-1", tenant_id: str = "tenant-a", jti: str = "jti-1") -> Identity:
    return Identity(user_id, tenant_id, (tenant_id,), ("owner",), jti, int(NOW), int(NOW) + 3600)


def request(
    method: str = "GET",
    path: str = "/api/v1/sales/orders",
    *,
    caller: Identity | None = None,
    anonymous: bool = False,
    tenant_id: str | None = "tenant-a",
    route_key: str = "ANY /api/v1/{proxy+}",
    source_ip: str = "203.0.113.10",
    login_attempt: bool = False,
    login_names: tuple[str, ...] = (),
) -> PolicyRequest:
    who = None if anonymous else (caller or identity())
    return PolicyRequest(
        identity=who,
        tenant_id=None if anonymous else tenant_id,
        method=method,
        path=path,
        route_key=route_key,
        route_template="/api/v1/sales/{proxy+}",
        source_ip=source_ip,
        request_id="req-1",
        login_attempt=login_attempt,
        login_names=login_names,
    )


class Harness:
    """Fake Redis (one server: the engine's async client and the test's sync client share it),
    a tenant service answered by ``tenant_service``, and engines built on them."""

    def __init__(self) -> None:
        self.server = fakeredis.FakeServer()
        self.redis = fakeredis.FakeRedis(server=self.server, decode_responses=True)
        self.tenant_calls: list[httpx.Request] = []
        # By default the tenant service cannot say: tests that need an answer set one.
        self.tenant_service: Responder = lambda request: httpx.Response(503)

    def engine(self, *, clock: Callable[[], float] = time.time, **policy: Any) -> PolicyEngine:
        settings = Settings(
            service_urls={"tenants": TENANT_SERVICE},
            policy=dataclasses.replace(PolicySettings(), **policy),
        )

        def answer(request: httpx.Request) -> httpx.Response:
            self.tenant_calls.append(request)
            return self.tenant_service(request)

        return PolicyEngine(
            settings,
            redis_clients=PerEventLoop(
                lambda: fakeredis.FakeAsyncRedis(server=self.server, decode_responses=True)
            ),
            http_clients=PerEventLoop(lambda: httpx.AsyncClient(transport=httpx.MockTransport(answer))),
            clock=clock,
        )

    def subscribe(
        self, tenant_id: str = "tenant-a", status: str = "active", *, plan: str = "professional", end: int = 0
    ) -> None:
        hashed: dict[Any, Any] = Subscription(status, plan, end, 3).to_hash()  # redis-py wants its own types
        self.redis.hset(redis_keyspace.subscription_key(tenant_id), mapping=hashed)

    def redis_down(self) -> None:
        self.server.connected = False

    def redis_up(self) -> None:
        self.server.connected = True


@pytest.fixture
def harness() -> Harness:
    harness = Harness()
    harness.subscribe("tenant-a")
    return harness


def limit(scope: Scope, requests: int, window_seconds: int = 600) -> RateLimitRule:
    return RateLimitRule("default", scope, requests, window_seconds)


async def outcomes(engine: PolicyEngine, policy_request: PolicyRequest, count: int) -> list[str]:
    """'ok' or the refusal's class name, for ``count`` identical requests."""
    results = []
    for _ in range(count):
        try:
            await engine.enforce(policy_request)
            results.append("ok")
        except Exception as error:
            results.append(type(error).__name__)
    return results


def header(headers: list[tuple[str, str]], name: str) -> str:
    return dict(headers)[name]


# --- rate limits ---------------------------------------------------------------------------------
async def test_a_request_gets_ietf_ratelimit_fields_for_its_user_and_tenant_buckets(harness: Harness) -> None:
    headers = await harness.engine().enforce(request())

    assert header(headers, "ratelimit-policy") == '"user";q=300;w=60, "tenant";q=3000;w=60'
    assert header(headers, "ratelimit") == '"user";r=299;t=1, "tenant";r=2999;t=1'


async def test_the_user_limit_refuses_the_request_after_the_last_allowed(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 3))

    assert await outcomes(engine, request(), 5) == ["ok", "ok", "ok", "RateLimitedError", "RateLimitedError"]


async def test_a_rate_limit_refusal_carries_retry_after_and_the_ratelimit_fields(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 1, 600))
    await engine.enforce(request())

    with pytest.raises(RateLimitedError) as refusal:
        await engine.enforce(request())

    assert 590 <= int(refusal.value.headers["Retry-After"]) <= 600
    assert refusal.value.headers["ratelimit"].startswith('"user";r=0;')
    assert "ratelimit-policy" in refusal.value.headers


async def test_a_refusal_by_the_rate_limit_is_counted_by_route_template(
    harness: Harness, metric: MetricReader
) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 1))
    before = metric("gateway_rate_limit_exceeded_total", endpoint="/api/v1/sales/{proxy+}")

    await outcomes(engine, request(), 3)

    assert metric("gateway_rate_limit_exceeded_total", endpoint="/api/v1/sales/{proxy+}") == before + 2


async def test_the_tenant_budget_is_shared_by_its_users(harness: Harness) -> None:
    engine = harness.engine(tenant_limit=limit(Scope.TENANT, 3))

    first = await outcomes(engine, request(caller=identity("user-1", jti="j1")), 2)
    second = await outcomes(engine, request(caller=identity("user-2", jti="j2")), 2)

    assert first + second == ["ok", "ok", "ok", "RateLimitedError"]


async def test_a_request_refused_by_one_bucket_consumes_none_of_the_others(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 2), tenant_limit=limit(Scope.TENANT, 3))
    await outcomes(engine, request(caller=identity("user-1", jti="j1")), 6)  # 2 pass, 4 refused by user-1's

    assert await outcomes(engine, request(caller=identity("user-2", jti="j2")), 2) == [
        "ok",
        "RateLimitedError",
    ]


async def test_a_tenants_override_in_redis_wins_over_the_configuration(harness: Harness) -> None:
    harness.redis.hset(redis_keyspace.rate_limit_overrides_key("tenant-a"), "user", "2:60000")
    engine = harness.engine(rules=(RateLimitRule("t", Scope.USER, 50, 60, tenant="tenant-a"),))

    assert await outcomes(engine, request(), 3) == ["ok", "ok", "RateLimitedError"]


async def test_a_plan_rule_applies_to_tenants_on_that_plan(harness: Harness) -> None:
    harness.subscribe("tenant-b", plan="starter")
    engine = harness.engine(rules=(RateLimitRule("starter", Scope.USER, 2, 600, plan="starter"),))
    starter = request(caller=identity("user-2", "tenant-b", "j2"), tenant_id="tenant-b")

    assert await outcomes(engine, starter, 3) == ["ok", "ok", "RateLimitedError"]
    assert await outcomes(engine, request(), 3) == ["ok", "ok", "ok"]  # tenant-a is on "professional"


async def test_anonymous_requests_are_limited_per_source_address(harness: Harness) -> None:
    engine = harness.engine(ip_limit=limit(Scope.IP, 2))

    assert await outcomes(engine, request(anonymous=True, source_ip="198.51.100.1"), 3) == [
        "ok",
        "ok",
        "RateLimitedError",
    ]
    assert await outcomes(engine, request(anonymous=True, source_ip="198.51.100.2"), 1) == ["ok"]


async def test_a_login_draws_on_the_ip_the_login_ip_and_the_login_name_budgets(harness: Harness) -> None:
    login = request("POST", "/api/v1/auth/login", anonymous=True, login_attempt=True)

    headers = await harness.engine().enforce(dataclasses.replace(login, login_names=("ana@example.com",)))

    assert (
        header(headers, "ratelimit-policy") == '"ip";q=300;w=60, "login-ip";q=20;w=60, "login-name";q=5;w=300'
    )


async def test_login_attempts_for_one_name_are_limited_across_addresses(harness: Harness) -> None:
    engine = harness.engine(login_name_limit=limit(Scope.LOGIN_NAME, 2))
    login = request("POST", "/api/v1/auth/login", anonymous=True, login_attempt=True)

    results = [
        (
            await outcomes(
                engine, dataclasses.replace(login, source_ip=f"198.51.100.{n}", login_names=("ana",)), 1
            )
        )[0]
        for n in range(3)
    ]

    assert results == ["ok", "ok", "RateLimitedError"]


async def test_a_login_with_a_token_draws_on_the_login_budgets_too(harness: Harness) -> None:
    login = request("POST", "/api/v1/tenants/tenant-a/auth/login", login_attempt=True, login_names=("ana",))

    headers = await harness.engine().enforce(login)

    assert header(headers, "ratelimit-policy") == (
        '"user";q=300;w=60, "tenant";q=3000;w=60, "login-ip";q=20;w=60, "login-name";q=5;w=300'
    )


# --- refusals before the policies ----------------------------------------------------------------
async def test_a_refusal_spends_the_callers_own_budget_and_gets_its_fields(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 2))
    refused = request(tenant_id=None)

    assert header(await engine.count_refusal(refused), "ratelimit").startswith('"user";r=1;')
    assert header(await engine.count_refusal(refused), "ratelimit").startswith('"user";r=0;')
    with pytest.raises(RateLimitedError) as over:
        await engine.count_refusal(refused)
    assert over.value.headers["ratelimit"].startswith('"user";r=0;')
    assert await outcomes(engine, request(), 1) == ["RateLimitedError"]  # the probes spent it


async def test_a_refusal_without_an_identity_spends_the_addresss_budget(harness: Harness) -> None:
    engine = harness.engine(ip_limit=limit(Scope.IP, 1))
    refused = request(anonymous=True, source_ip="198.51.100.8")

    assert header(await engine.count_refusal(refused), "ratelimit-policy") == '"ip";q=1;w=600'
    with pytest.raises(RateLimitedError):
        await engine.count_refusal(refused)


async def test_a_refusal_reads_no_revocation_or_tenant_state(harness: Harness) -> None:
    harness.redis.set(redis_keyspace.revoked_key("jti-1"), "1")
    harness.redis.hset(redis_keyspace.read_only_key("tenant-a"), "reason", "maintenance")

    headers = await harness.engine().count_refusal(request("POST"))

    assert header(headers, "ratelimit-policy") == '"user";q=300;w=60, "tenant";q=3000;w=60'


async def test_without_redis_a_refusal_is_counted_by_the_containers_limiter(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 1))
    harness.redis_down()

    await engine.count_refusal(request(tenant_id=None))
    with pytest.raises(RateLimitedError):
        await engine.count_refusal(request(tenant_id=None))


@pytest.mark.parametrize("mode", ["open", "closed"])
async def test_without_redis_in_open_or_closed_mode_a_refusal_gets_no_fields(
    harness: Harness, mode: str
) -> None:
    engine = harness.engine(rate_limit_when_redis_down=mode)
    harness.redis_down()

    assert await engine.count_refusal(request(tenant_id=None)) == []


# --- revocation, subscription, read-only ---------------------------------------------------------
async def test_a_revoked_token_is_refused(harness: Harness) -> None:
    harness.redis.set(redis_keyspace.revoked_key("jti-1"), "1")

    with pytest.raises(TokenRevokedError):
        await harness.engine().enforce(request())


async def test_revocation_is_decided_before_the_rate_limit(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 1))
    await engine.enforce(request())
    harness.redis.set(redis_keyspace.revoked_key("jti-1"), "1")

    with pytest.raises(TokenRevokedError):
        await engine.enforce(request())


async def test_the_rate_limit_is_decided_before_the_subscription(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 1))
    await engine.enforce(request())
    harness.subscribe("tenant-a", "cancelled")

    with pytest.raises(RateLimitedError):
        await engine.enforce(request())


async def test_a_cancelled_subscription_is_refused_with_its_status(harness: Harness) -> None:
    harness.subscribe("tenant-a", "cancelled")

    with pytest.raises(SubscriptionRequiredError) as refusal:
        await harness.engine().enforce(request())

    assert refusal.value.extensions["subscription_status"] == "cancelled"
    assert "ratelimit" in refusal.value.headers


async def test_an_operators_override_wins_over_the_cached_subscription(harness: Harness) -> None:
    harness.subscribe("tenant-a", "cancelled")
    harness.redis.hset(redis_keyspace.subscription_override_key("tenant-a"), mapping={"status": "active"})

    await harness.engine().enforce(request())


async def test_an_operators_override_can_suspend_a_paying_tenant(harness: Harness) -> None:
    harness.redis.hset(redis_keyspace.subscription_override_key("tenant-a"), mapping={"status": "suspended"})

    with pytest.raises(SubscriptionRequiredError):
        await harness.engine().enforce(request())


async def test_a_tenant_within_grace_gets_the_days_remaining_header(harness: Harness) -> None:
    harness.subscribe("tenant-a", "past_due", end=int(NOW - DAY))  # 3 days of grace

    headers = await harness.engine(clock=lambda: NOW).enforce(request())

    assert header(headers, "x-subscription-grace-days-remaining") == "2"


async def test_billing_routes_stay_open_without_a_subscription(harness: Harness) -> None:
    harness.subscribe("tenant-a", "cancelled")

    await harness.engine().enforce(request("POST", "/api/v1/tenants/tenant-a/billing/checkout"))


async def test_a_read_only_tenant_is_refused_writes_naming_the_reason(harness: Harness) -> None:
    harness.redis.hset(redis_keyspace.read_only_key("tenant-a"), mapping={"reason": "data migration"})

    with pytest.raises(ReadOnlyTenantError) as refusal:
        await harness.engine().enforce(request("PATCH"))

    assert refusal.value.extensions["reason"] == "data migration"
    assert "data migration" in refusal.value.detail


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
async def test_a_read_only_tenant_may_still_read(harness: Harness, method: str) -> None:
    harness.redis.hset(redis_keyspace.read_only_key("tenant-a"), mapping={"reason": "audit"})

    await harness.engine().enforce(request(method))


# --- the tenant service, on a cache miss ---------------------------------------------------------
async def test_on_a_miss_the_tenant_service_answer_is_used_and_cached(harness: Harness) -> None:
    harness.tenant_service = lambda r: httpx.Response(200, json={"status": "active", "plan": "enterprise"})
    engine = harness.engine(subscription_cache_seconds=120)
    miss = request(caller=identity("user-9", "tenant-new", "j9"), tenant_id="tenant-new")

    await engine.enforce(miss)
    await engine.enforce(miss)

    assert [str(call.url) for call in harness.tenant_calls] == [
        f"{TENANT_SERVICE}/api/v1/tenants/tenant-new/subscription"
    ]
    assert harness.redis.hgetall(redis_keyspace.subscription_key("tenant-new"))["plan"] == "enterprise"
    assert 110 <= harness.redis.ttl(redis_keyspace.subscription_key("tenant-new")) <= 120


async def test_a_404_from_the_tenant_service_is_refused_and_remembered_for_a_minute(harness: Harness) -> None:
    harness.tenant_service = lambda r: httpx.Response(404)
    miss = request(caller=identity("user-9", "tenant-new", "j9"), tenant_id="tenant-new")

    with pytest.raises(SubscriptionRequiredError):
        await harness.engine().enforce(miss)

    assert harness.redis.hgetall(redis_keyspace.subscription_key("tenant-new"))["status"] == "none"
    assert 50 <= harness.redis.ttl(redis_keyspace.subscription_key("tenant-new")) <= 60


async def test_a_tenant_service_that_cannot_say_lets_reads_through(harness: Harness) -> None:
    harness.tenant_service = lambda r: httpx.Response(500)
    miss = request("GET", caller=identity("user-9", "tenant-new", "j9"), tenant_id="tenant-new")

    await harness.engine().enforce(miss)


async def test_a_tenant_service_that_cannot_say_refuses_writes(harness: Harness) -> None:
    harness.tenant_service = lambda r: httpx.Response(500)
    miss = request("POST", caller=identity("user-9", "tenant-new", "j9"), tenant_id="tenant-new")

    with pytest.raises(StateUnavailableError):
        await harness.engine().enforce(miss)


async def test_a_request_without_a_tenant_never_asks_the_tenant_service(harness: Harness) -> None:
    await harness.engine().enforce(request(tenant_id=None))

    assert harness.tenant_calls == []


# --- without Redis -------------------------------------------------------------------------------
async def test_without_redis_the_memory_limiter_still_refuses_over_the_limit(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 2))
    harness.redis_down()

    assert await outcomes(engine, request(), 3) == ["ok", "ok", "RateLimitedError"]


async def test_without_redis_in_open_mode_nothing_is_rate_limited(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 1), rate_limit_when_redis_down="open")
    harness.redis_down()

    assert await outcomes(engine, request(), 3) == ["ok", "ok", "ok"]


async def test_without_redis_in_closed_mode_even_reads_are_refused(harness: Harness) -> None:
    engine = harness.engine(rate_limit_when_redis_down="closed")
    harness.redis_down()

    with pytest.raises(StateUnavailableError):
        await engine.enforce(request("GET"))


async def test_without_redis_and_nothing_known_reads_pass(harness: Harness) -> None:
    harness.redis_down()

    await harness.engine().enforce(request("GET"))


async def test_without_redis_and_nothing_known_writes_are_refused_with_retry_after(harness: Harness) -> None:
    harness.redis_down()

    with pytest.raises(StateUnavailableError) as refusal:
        await harness.engine().enforce(request("POST"))

    assert refusal.value.headers["Retry-After"] == "5"


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
async def test_without_redis_a_write_with_a_token_is_refused_even_with_recently_seen_state(
    harness: Harness, method: str
) -> None:
    engine = harness.engine(stale_seconds=60)
    await engine.enforce(request("GET"))  # not revoked, the tenant paying: a second ago
    harness.redis_down()

    with pytest.raises(StateUnavailableError) as refusal:
        await engine.enforce(request(method))

    assert refusal.value.headers["Retry-After"] == "5"


async def test_without_redis_a_write_without_a_credential_passes(harness: Harness) -> None:
    harness.redis_down()

    await harness.engine().enforce(request("POST", "/api/v1/auth/login", anonymous=True))


async def test_without_redis_a_recently_seen_cancelled_subscription_still_refuses_reads(
    harness: Harness,
) -> None:
    harness.subscribe("tenant-a", "cancelled")
    engine = harness.engine(stale_seconds=60)
    with pytest.raises(SubscriptionRequiredError):
        await engine.enforce(request("GET"))
    harness.redis_down()

    with pytest.raises(SubscriptionRequiredError):
        await engine.enforce(request("GET"))


async def test_without_redis_a_subscription_older_than_the_stale_window_is_not_judged(
    harness: Harness,
) -> None:
    harness.subscribe("tenant-a", "cancelled")
    engine = harness.engine(stale_seconds=0)
    with pytest.raises(SubscriptionRequiredError):
        await engine.enforce(request("GET"))
    harness.redis_down()
    await asyncio.sleep(0.01)

    await engine.enforce(request("GET"))


# --- revocation this container knows, and logout ------------------------------------------------------
async def test_a_revocation_seen_once_is_enforced_without_redis_for_the_tokens_life(harness: Harness) -> None:
    harness.redis.set(redis_keyspace.revoked_key("jti-1"), "1")
    engine = harness.engine(stale_seconds=0)  # the stale window bounds last known state, not this
    with pytest.raises(TokenRevokedError):
        await engine.enforce(request("GET"))
    harness.redis_down()
    await asyncio.sleep(0.01)

    assert await outcomes(engine, request("GET"), 1) == ["TokenRevokedError"]
    assert await outcomes(engine, request("POST"), 1) == ["TokenRevokedError"]


async def test_a_revocation_redis_lost_is_still_enforced_by_the_container_that_saw_it(
    harness: Harness,
) -> None:
    harness.redis.set(redis_keyspace.revoked_key("jti-1"), "1")
    engine = harness.engine()
    with pytest.raises(TokenRevokedError):
        await engine.enforce(request("GET"))
    harness.redis.flushall()  # what a restart without persistence leaves

    with pytest.raises(TokenRevokedError):
        await engine.enforce(request("GET"))


async def test_a_remembered_revocation_ends_when_its_token_has_expired(harness: Harness) -> None:
    now = [NOW]
    harness.redis.set(redis_keyspace.revoked_key("jti-1"), "1")
    engine = harness.engine(clock=lambda: now[0])
    with pytest.raises(TokenRevokedError):
        await engine.enforce(request("GET"))
    harness.redis.flushall()
    now[0] = NOW + 3600 + 31  # past exp and the verifier's leeway: refused as expired, upstream

    await engine.enforce(request("GET"))


def logout(caller: Identity | None = None) -> PolicyRequest:
    revocation = logout_revocation(caller or identity(), "header.payload.sig", leeway_seconds=30, now=NOW)
    return dataclasses.replace(
        request("POST", "/api/v1/auth/logout", route_key="POST /api/v1/auth/logout", caller=caller),
        revocation=revocation,
    )


async def test_a_logout_revokes_its_token_and_forgets_its_cached_claims_in_its_round_trip(
    harness: Harness,
) -> None:
    harness.redis.set(redis_keyspace.claims_cache_key("header.payload.sig"), "{}")

    await harness.engine().enforce(logout())

    assert 3600 < harness.redis.ttl(redis_keyspace.revoked_key("jti-1")) <= 3600 + 31
    assert not harness.redis.exists(redis_keyspace.claims_cache_key("header.payload.sig"))
    with pytest.raises(TokenRevokedError):
        await harness.engine().enforce(request("GET"))


@pytest.mark.parametrize("scope", [Scope.USER, Scope.TENANT])
async def test_a_logout_passes_a_drained_budget_and_revokes(harness: Harness, scope: Scope) -> None:
    engine = (
        harness.engine(user_limit=limit(scope, 1))
        if scope is Scope.USER
        else harness.engine(tenant_limit=limit(scope, 1))
    )
    assert await outcomes(engine, request(), 2) == ["ok", "RateLimitedError"]

    headers = await engine.enforce(logout())

    assert f'"{scope.value}";r=0;' in header(headers, "ratelimit")  # the drained budget, still reported
    assert harness.redis.exists(redis_keyspace.revoked_key("jti-1"))
    assert await outcomes(engine, request(), 1) == ["TokenRevokedError"]


async def test_a_logout_with_a_token_already_revoked_is_refused_and_revokes_again(harness: Harness) -> None:
    engine = harness.engine()
    await engine.enforce(logout())
    harness.redis.flushall()  # Redis lost it; this container did not

    with pytest.raises(TokenRevokedError):
        await engine.enforce(logout())

    assert harness.redis.exists(redis_keyspace.revoked_key("jti-1"))  # written back


async def test_without_redis_a_logout_is_refused_with_retry_after_and_revokes_nothing(
    harness: Harness,
) -> None:
    engine = harness.engine()
    harness.redis_down()

    with pytest.raises(StateUnavailableError, match="logout could not be recorded") as refusal:
        await engine.enforce(logout())
    harness.redis_up()

    assert refusal.value.headers["Retry-After"] == "5"
    await engine.enforce(request("GET"))  # a logout that did not land leaves the token valid


async def test_without_redis_a_token_this_container_logged_out_stays_refused(harness: Harness) -> None:
    engine = harness.engine()
    await engine.enforce(logout())
    harness.redis_down()

    assert await outcomes(engine, request("GET"), 1) == ["TokenRevokedError"]
    assert await outcomes(engine, request("DELETE"), 1) == ["TokenRevokedError"]


async def test_without_redis_each_decision_is_counted_in_the_fallback_metric(
    harness: Harness, metric: MetricReader
) -> None:
    engine = harness.engine()
    harness.redis_down()
    allowed, refused = (
        metric("gateway_policy_fallback_total", decision="allowed_read"),
        metric("gateway_policy_fallback_total", decision="refused_write"),
    )

    await outcomes(engine, request("GET"), 2)
    await outcomes(engine, request("POST"), 1)

    assert metric("gateway_policy_fallback_total", decision="allowed_read") == allowed + 2
    assert metric("gateway_policy_fallback_total", decision="refused_write") == refused + 1


async def test_without_redis_the_outage_is_logged_once_not_per_request(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    errors: list[str] = []

    class Recorder:
        def error(self, message: str, **kwargs: Any) -> None:
            errors.append(message)

        def warning(self, message: str, **kwargs: Any) -> None:
            return

    monkeypatch.setattr(engine_module, "logger", Recorder())
    engine = harness.engine()
    harness.redis_down()

    await outcomes(engine, request("GET"), 5)

    assert len(errors) == 1


async def test_when_redis_answers_again_the_shared_limit_applies_again(harness: Harness) -> None:
    engine = harness.engine(user_limit=limit(Scope.USER, 2))
    await outcomes(engine, request(), 2)
    harness.redis_down()
    await outcomes(engine, request("GET"), 1)
    harness.redis_up()

    assert await outcomes(engine, request(), 1) == ["RateLimitedError"]


async def test_without_redis_the_tenant_service_is_not_asked(harness: Harness) -> None:
    harness.tenant_service = lambda r: httpx.Response(200, content=json.dumps({"status": "active"}).encode())
    harness.redis_down()

    await harness.engine().enforce(request("GET"))

    assert harness.tenant_calls == []
