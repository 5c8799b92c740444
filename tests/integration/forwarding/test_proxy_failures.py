"""What the proxy function answers when a service, a body or Redis is not as it should be."""

from __future__ import annotations

import time

import pytest

from bakery_gateway.constants import service_url_variable
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway, assert_problem, function_event
from tests.support.stub_service import StubService


# --- the service ---------------------------------------------------------------------------------
def test_a_service_nobody_listens_for_is_a_503_problem(
    start_gateway: GatewayStarter, closed_port: int, token: str
) -> None:
    gateway = start_gateway(**{service_url_variable("sales"): f"http://127.0.0.1:{closed_port}"})

    problem = assert_problem(
        gateway.request("GET", "/api/v1/sales/", token=token), 503, "service-unavailable"
    )

    assert problem["detail"] == "the sales service could not be reached"


def test_a_slow_service_is_a_504_problem_within_the_configured_timeout(
    start_gateway: GatewayStarter, stub_service: StubService, token: str
) -> None:
    gateway = start_gateway(DOWNSTREAM_READ_TIMEOUT_SECONDS="0.3")
    stub_service.be_slow(5)

    started = time.perf_counter()
    response = gateway.request("GET", "/api/v1/forecasting/predict", token=token)
    elapsed = time.perf_counter() - started

    assert_problem(response, 504, "service-timeout")
    assert 0.3 <= elapsed < 1.5


def test_a_service_answering_garbage_is_a_502_problem(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.send_garbage()

    assert_problem(gateway.request("GET", "/api/v1/sales/", token=token), 502, "bad-gateway")


def test_a_service_closing_the_connection_without_answering_is_a_502_problem(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.close_connections()

    assert_problem(gateway.request("POST", "/api/v1/orders/", token=token, body="{}"), 502, "bad-gateway")


def test_the_gateway_recovers_once_the_service_does(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.close_connections()
    assert gateway.request("GET", "/api/v1/sales/", token=token).status == 502

    stub_service.reset()

    assert gateway.request("GET", "/api/v1/sales/", token=token).status == 200


def test_a_services_own_error_status_comes_back_untouched(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(500, [("Content-Type", "application/json")], b'{"error": "db down"}')

    response = gateway.request("GET", "/api/v1/sales/", token=token)

    assert response.status == 500
    assert response.json() == {"error": "db down"}


# --- the request ---------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_a_413_problem_and_reaches_no_service(
    start_gateway: GatewayStarter, stub_service: StubService, token: str
) -> None:
    gateway = start_gateway(MAX_REQUEST_BYTES="1024")

    response = gateway.request("POST", "/api/v1/pos/uploads", token=token, body=b"\x00" * 1025)

    problem = assert_problem(response, 413, "payload-too-large")
    assert problem["max_bytes"] == 1024
    assert stub_service.requests == []


def test_a_body_at_the_limit_is_forwarded(
    start_gateway: GatewayStarter, stub_service: StubService, token: str
) -> None:
    gateway = start_gateway(MAX_REQUEST_BYTES="1024")

    assert gateway.request("POST", "/api/v1/pos/uploads", token=token, body=b"\x00" * 1024).status == 200
    assert len(stub_service.last_request.body) == 1024


def test_a_body_over_the_limit_without_a_content_length_is_a_413_problem(
    start_gateway: GatewayStarter, stub_service: StubService, token: str
) -> None:
    gateway = start_gateway(MAX_REQUEST_BYTES="1024")
    event = function_event(
        "POST", "/api/v1/pos/uploads", body=b"\x00" * 4096, token=token, context=gateway.context_for(token)
    )
    del event["headers"]["content-length"]

    assert_problem(gateway.invoke(event), 413, "payload-too-large")
    assert stub_service.requests == []


def test_a_malformed_authorizer_context_is_a_500_problem_without_internals(
    gateway: LambdaGateway, stub_service: StubService
) -> None:
    response = gateway.request("GET", "/api/v1/sales/", context={"authenticated": True, "user_id": "u"})

    problem = assert_problem(response, 500, "internal-error")
    assert problem["detail"] == "the gateway failed to handle this request; quote the request id"
    assert stub_service.requests == []


# --- Redis ---------------------------------------------------------------------------------------
@pytest.fixture
def gateway_without_redis(start_gateway: GatewayStarter, closed_port: int) -> LambdaGateway:
    return start_gateway(REDIS_PORT=str(closed_port), REDIS_TIMEOUT_SECONDS="0.2")


@pytest.mark.parametrize("method", ["GET", "HEAD", "OPTIONS"])
def test_with_redis_down_reads_still_pass(
    gateway_without_redis: LambdaGateway, stub_service: StubService, token: str, method: str
) -> None:
    response = gateway_without_redis.request(method, "/api/v1/sales/", token=token)

    assert response.status == 200
    assert stub_service.last_request.method == method


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_with_redis_down_writes_are_a_503_problem(
    gateway_without_redis: LambdaGateway, stub_service: StubService, token: str, method: str
) -> None:
    response = gateway_without_redis.request(method, "/api/v1/sales/orders/1", token=token, body="{}")

    assert_problem(response, 503, "state-unavailable")
    assert response.headers["retry-after"] == "5"
    assert stub_service.requests == []


def test_with_redis_down_logout_is_a_503_problem_and_not_forwarded(
    gateway_without_redis: LambdaGateway, stub_service: StubService, token: str
) -> None:
    response = gateway_without_redis.request("POST", "/api/v1/auth/logout", token=token)

    assert_problem(response, 503, "state-unavailable")
    assert stub_service.requests == []
