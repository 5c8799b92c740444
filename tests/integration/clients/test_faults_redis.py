"""Redis stopped, restarted and frozen in the middle of a load; the breakers without Redis.

A private ``redis-server`` the test stops and starts on the same port, a real stub service, the
cold-started proxy. Every request is answered within its bound (reads pass, writes get a 503
problem), reaches the service at most once, and the gateway uses Redis again by itself once it is
back. (A restart while the connections sat idle: test_faults_redis_restart.py.)
"""

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

REDIS_TIMEOUT = 0.4
BOUND = REDIS_TIMEOUT * 2 + 0.3  # a command and its reconnect may each wait the timeout; then the rest
ACTIVE = b'{"status": "active", "plan": "professional"}'
PATH = "/api/v1/orders/"


class Load:
    """Sequential requests from one client, each timed and kept."""

    def __init__(self, gateway: LambdaGateway, context: dict[str, Any]) -> None:
        self.gateway = gateway
        self.context = context
        self.answers: list[tuple[str, ProxyResponse, float]] = []

    def send(self, method: str) -> ProxyResponse:
        started = time.perf_counter()
        body = "{}" if method == "PUT" else None
        response = self.gateway.request(method, PATH, context=self.context, body=body)
        self.answers.append((method, response, time.perf_counter() - started))
        return response

    def run(self, count: int) -> None:
        """Reads and writes, alternately."""
        for index in range(count):
            self.send("PUT" if index % 2 else "GET")

    def reads(self, count: int) -> None:
        for _ in range(count):
            self.send("GET")


@pytest.fixture
def load(
    start_private_gateway: GatewayStarter, dev_keys: DevKeyPair, stub_service: StubService
) -> Callable[..., Load]:
    stub_service.reply(200, [("Content-Type", "application/json")], ACTIVE)

    def started(**overrides: str) -> Load:
        gateway = start_private_gateway(
            **{"REDIS_TIMEOUT_SECONDS": str(REDIS_TIMEOUT), "POLICY_STALE_SECONDS": "60", **overrides}
        )
        return Load(gateway, gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a")))

    return started


def forwarded(stub: StubService) -> int:
    return sum(1 for request in stub.requests if request.path.startswith("/orders-svc"))


def answered(load: Load, answers: slice) -> list[tuple[str, int]]:
    return [(method, response.status) for method, response, _ in load.answers[answers]]


def test_redis_stopped_and_restarted_mid_load_refuses_writes_only_and_recovers_by_itself(
    load: Callable[..., Load], private_redis: RedisProcess, stub_service: StubService, metric: MetricReader
) -> None:
    client = load()
    client.run(30)
    private_redis.stop()
    client.run(40)
    private_redis.start()  # empty: nothing was saved
    client.run(10)
    errors_after_recovery = metric("gateway_redis_errors_total", operation="policy")
    client.run(20)

    # Reads pass; a write's revocation state cannot be read, so it is refused at once (a 503 problem
    # with Retry-After) and never reaches the service; after the restart everything passes again.
    assert {status for _, status in answered(client, slice(0, 30))} == {200}
    for method, response, _ in client.answers[30:70]:
        if method == "GET":
            assert response.status == 200
        else:
            assert_problem(response, 503, "state-unavailable")
            assert response.headers["retry-after"]
    assert {status for _, status in answered(client, slice(70, None))} == {200}
    assert max(elapsed for _, _, elapsed in client.answers) < BOUND
    answered_by_service = sum(1 for _, response, _ in client.answers if response.status == 200)
    assert forwarded(stub_service) == answered_by_service  # each once; refused writes never
    assert metric("gateway_redis_errors_total", operation="policy") == errors_after_recovery
    redis = private_redis.endpoint().client()
    assert redis.keys(redis_keyspace.rate_limit_key("*")), "the policy script runs on the new server"
    redis.close()


def test_redis_frozen_mid_load_bounds_every_request_by_its_timeout_and_recovers(
    load: Callable[..., Load], private_redis: RedisProcess, stub_service: StubService
) -> None:
    client = load()
    client.run(4)
    private_redis.pause()
    try:
        client.run(6)
    finally:
        private_redis.resume()
    client.run(6)

    assert max(elapsed for _, _, elapsed in client.answers) < BOUND
    frozen = answered(client, slice(4, 10))
    assert {status for method, status in frozen if method == "GET"} == {200}
    assert {status for method, status in frozen if method == "PUT"} == {503}
    assert {status for _, status in answered(client, slice(10, None))} == {200}
    answered_by_service = sum(1 for _, response, _ in client.answers if response.status == 200)
    assert forwarded(stub_service) == answered_by_service


def test_without_redis_an_open_circuit_fails_open_and_says_so(
    load: Callable[..., Load],
    private_redis: RedisProcess,
    stub_service: StubService,
    metric: MetricReader,
    caplog: pytest.LogCaptureFixture,
) -> None:
    client = load(CIRCUIT_FAILURE_THRESHOLD="2", CIRCUIT_OPEN_SECONDS="60")
    stub_service.reply(503)
    client.reads(2)
    assert_problem(client.send("GET"), 503, "circuit-open")
    private_redis.stop()
    before = metric("gateway_redis_errors_total", operation="circuit")

    response = client.send("GET")

    assert response.status == 503  # the service's own answer: the request went through
    assert forwarded(stub_service) == 3
    assert metric("gateway_redis_errors_total", operation="circuit") == before + 1
    assert "Redis unavailable: circuit breakers fail open (requests go through)" in caplog.messages


def test_when_redis_returns_the_shared_circuit_applies_again(
    load: Callable[..., Load], private_redis: RedisProcess, stub_service: StubService
) -> None:
    client = load(CIRCUIT_FAILURE_THRESHOLD="2", CIRCUIT_OPEN_SECONDS="60")
    private_redis.stop()
    stub_service.reply(503)
    client.reads(3)  # failures nobody could record
    private_redis.start()

    client.reads(2)

    assert_problem(client.send("GET"), 503, "circuit-open")
