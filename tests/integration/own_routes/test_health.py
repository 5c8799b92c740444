"""GET /api/v1/health and GET /health through the proxy function: real services over HTTP, real Redis.

Four services: auth answers, sales answers 500, orders hangs past the timeout, pos refuses the
connection. Each stub counts the health checks it receives.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from bakery_gateway import constants as names
from bakery_gateway.clients.factories import PerEventLoop, async_redis_factory
from bakery_gateway.own_routes.health import CacheState, HealthChecker
from bakery_gateway.settings import HealthSettings, RedisSettings, Settings
from tests.conftest import MetricReader
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway
from tests.support.redis_server import RedisEndpoint
from tests.support.stub_service import StubService

# HEALTH_CHECK_TIMEOUT_SECONDS: the hanging service costs each test this long; a healthy one answering a
# cold container on a loaded CI machine must fit in it with room to spare (0.3 s once did not).
TIMEOUT = "1.0"


@pytest.fixture
def healthy() -> Iterator[StubService]:
    with StubService() as stub:
        stub.reply(200, [("Content-Type", "application/json")], b'{"status":"ok"}')
        yield stub


@pytest.fixture
def failing() -> Iterator[StubService]:
    with StubService() as stub:
        stub.reply(500, body=b"database down")
        yield stub


@pytest.fixture
def hanging() -> Iterator[StubService]:
    with StubService() as stub:
        stub.be_slow(10)
        yield stub


@pytest.fixture
def service_urls(
    healthy: StubService, failing: StubService, hanging: StubService, closed_port: int
) -> dict[str, str]:
    return {
        "auth": healthy.url,
        "sales": failing.url,
        "orders": hanging.url,
        "pos": f"http://127.0.0.1:{closed_port}",
    }


def only_these_services(urls: dict[str, str]) -> dict[str, str]:
    """Environment overrides: these services configured, every other one not."""
    overrides = {names.service_url_variable(service): "" for service in names.SERVICES}
    overrides.update({names.service_url_variable(service): url for service, url in urls.items()})
    return overrides


@pytest.fixture
def start(start_gateway: GatewayStarter, service_urls: dict[str, str]) -> Callable[..., LambdaGateway]:
    def start_with(**overrides: str) -> LambdaGateway:
        return start_gateway(
            **{**only_these_services(service_urls), names.HEALTH_CHECK_TIMEOUT_SECONDS: TIMEOUT, **overrides}
        )

    return start_with


def health_checks(stub: StubService) -> int:
    return sum(1 for request in stub.requests if request.path == "/health")


def test_each_service_is_reported_with_its_status_latency_and_reason(
    start: Callable[..., LambdaGateway],
) -> None:
    gateway = start()

    response = gateway.request("GET", "/api/v1/health")

    assert response.status == 200
    report = response.json()
    services = report["services"]
    assert (services["auth"]["status"], services["auth"]["http_status"]) == ("healthy", 200)
    assert (services["sales"]["status"], services["sales"]["http_status"]) == ("unhealthy", 500)
    assert (services["orders"]["status"], services["orders"]["error"]) == ("unhealthy", "timeout")
    assert (services["pos"]["status"], services["pos"]["error"]) == ("unhealthy", "unreachable")
    assert all(isinstance(service["latency_ms"], float) for service in services.values())
    assert services["orders"]["latency_ms"] < 5000  # cut at the timeout, long before the 10 s it hangs
    assert report["status"] == "degraded"
    assert report["cache"] == "miss"
    assert report["checked_at"].endswith("Z")


def test_the_checks_run_concurrently(start: Callable[..., LambdaGateway], hanging: StubService) -> None:
    gateway = start(HEALTH_CHECK_TIMEOUT_SECONDS="0.5")
    hanging.be_slow(10)

    response = gateway.request("GET", "/api/v1/health")

    # Four services, one of them hanging: one timeout's worth, not one per service.
    assert max(service["latency_ms"] for service in response.json()["services"].values()) < 900


def test_a_second_call_within_the_cache_period_calls_no_service(
    start: Callable[..., LambdaGateway], healthy: StubService, failing: StubService, hanging: StubService
) -> None:
    gateway = start()
    first = gateway.request("GET", "/api/v1/health").json()

    second = gateway.request("GET", "/api/v1/health").json()

    assert second["cache"] == "hit"
    assert second["services"] == first["services"]
    assert (health_checks(healthy), health_checks(failing), health_checks(hanging)) == (1, 1, 1)


def test_the_cache_is_shared_by_every_container(
    start: Callable[..., LambdaGateway], healthy: StubService
) -> None:
    start().request("GET", "/api/v1/health")
    another_container = start()

    response = another_container.request("GET", "/api/v1/health")

    assert response.json()["cache"] == "hit"
    assert health_checks(healthy) == 1


def test_auth_down_makes_the_platform_unhealthy_and_answers_503(
    start_gateway: GatewayStarter, healthy: StubService, failing: StubService
) -> None:
    gateway = start_gateway(
        **only_these_services({"auth": failing.url, "sales": healthy.url}),
        HEALTH_CHECK_TIMEOUT_SECONDS=TIMEOUT,
    )

    response = gateway.request("GET", "/api/v1/health")

    assert response.status == 503
    assert response.json()["status"] == "unhealthy"


def test_every_service_healthy_is_healthy(start_gateway: GatewayStarter, healthy: StubService) -> None:
    gateway = start_gateway(**only_these_services({"auth": healthy.url, "sales": healthy.url}))

    response = gateway.request("GET", "/api/v1/health")

    assert (response.status, response.json()["status"]) == (200, "healthy")


def test_the_service_health_gauge_follows_the_report(
    start: Callable[..., LambdaGateway], metric: MetricReader
) -> None:
    start().request("GET", "/api/v1/health")

    assert metric("gateway_service_health", service_name="auth", status="healthy") == 1
    assert metric("gateway_service_health", service_name="auth", status="unhealthy") == 0
    assert metric("gateway_service_health", service_name="pos", status="unhealthy") == 1
    assert metric("gateway_service_health", service_name="pos", status="healthy") == 0


def test_without_redis_the_services_are_checked_directly_never_a_500(
    start: Callable[..., LambdaGateway], closed_port: int, healthy: StubService
) -> None:
    gateway = start(REDIS_PORT=str(closed_port), REDIS_TIMEOUT_SECONDS="0.2")

    response = gateway.request("GET", "/api/v1/health")

    assert response.status == 200
    assert response.json()["cache"] == "unavailable"
    assert response.json()["services"]["auth"]["status"] == "healthy"
    assert health_checks(healthy) == 1


def test_the_route_is_public(start: Callable[..., LambdaGateway]) -> None:
    response = start().request("GET", "/api/v1/health", headers={"authorization": "Bearer not-a-token"})

    assert response.status == 200


# --- GET /health -----------------------------------------------------------------------------------
def test_gateway_health_lists_the_cached_services_without_calling_them(
    start: Callable[..., LambdaGateway], healthy: StubService
) -> None:
    gateway = start()
    gateway.request("GET", "/api/v1/health")

    health = gateway.request("GET", "/health").json()

    assert health["services"] == {
        "auth": "healthy",
        "orders": "unhealthy",
        "pos": "unhealthy",
        "sales": "unhealthy",
    }
    assert set(health) >= {"status", "version", "services", "redis", "timestamp"}
    assert health_checks(healthy) == 1


def test_gateway_health_before_any_check_lists_no_services(
    start: Callable[..., LambdaGateway], healthy: StubService
) -> None:
    health = start().request("GET", "/health").json()

    assert health["services"] == {}
    assert health_checks(healthy) == 0


# --- a storm across containers ------------------------------------------------------------------------
async def test_twenty_concurrent_checks_in_twenty_containers_call_each_service_once(
    redis_server: RedisEndpoint,
    redis_client: redis.Redis,
    service_urls: dict[str, str],
    healthy: StubService,
    failing: StubService,
    hanging: StubService,
) -> None:
    settings = Settings(
        service_urls=service_urls,
        redis=RedisSettings(host=redis_server.host, port=redis_server.port, db=redis_server.db),
        health=HealthSettings(check_timeout_seconds=0.3, cache_seconds=30),
    )
    clients: list[Any] = []

    def container() -> HealthChecker:
        redis_async = async_redis_factory(settings.redis, decode_responses=False)()
        http = httpx.AsyncClient()
        clients.extend([redis_async, http])
        return HealthChecker(
            settings, redis_clients=PerEventLoop(lambda: redis_async), http_clients=PerEventLoop(lambda: http)
        )

    containers = [container() for _ in range(20)]
    try:
        answers = await asyncio.gather(*(checker.aggregate() for checker in containers))
    finally:
        for client in clients:
            await client.aclose()

    assert (health_checks(healthy), health_checks(failing), health_checks(hanging)) == (1, 1, 1)
    states = [state for _, state in answers]
    assert states.count(CacheState.MISS) == 1
    assert set(states) <= {CacheState.MISS, CacheState.SHARED}
    assert len({report.checked_at for report, _ in answers}) == 1
