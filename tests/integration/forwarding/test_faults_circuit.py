"""Circuit breakers: a failing service is cut off at once, probed once, and let back in by itself.

Real Redis, a real stub service over TCP, the proxy handler cold-started from its environment.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import redis
import redis.asyncio

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.policies.script import PolicyKeys, PolicyScript
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import MetricReader
from tests.integration.conftest import GatewayStarter
from tests.support.demo_sessions import start_demo_session
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.redis_server import RedisEndpoint
from tests.support.stub_service import StubService

THRESHOLD = 3
OPEN_SECONDS = 0.5
PATH = "/api/v1/sales/"
BREAKER = {"CIRCUIT_FAILURE_THRESHOLD": str(THRESHOLD), "CIRCUIT_OPEN_SECONDS": str(OPEN_SECONDS)}


class Client:
    """One caller of the gateway with a cached authorizer verdict, as API Gateway keeps it."""

    def __init__(self, gateway: LambdaGateway, context: dict[str, Any]) -> None:
        self.gateway = gateway
        self.context = context

    def get(self, path: str = PATH) -> ProxyResponse:
        return self.gateway.request("GET", path, context=self.context)


@pytest.fixture
def start(start_gateway: GatewayStarter, dev_keys: DevKeyPair) -> Any:
    def started(**overrides: str) -> Client:
        gateway = start_gateway(**{**BREAKER, **overrides})
        return Client(gateway, gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a")))

    return started


def fail(client: Client, times: int) -> None:
    for _ in range(times):
        assert client.get().status == 503  # the service's own 503, passed on unchanged


def reached(stub: StubService) -> int:
    return sum(1 for request in stub.requests if request.path.startswith("/sales-svc"))


def test_a_run_of_failures_opens_the_circuit_and_the_service_is_no_longer_called(
    start: Any, stub_service: StubService
) -> None:
    client = start()
    stub_service.reply(503, body=b"down")
    fail(client, THRESHOLD)

    started = time.perf_counter()
    response = client.get()
    elapsed = time.perf_counter() - started

    problem = assert_problem(response, 503, "circuit-open")
    assert problem["service"] == "sales"
    assert reached(stub_service) == THRESHOLD
    assert elapsed < 0.5  # answered at once, without waiting on the service


def test_an_open_circuit_says_when_to_retry(start: Any, stub_service: StubService) -> None:
    client = start(CIRCUIT_OPEN_SECONDS="5")
    stub_service.reply(503)
    fail(client, THRESHOLD)

    response = client.get()

    assert_problem(response, 503, "circuit-open")
    assert 1 <= int(response.headers["retry-after"]) <= 5


def test_a_success_ends_a_run_of_failures(start: Any, stub_service: StubService) -> None:
    client = start()
    stub_service.reply(503)
    fail(client, THRESHOLD - 1)
    stub_service.reply(200)
    assert client.get().status == 200
    stub_service.reply(503)
    fail(client, THRESHOLD - 1)

    assert client.get().status == 503
    assert reached(stub_service) == 2 * THRESHOLD  # every request reached it: the circuit stayed closed


def test_server_errors_that_are_not_outages_do_not_open_the_circuit(
    start: Any, stub_service: StubService
) -> None:
    client = start()
    stub_service.reply(500)

    statuses = [client.get().status for _ in range(THRESHOLD * 2)]

    assert statuses == [500] * THRESHOLD * 2
    assert reached(stub_service) == THRESHOLD * 2


def test_other_services_keep_working_while_one_circuit_is_open(start: Any, stub_service: StubService) -> None:
    client = start()
    stub_service.reply(503)
    fail(client, THRESHOLD)
    stub_service.reply(200)

    assert_problem(client.get(), 503, "circuit-open")
    assert client.get("/api/v1/orders/").status == 200


def test_after_the_open_time_one_probe_goes_through_and_its_success_closes_the_circuit(
    start: Any, stub_service: StubService, metric: MetricReader
) -> None:
    client = start()
    stub_service.reply(503)
    fail(client, THRESHOLD)
    assert_problem(client.get(), 503, "circuit-open")
    assert metric("gateway_circuit_state", service="sales") == 2
    stub_service.reply(200)
    time.sleep(OPEN_SECONDS + 0.1)

    probe = client.get()
    after = [client.get().status for _ in range(THRESHOLD)]

    assert probe.status == 200
    assert after == [200] * THRESHOLD
    assert reached(stub_service) == THRESHOLD + 1 + THRESHOLD
    assert metric("gateway_circuit_state", service="sales") == 0


def test_a_failed_probe_opens_the_circuit_again(start: Any, stub_service: StubService) -> None:
    client = start()
    stub_service.reply(503)
    fail(client, THRESHOLD)
    time.sleep(OPEN_SECONDS + 0.1)

    assert client.get().status == 503  # the probe, answered by the failing service
    response = client.get()

    assert_problem(response, 503, "circuit-open")
    assert reached(stub_service) == THRESHOLD + 1


def test_a_container_started_after_the_circuit_opened_refuses_too(
    start: Any, stub_service: StubService
) -> None:
    first = start(CIRCUIT_OPEN_SECONDS="30")
    stub_service.reply(503)
    fail(first, THRESHOLD)

    second = start(CIRCUIT_OPEN_SECONDS="30")  # a fresh cold start: it has seen no failure itself

    assert_problem(second.get(), 503, "circuit-open")
    assert reached(stub_service) == THRESHOLD


def test_a_threshold_of_zero_turns_the_breakers_off(start: Any, stub_service: StubService) -> None:
    client = start(CIRCUIT_FAILURE_THRESHOLD="0")
    stub_service.reply(503)

    fail(client, THRESHOLD * 3)

    assert reached(stub_service) == THRESHOLD * 3


@pytest.mark.usefixtures("redis_client")  # a flushed database
def test_a_half_open_circuit_lends_its_probe_to_exactly_one_of_many_concurrent_requests(
    redis_server: RedisEndpoint,
) -> None:
    """Many containers at once: the script hands the probe lease to one request, refuses the rest."""

    async def race() -> list[bool]:
        client: Any = redis.asyncio.Redis(host=redis_server.host, port=redis_server.port, db=redis_server.db)
        try:
            key = redis_keyspace.circuit_key("sales")
            await client.hset(key, "opened_until", int(time.time() * 1000) - 1)
            scripts = [PolicyScript(client) for _ in range(20)]
            keys = PolicyKeys(None, None, circuit_service="sales")
            snapshots = await asyncio.gather(*(script.run(keys, [], 5000) for script in scripts))
            return [snapshot.circuit.probe for snapshot in snapshots]
        finally:
            await client.aclose()

    probes = asyncio.run(race())

    assert probes.count(True) == 1


def test_a_failing_demo_backend_opens_a_circuit_of_its_own_and_real_tenants_keep_the_service(
    start_gateway: GatewayStarter,
    stub_service: StubService,
    dev_keys: DevKeyPair,
    redis_client: redis.Redis,
) -> None:
    start_demo_session(redis_client, "demo-session", "professional", "demo-bakery")
    with StubService() as demo_backend:
        demo_backend.reply(503)
        gateway = start_gateway(DEMO_SALES_SERVICE_URL=demo_backend.url, **BREAKER)
        demo_token = dev_keys.mint(
            user_id="demo-user",
            tenant_id="demo-bakery",
            extra_claims={
                "is_demo": True,
                "demo_session_id": "demo-session",
                "demo_account_type": "professional",
            },
        )
        demo = Client(gateway, gateway.context_for(demo_token))
        real = Client(gateway, gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a")))

        fail(demo, THRESHOLD)
        assert_problem(demo.get(), 503, "circuit-open")
        assert real.get().status == 200
        assert len(demo_backend.requests) == THRESHOLD
