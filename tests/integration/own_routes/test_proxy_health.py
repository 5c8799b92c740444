"""GET /health: the gateway answers, and says whether Redis does."""

from __future__ import annotations

from datetime import UTC, datetime

from bakery_gateway import __version__
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway
from tests.support.stub_service import StubService


def test_health_reports_status_version_redis_and_a_timestamp(
    gateway: LambdaGateway, stub_service: StubService
) -> None:
    response = gateway.request("GET", "/health")

    assert response.status == 200
    assert response.headers["content-type"] == "application/json"
    health = response.json()
    assert health["status"] == "healthy"
    assert health["version"] == __version__
    assert health["redis"] == "connected"
    timestamp = datetime.fromisoformat(health["timestamp"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - timestamp).total_seconds()) < 5
    assert stub_service.requests == []


def test_health_with_redis_down_is_degraded(start_gateway: GatewayStarter, closed_port: int) -> None:
    gateway = start_gateway(REDIS_PORT=str(closed_port), REDIS_TIMEOUT_SECONDS="0.2")

    response = gateway.request("GET", "/health")

    assert response.status == 200
    assert response.json()["status"] == "degraded"
    assert response.json()["redis"] == "disconnected"


def test_health_echoes_the_request_id(gateway: LambdaGateway) -> None:
    response = gateway.request("GET", "/health", headers={"x-request-id": "probe-1"})

    assert response.headers["x-request-id"] == "probe-1"
