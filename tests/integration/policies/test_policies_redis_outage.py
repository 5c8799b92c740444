"""Redis stopped or hung mid-test: fallbacks, last known values, bounded latency, and recovery by itself."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import MetricReader
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.redis_server import RedisProcess
from tests.support.stub_service import StubService

TIMEOUT = 0.4  # REDIS_TIMEOUT_SECONDS
LATENCY_BOUND = TIMEOUT * 1.5  # the timeout, plus the rest of the request's work with room to spare
ACTIVE = b'{"status": "active", "plan": "professional"}'


class Outage:
    """A gateway on a private Redis, with a cached authorizer context per tenant (as API Gateway has)."""

    def __init__(self, gateway: LambdaGateway, server: RedisProcess, dev_keys: DevKeyPair) -> None:
        self.gateway = gateway
        self.server = server
        self._dev_keys = dev_keys
        self._contexts: dict[str, dict[str, Any]] = {}

    def context(self, tenant_id: str = "tenant-a") -> dict[str, Any]:
        if tenant_id not in self._contexts:
            token = self._dev_keys.mint(user_id=f"user-of-{tenant_id}", tenant_id=tenant_id)
            self._contexts[tenant_id] = self.gateway.context_for(token)
        return self._contexts[tenant_id]

    def request(
        self, method: str, tenant_id: str = "tenant-a", path: str = "/api/v1/orders/"
    ) -> ProxyResponse:
        body = "{}" if method in ("POST", "PUT", "PATCH") else None
        return self.gateway.request(method, path, context=self.context(tenant_id), body=body)

    def redis(self) -> Any:
        return self.server.endpoint().client()


@pytest.fixture
def outage(
    start_private_gateway: GatewayStarter,
    private_redis: RedisProcess,
    dev_keys: DevKeyPair,
    stub_service: StubService,
) -> Callable[..., Outage]:
    # Every service, the tenant service included, answers an active subscription.
    stub_service.reply(200, [("Content-Type", "application/json")], ACTIVE)

    def start(**overrides: str) -> Outage:
        gateway = start_private_gateway(**{"REDIS_TIMEOUT_SECONDS": str(TIMEOUT), **overrides})
        return Outage(gateway, private_redis, dev_keys)

    return start


def timed(send: Callable[[], ProxyResponse]) -> tuple[ProxyResponse, float]:
    started = time.perf_counter()
    response = send()
    return response, time.perf_counter() - started


# --- Redis stopped -------------------------------------------------------------------------------
@pytest.mark.parametrize("tenant_id", ["tenant-a", "tenant-b"])  # seen before the outage, or not
def test_with_redis_stopped_reads_pass(outage: Callable[..., Outage], tenant_id: str) -> None:
    gateway = outage()
    gateway.context(tenant_id)
    gateway.request("GET")
    gateway.server.stop()

    response, elapsed = timed(lambda: gateway.request("GET", tenant_id))

    assert response.status == 200
    assert elapsed < LATENCY_BOUND


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_with_redis_stopped_a_write_gets_a_503_problem_even_while_the_last_known_state_is_fresh(
    outage: Callable[..., Outage], stub_service: StubService, method: str
) -> None:
    # A revocation made by another container since cannot be ruled out (docs/policies.md).
    gateway = outage(POLICY_STALE_SECONDS="30")
    gateway.request("GET")
    gateway.server.stop()
    stub_service.reset()

    response, elapsed = timed(lambda: gateway.request(method))

    assert_problem(response, 503, "state-unavailable")
    assert response.headers["retry-after"] == "5"
    assert stub_service.requests == []
    assert elapsed < LATENCY_BOUND


def test_with_redis_stopped_a_write_for_a_tenant_never_seen_gets_a_503_problem(
    outage: Callable[..., Outage],
) -> None:
    gateway = outage()
    gateway.context("tenant-b")
    gateway.server.stop()

    assert_problem(gateway.request("DELETE", "tenant-b"), 503, "state-unavailable")


def test_with_redis_stopped_a_cancelled_subscription_seen_within_the_stale_window_still_refuses_reads(
    outage: Callable[..., Outage],
) -> None:
    gateway = outage(POLICY_STALE_SECONDS="30")
    client = gateway.redis()
    client.hset(redis_keyspace.subscription_override_key("tenant-a"), mapping={"status": "cancelled"})
    client.close()
    assert gateway.request("GET").status == 402
    gateway.server.stop()

    assert_problem(gateway.request("GET"), 402, "subscription-required")


def test_with_redis_stopped_a_subscription_seen_longer_ago_than_the_stale_window_is_not_judged(
    outage: Callable[..., Outage],
) -> None:
    gateway = outage(POLICY_STALE_SECONDS="1")
    client = gateway.redis()
    client.hset(redis_keyspace.subscription_override_key("tenant-a"), mapping={"status": "cancelled"})
    client.close()
    assert gateway.request("GET").status == 402
    gateway.server.stop()
    time.sleep(1.05)

    assert gateway.request("GET").status == 200


def test_with_redis_stopped_a_revocation_seen_within_the_stale_window_is_still_enforced(
    outage: Callable[..., Outage],
) -> None:
    gateway = outage(POLICY_STALE_SECONDS="30")
    context = gateway.context()
    client = gateway.redis()
    client.set(redis_keyspace.revoked_key(str(context["jti"])), "1")
    client.close()
    assert gateway.request("GET").status == 401
    gateway.server.stop()

    assert_problem(gateway.request("GET"), 401, "token-revoked")


def test_with_redis_stopped_the_memory_limiter_refuses_over_the_limit(outage: Callable[..., Outage]) -> None:
    gateway = outage(RATE_LIMIT_REQUESTS="3", RATE_LIMIT_WINDOW_SECONDS="600")
    gateway.context()
    gateway.server.stop()

    statuses = [gateway.request("GET").status for _ in range(4)]

    assert statuses == [200, 200, 200, 429]


def test_with_redis_stopped_a_memory_limiter_refusal_is_a_429_problem_with_retry_after(
    outage: Callable[..., Outage],
) -> None:
    gateway = outage(RATE_LIMIT_REQUESTS="1", RATE_LIMIT_WINDOW_SECONDS="600")
    gateway.context()
    gateway.server.stop()
    gateway.request("GET")

    response = gateway.request("GET")

    assert_problem(response, 429, "rate-limited")
    assert int(response.headers["retry-after"]) >= 1
    assert response.headers["ratelimit"].startswith('"user";r=0;')


def test_with_redis_stopped_in_closed_mode_even_reads_get_a_503_problem(
    outage: Callable[..., Outage],
) -> None:
    gateway = outage(RATE_LIMIT_WHEN_REDIS_DOWN="closed")
    gateway.request("GET")
    gateway.server.stop()

    assert_problem(gateway.request("GET"), 503, "state-unavailable")


def test_with_redis_stopped_every_decision_moves_the_fallback_metric(
    outage: Callable[..., Outage], metric: MetricReader
) -> None:
    gateway = outage(POLICY_STALE_SECONDS="30")
    gateway.request("GET")
    gateway.context("tenant-b")
    gateway.server.stop()
    before = {d: metric("gateway_policy_fallback_total", decision=d) for d in ("last_known", "refused_write")}

    gateway.request("GET")  # tenant-a: last known
    gateway.request("POST", "tenant-b")  # never seen: refused

    assert metric("gateway_policy_fallback_total", decision="last_known") == before["last_known"] + 1
    assert metric("gateway_policy_fallback_total", decision="refused_write") == before["refused_write"] + 1


# --- Redis hung ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("method", "status"), [("GET", 200), ("POST", 503)])
def test_with_redis_hung_a_request_takes_no_longer_than_the_redis_timeout(
    outage: Callable[..., Outage], method: str, status: int
) -> None:
    gateway = outage()
    gateway.request("GET")
    gateway.server.pause()

    response, elapsed = timed(lambda: gateway.request(method))

    assert response.status == status
    assert elapsed < LATENCY_BOUND


def test_with_redis_hung_a_read_for_a_tenant_never_seen_takes_no_longer_than_the_redis_timeout(
    outage: Callable[..., Outage],
) -> None:
    gateway = outage()
    gateway.context("tenant-b")
    gateway.server.pause()

    response, elapsed = timed(lambda: gateway.request("GET", "tenant-b"))

    assert response.status == 200
    assert elapsed < LATENCY_BOUND


# --- recovery ------------------------------------------------------------------------------------
def test_once_redis_is_back_the_gateway_uses_it_again_by_itself(
    outage: Callable[..., Outage], metric: MetricReader
) -> None:
    gateway = outage(POLICY_STALE_SECONDS="30")
    gateway.request("GET")
    gateway.server.stop()
    assert gateway.request("GET").status == 200  # served on last known values
    gateway.server.start()  # the same port, empty
    client = gateway.redis()
    client.hset(redis_keyspace.read_only_key("tenant-a"), "reason", "set after the restart")
    client.close()
    fallbacks = sum(
        metric("gateway_policy_fallback_total", decision=d) for d in ("last_known", "allowed_read")
    )

    response = gateway.request("POST")

    assert assert_problem(response, 403, "tenant-read-only")["reason"] == "set after the restart"
    assert sum(
        metric("gateway_policy_fallback_total", decision=d) for d in ("last_known", "allowed_read")
    ) == (fallbacks)


def test_once_redis_is_back_the_shared_limit_applies_again(outage: Callable[..., Outage]) -> None:
    gateway = outage(RATE_LIMIT_REQUESTS="2", RATE_LIMIT_WINDOW_SECONDS="600")
    gateway.context()
    gateway.server.stop()
    gateway.request("GET")
    gateway.request("GET")  # the container's own limiter is now spent
    gateway.server.start()

    statuses = [gateway.request("GET").status for _ in range(3)]

    assert statuses == [200, 200, 429]  # Redis's budget: it never saw the two requests above
