"""``bakery-gateway serve``: the production server, two worker processes, real Redis, a real service."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import service_base_url
from tests.e2e.conftest import deployment_environment, tenant_headers
from tests.support.redis_server import RedisEndpoint, free_port
from tests.support.standalone_server import LOCAL_CONVENIENCES, Server, standalone
from tests.support.stub_service import StubService


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
    services: StubService,
) -> Iterator[Server]:
    """Configured like a container: real Redis, configured keys, one real service (sales)."""
    environ = {
        **deployment_environment(redis_server, dev_keys),
        names.service_url_variable("sales"): service_base_url(services, "sales"),
    }
    log_path = tmp_path_factory.mktemp("serve") / "serve.log"
    with standalone(environ, log_path, "--workers", "2") as running:
        yield running


def _metric(exposition: str, name: str) -> float:
    found = re.search(rf"^{name} ([\d.e+]+)$", exposition, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def test_an_authorized_request_is_proxied_to_its_service(
    server: Server, dev_keys: DevKeyPair, received: StubService
) -> None:
    token = dev_keys.mint(user_id="serve-user", tenant_id="tenant-a")

    response = httpx.get(f"{server.url}/api/v1/sales/items", headers=tenant_headers(token), timeout=10)

    assert response.status_code == 200
    assert received.last_request.path == "/sales-svc/api/v1/sales/items"
    assert received.last_request.header("x-user-id") == "serve-user"
    assert received.last_request.header("x-tenant-id") == "tenant-a"


def test_a_request_without_a_token_is_refused_before_the_authorizer(server: Server) -> None:
    response = httpx.get(f"{server.url}/api/v1/sales/items", timeout=10)

    assert response.status_code == 401


def test_the_authorizer_verdict_is_cached_per_worker(
    server: Server, dev_keys: DevKeyPair, received: StubService
) -> None:
    token = dev_keys.mint(user_id="serve-cache-user", tenant_id="tenant-a")
    # One keep-alive connection: every request lands on the same worker process, whose /metrics
    # counts the authorizer's own verifications (claims-cache hits and misses).
    with httpx.Client(base_url=server.url, timeout=10) as client:
        before = client.get("/metrics").text
        for _ in range(5):
            assert client.get("/api/v1/sales/items", headers=tenant_headers(token)).status_code == 200
        after = client.get("/metrics").text

    authorizations = sum(
        _metric(after, name) - _metric(before, name)
        for name in ("gateway_auth_cache_hits_total", "gateway_auth_cache_misses_total")
    )
    assert authorizations == 1
    assert len(received.requests) == 5


def test_there_are_no_development_routes(server: Server) -> None:
    response = httpx.get(f"{server.url}/_local/status", timeout=10)

    assert response.status_code == 404


def test_no_sample_service_stands_in_for_an_unconfigured_one(server: Server, dev_keys: DevKeyPair) -> None:
    token = dev_keys.mint(user_id="serve-user", tenant_id="tenant-a")

    response = httpx.get(f"{server.url}/api/v1/inventory/items", headers=tenant_headers(token), timeout=10)

    assert response.status_code == 503
    assert response.json()["detail"] == "the inventory service is not configured"


def test_no_demo_session_service_is_started(server: Server) -> None:
    response = httpx.post(
        f"{server.url}/api/v1/demo/sessions", json={"demo_account_type": "enterprise"}, timeout=10
    )

    assert response.status_code == 503
    assert response.json()["detail"] == "the demo service is not configured"


def test_it_refuses_to_start_when_redis_does_not_answer(
    tmp_path: Path, dev_keys: DevKeyPair, closed_port: int
) -> None:
    environ = {
        **{name: value for name, value in os.environ.items() if name not in LOCAL_CONVENIENCES},
        names.REDIS_HOST: "127.0.0.1",
        names.REDIS_PORT: str(closed_port),
        names.JWT_PUBLIC_KEYS: dev_keys.public_keys_json,
    }

    completed = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "bakery_local.cli", "serve", "--port", str(free_port())],
        env=environ,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert completed.returncode == 2
    assert f"Redis at 127.0.0.1:{closed_port} does not answer" in completed.stderr
    assert names.REDIS_HOST in completed.stderr


def test_sigterm_stops_every_worker_cleanly(
    tmp_path: Path, redis_server: RedisEndpoint, dev_keys: DevKeyPair
) -> None:
    with standalone(
        deployment_environment(redis_server, dev_keys), tmp_path / "serve.log", "--workers", "2"
    ) as running:
        running.process.send_signal(signal.SIGTERM)
        code = running.process.wait(timeout=15)

    assert code == 0
    assert "Traceback" not in running.log_path.read_text()
