"""own_routes/health.py with fakes: fakeredis for the shared cache and lock, httpx.MockTransport for the
services."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import fakeredis
import httpx
import pytest

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.own_routes.health import (
    CacheState,
    HealthChecker,
    HealthReport,
    ServiceHealth,
    Status,
    check_service,
    classify,
    overall,
    record_gauge,
    response_body,
    response_status,
)
from bakery_gateway.settings import HealthSettings, Settings
from bakery_gateway.telemetry.observability import registry

NOW = 1_700_000_000.0
TIMEOUT = 2.0


def service(status: Status) -> ServiceHealth:
    return ServiceHealth(status, 1.0)


def services_answering(statuses: Mapping[str, int], calls: list[str]) -> httpx.MockTransport:
    """Each service (named by its host) answers its /health with the given status."""

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.host)
        return httpx.Response(statuses[request.url.host])

    return httpx.MockTransport(handler)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def redis() -> fakeredis.FakeAsyncRedis:
    return fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())


def make_checker(
    redis: Any,
    transport: httpx.MockTransport,
    urls: Mapping[str, str],
    clock: Callable[[], float] = lambda: NOW,
    timeout: float = TIMEOUT,
) -> HealthChecker:
    settings = Settings(service_urls=dict(urls), health=HealthSettings(timeout, 30))
    return HealthChecker(
        settings,
        redis_clients=PerEventLoop(lambda: redis),
        http_clients=PerEventLoop(lambda: httpx.AsyncClient(transport=transport)),
        clock=clock,
    )


URLS = {"auth": "http://auth", "sales": "http://sales"}


# --- rules -------------------------------------------------------------------------------------
def test_a_2xx_in_time_is_healthy() -> None:
    assert classify(204, 0.1, TIMEOUT) is Status.HEALTHY


def test_a_2xx_slower_than_half_the_timeout_is_degraded() -> None:
    assert classify(200, 1.5, TIMEOUT) is Status.DEGRADED


@pytest.mark.parametrize("status", [301, 404, 429])
def test_a_3xx_or_4xx_answer_is_degraded(status: int) -> None:
    assert classify(status, 0.1, TIMEOUT) is Status.DEGRADED


def test_a_5xx_is_unhealthy() -> None:
    assert classify(503, 0.1, TIMEOUT) is Status.UNHEALTHY


def test_overall_is_healthy_when_every_service_is_or_none_is_configured() -> None:
    assert overall({"auth": service(Status.HEALTHY), "sales": service(Status.HEALTHY)}) is Status.HEALTHY
    assert overall({}) is Status.HEALTHY


def test_overall_is_degraded_when_a_non_critical_service_is_down() -> None:
    services = {"auth": service(Status.HEALTHY), "sales": service(Status.UNHEALTHY)}

    assert overall(services) is Status.DEGRADED


def test_overall_is_unhealthy_when_auth_is_down() -> None:
    services = {"auth": service(Status.UNHEALTHY), "sales": service(Status.HEALTHY)}

    assert overall(services) is Status.UNHEALTHY


def test_overall_is_unhealthy_when_every_service_is_down() -> None:
    services = {"sales": service(Status.UNHEALTHY), "orders": service(Status.UNHEALTHY)}

    assert overall(services) is Status.UNHEALTHY


def test_only_an_unhealthy_report_answers_503() -> None:
    assert response_status(HealthReport(Status.UNHEALTHY, {}, NOW)) == 503
    assert response_status(HealthReport(Status.DEGRADED, {}, NOW)) == 200
    assert response_status(HealthReport(Status.HEALTHY, {}, NOW)) == 200


def test_the_answer_carries_per_service_latency_the_check_time_and_the_cache_state() -> None:
    report = HealthReport(Status.HEALTHY, {"auth": ServiceHealth(Status.HEALTHY, 3.5, 200)}, NOW)

    body = response_body(report, CacheState.HIT)

    assert body == {
        "status": "healthy",
        "services": {"auth": {"status": "healthy", "latency_ms": 3.5, "http_status": 200}},
        "checked_at": "2023-11-14T22:13:20Z",
        "cache": "hit",
    }


# --- one service ---------------------------------------------------------------------------------
def failing_with(error: Exception) -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.MockTransport(handler)


async def test_a_service_that_times_out_is_unhealthy_with_the_reason() -> None:
    async with httpx.AsyncClient(transport=failing_with(httpx.ReadTimeout("slow"))) as client:
        health = await check_service(client, "http://sales", TIMEOUT)

    assert (health.status, health.error, health.http_status) == (Status.UNHEALTHY, "timeout", None)


async def test_a_service_that_refuses_the_connection_is_unhealthy_unreachable() -> None:
    async with httpx.AsyncClient(transport=failing_with(httpx.ConnectError("refused"))) as client:
        health = await check_service(client, "http://sales", TIMEOUT)

    assert (health.status, health.error) == (Status.UNHEALTHY, "unreachable")


async def test_the_check_calls_the_services_health_path() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200)

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        await check_service(client, "http://sales:8000/base", TIMEOUT)

    assert seen == ["http://sales:8000/base/health"]


# --- the gauge -----------------------------------------------------------------------------------
def test_the_gauge_is_one_on_the_current_status_and_zero_on_the_others() -> None:
    record_gauge(HealthReport(Status.DEGRADED, {"gauge-svc": service(Status.DEGRADED)}, NOW))

    def value(status: str) -> float | None:
        return registry.get_sample_value(
            "gateway_service_health", {"service_name": "gauge-svc", "status": status}
        )

    assert (value("healthy"), value("degraded"), value("unhealthy")) == (0.0, 1.0, 0.0)


# --- the shared cache and the single flight ----------------------------------------------------
async def test_a_first_check_calls_every_service_and_shares_the_report(redis: Any) -> None:
    calls: list[str] = []
    checker = make_checker(redis, services_answering({"auth": 200, "sales": 500}, calls), URLS)

    report, state = await checker.aggregate()

    assert state is CacheState.MISS
    assert sorted(calls) == ["auth", "sales"]
    assert report.status is Status.DEGRADED
    assert json.loads(await redis.get(redis_keyspace.HEALTH_REPORT_KEY))["status"] == "degraded"
    assert 0 < await redis.ttl(redis_keyspace.HEALTH_REPORT_KEY) <= redis_keyspace.health_report_ttl(30)
    assert await redis.get(redis_keyspace.HEALTH_LOCK_KEY) is None


async def check_twice(redis: Any, seconds_between: float) -> tuple[HealthReport, CacheState, list[str]]:
    """Two checks of two answering services, ``seconds_between`` apart: the second's report and
    cache state, and every service call made."""
    calls: list[str] = []
    clock = Clock()
    checker = make_checker(redis, services_answering({"auth": 200, "sales": 200}, calls), URLS, clock)
    await checker.aggregate()
    clock.now += seconds_between
    report, state = await checker.aggregate()
    return report, state, calls


async def test_a_check_within_the_cache_period_calls_no_service(redis: Any) -> None:
    report, state, calls = await check_twice(redis, 29)

    assert state is CacheState.HIT
    assert len(calls) == 2
    assert report.checked_at == NOW


async def test_a_check_after_the_cache_period_calls_the_services_again(redis: Any) -> None:
    _, state, calls = await check_twice(redis, 31)

    assert state is CacheState.MISS
    assert len(calls) == 4


async def test_a_container_that_loses_the_lock_waits_for_the_winners_report(redis: Any) -> None:
    winner_calls: list[str] = []
    loser_calls: list[str] = []
    release = asyncio.Event()

    async def slow_handler(request: httpx.Request) -> httpx.Response:
        winner_calls.append(request.url.host)
        await release.wait()
        return httpx.Response(200)

    winner = make_checker(redis, httpx.MockTransport(slow_handler), URLS)
    loser = make_checker(redis, services_answering({"auth": 200, "sales": 200}, loser_calls), URLS)

    winning = asyncio.create_task(winner.aggregate())
    await asyncio.sleep(0.01)  # the winner holds the lock and waits on its services
    losing = asyncio.create_task(loser.aggregate())
    await asyncio.sleep(0.1)
    release.set()

    (_, winner_state), (report, loser_state) = await asyncio.gather(winning, losing)
    assert (winner_state, loser_state) == (CacheState.MISS, CacheState.SHARED)
    assert loser_calls == []
    assert report.status is Status.HEALTHY


async def test_a_loser_whose_winner_never_reports_answers_the_stale_report(redis: Any) -> None:
    calls: list[str] = []
    stale = HealthReport(Status.HEALTHY, {"auth": service(Status.HEALTHY)}, NOW - 100)
    await redis.set(redis_keyspace.HEALTH_REPORT_KEY, json.dumps(stale.to_json()))
    await redis.set(redis_keyspace.HEALTH_LOCK_KEY, "a crashed container")
    checker = make_checker(redis, services_answering({"auth": 200}, calls), URLS, timeout=0.05)

    report, state = await checker.aggregate()

    assert state is CacheState.STALE
    assert report.checked_at == NOW - 100
    assert calls == []


async def test_a_loser_with_nothing_cached_checks_itself_when_the_winner_never_reports(redis: Any) -> None:
    calls: list[str] = []
    await redis.set(redis_keyspace.HEALTH_LOCK_KEY, "a crashed container")
    checker = make_checker(
        redis, services_answering({"auth": 200}, calls), {"auth": "http://auth"}, timeout=0.05
    )

    _, state = await checker.aggregate()

    assert state is CacheState.MISS
    assert calls == ["auth"]


class BrokenRedis:
    async def get(self, name: str) -> Any:
        raise ConnectionError("redis is down")

    async def set(self, *args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("redis is down")

    async def eval(self, *args: Any) -> Any:
        raise ConnectionError("redis is down")


async def test_without_redis_the_services_are_checked_directly() -> None:
    calls: list[str] = []
    checker = make_checker(BrokenRedis(), services_answering({"auth": 200, "sales": 200}, calls), URLS)

    report, state = await checker.aggregate()

    assert state is CacheState.UNAVAILABLE
    assert report.status is Status.HEALTHY
    assert sorted(calls) == ["auth", "sales"]


# --- GET /health -------------------------------------------------------------------------------------
async def test_gateway_health_lists_the_cached_services_without_calling_them(redis: Any) -> None:
    calls: list[str] = []
    checker = make_checker(redis, services_answering({"auth": 200, "sales": 500}, calls), URLS)
    await checker.aggregate()

    document = await checker.gateway_health()

    assert len(calls) == 2
    assert document["services"] == {"auth": "healthy", "sales": "unhealthy"}
    assert (document["status"], document["redis"]) == ("healthy", "connected")
    assert set(document) >= {"status", "version", "services", "redis", "timestamp"}


async def test_gateway_health_lists_no_services_before_any_check(redis: Any) -> None:
    calls: list[str] = []
    checker = make_checker(redis, services_answering({}, calls), URLS)

    document = await checker.gateway_health()

    assert document["services"] == {}
    assert calls == []


async def test_gateway_health_without_redis_is_degraded_and_says_so() -> None:
    checker = make_checker(BrokenRedis(), services_answering({}, []), URLS)

    document = await checker.gateway_health()

    assert (document["status"], document["redis"], document["services"]) == ("degraded", "disconnected", {})
