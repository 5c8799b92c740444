"""A service that hangs, resets, answers garbage, trickles, or is not there at all.

For each fault: the client gets its documented problem (docs/resilience.md) within the deadline, the
service sees each request exactly once (none lost, none sent twice), and when the fault ends the
gateway serves again by itself. Real stub service over TCP, real Redis, the cold-started proxy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from bakery_gateway.constants import service_url_variable
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import MetricReader
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.stub_service import StubService

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 0.5
DEADLINE = CONNECT_TIMEOUT + READ_TIMEOUT
SLACK = 1.0  # the rest of the request's work, on a busy 2-core machine (a hang would take 30 s)
AT_ONCE = 0.5  # an open circuit's answer: no call to the service at all
THRESHOLD = 2
OPEN_SECONDS = 0.3
PATH = "/api/v1/sales/"
ENVIRONMENT = {
    "DOWNSTREAM_CONNECT_TIMEOUT_SECONDS": str(CONNECT_TIMEOUT),
    "DOWNSTREAM_READ_TIMEOUT_SECONDS": str(READ_TIMEOUT),
    "CIRCUIT_FAILURE_THRESHOLD": str(THRESHOLD),
    "CIRCUIT_OPEN_SECONDS": str(OPEN_SECONDS),
}

# fault name: (how the stub misbehaves, the status and problem type the client gets)
FAULTS: dict[str, tuple[Callable[[StubService], None], int, str]] = {
    "hang": (lambda stub: stub.be_slow(30), 504, "service-timeout"),
    "trickle": (lambda stub: stub.trickle(0.1), 504, "service-timeout"),
    "reset": (lambda stub: stub.reset_connections(), 502, "bad-gateway"),
    "close": (lambda stub: stub.close_connections(), 502, "bad-gateway"),
    "garbage": (lambda stub: stub.send_garbage(), 502, "bad-gateway"),
}


class Client:
    def __init__(self, gateway: LambdaGateway, context: dict[str, Any]) -> None:
        self.gateway = gateway
        self.context = context

    def send(self, method: str = "GET") -> tuple[ProxyResponse, float]:
        started = time.perf_counter()
        body = "{}" if method in ("POST", "PUT") else None
        response = self.gateway.request(method, PATH, context=self.context, body=body)
        return response, time.perf_counter() - started


@pytest.fixture
def start(start_gateway: GatewayStarter, dev_keys: DevKeyPair) -> Callable[..., Client]:
    def started(**overrides: str) -> Client:
        gateway = start_gateway(**{**ENVIRONMENT, **overrides})
        return Client(gateway, gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a")))

    return started


def reached(stub: StubService) -> int:
    return sum(1 for request in stub.requests if request.path.startswith("/sales-svc"))


# --- each fault ----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_faulty_service_gets_each_request_once_and_the_client_its_problem_within_the_deadline(
    start: Callable[..., Client], stub_service: StubService, fault: str, method: str
) -> None:
    misbehave, status, problem_type = FAULTS[fault]
    client = start()
    misbehave(stub_service)

    response, elapsed = client.send(method)

    assert_problem(response, status, problem_type)
    assert elapsed < DEADLINE + SLACK
    assert reached(stub_service) == 1  # sent once: a request the service may have seen is never retried


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_faulty_service_is_cut_off_then_served_again_when_the_fault_ends(
    start: Callable[..., Client], stub_service: StubService, fault: str
) -> None:
    misbehave, status, _ = FAULTS[fault]
    client = start()
    misbehave(stub_service)
    answers = [client.send()[0].status for _ in range(THRESHOLD)]
    cut_off, elapsed = client.send()
    seen_during_fault = reached(stub_service)

    stub_service.reset()  # the fault ends
    time.sleep(OPEN_SECONDS + 0.1)
    after = [client.send()[0].status for _ in range(3)]

    assert answers == [status] * THRESHOLD
    assert_problem(cut_off, 503, "circuit-open")
    assert elapsed < AT_ONCE
    assert seen_during_fault == THRESHOLD
    assert after == [200, 200, 200]
    assert reached(stub_service) == 3


def test_a_service_slower_than_usual_but_within_the_timeout_is_answered(
    start: Callable[..., Client], stub_service: StubService
) -> None:
    client = start()
    stub_service.be_slow(READ_TIMEOUT / 2)

    statuses = [client.send()[0].status for _ in range(THRESHOLD + 1)]

    assert statuses == [200] * (THRESHOLD + 1)  # slow is not failing: the circuit stays closed


# --- connections refused: the only failure that is retried ---------------------------------------
@pytest.fixture
def refused(start: Callable[..., Client], closed_port: int) -> Callable[..., Client]:
    def started(**overrides: str) -> Client:
        return start(**{service_url_variable("sales"): f"http://127.0.0.1:{closed_port}", **overrides})

    return started


@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "DELETE", "OPTIONS"])
def test_an_idempotent_request_to_a_refusing_service_is_retried_once(
    refused: Callable[..., Client], metric: MetricReader, method: str
) -> None:
    client = refused()
    before = metric("gateway_downstream_retries_total", service="sales", outcome="retried")

    response, elapsed = client.send(method)

    assert response.status == 503
    assert metric("gateway_downstream_retries_total", service="sales", outcome="retried") == before + 1
    assert elapsed < DEADLINE + SLACK


@pytest.mark.parametrize("method", ["POST", "PATCH"])
def test_a_request_that_is_not_idempotent_is_never_retried(
    refused: Callable[..., Client], metric: MetricReader, method: str
) -> None:
    client = refused()
    before = metric("gateway_downstream_retries_total", service="sales", outcome="retried")

    assert_problem(client.send(method)[0], 503, "service-unavailable")
    assert metric("gateway_downstream_retries_total", service="sales", outcome="retried") == before


def test_retries_stop_when_the_budget_is_spent_so_an_outage_is_not_multiplied(
    refused: Callable[..., Client], metric: MetricReader
) -> None:
    client = refused(CIRCUIT_FAILURE_THRESHOLD="0")  # no breaker: only the budget holds retries back
    retried = metric("gateway_downstream_retries_total", service="sales", outcome="retried")
    exhausted = metric("gateway_downstream_retries_total", service="sales", outcome="budget_exhausted")
    requests = 40

    for _ in range(requests):
        assert_problem(client.send()[0], 503, "service-unavailable")

    spent = metric("gateway_downstream_retries_total", service="sales", outcome="retried") - retried
    refused_retries = (
        metric("gateway_downstream_retries_total", service="sales", outcome="budget_exhausted") - exhausted
    )
    assert spent <= 3 + 0.1 * requests  # the budget: a tenth of the requests, plus three
    assert spent + refused_retries == requests


def test_a_refusing_service_opens_its_circuit_like_any_other_failure(
    refused: Callable[..., Client],
) -> None:
    client = refused()
    for _ in range(THRESHOLD):
        assert_problem(client.send()[0], 503, "service-unavailable")

    assert_problem(client.send()[0], 503, "circuit-open")
