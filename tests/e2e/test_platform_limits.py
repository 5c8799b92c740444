"""Lambda's and API Gateway's quotas in the local runtime, over real sockets (docs/limits.md): what the
cloud refuses is refused here, with the cloud's answer.

The runtime of this module has short stand-ins for the long limits: API Gateway's 30 s integration
timeout (``INTEGRATION_SECONDS``), the WebSocket API's 10 minutes idle and 2 hours per connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
import redis
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from bakery_gateway import constants as names
from bakery_gateway.api.platform_limits import (
    DEFAULT_MAX_REQUEST_BYTES,
    HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES,
    LAMBDA_REQUEST_PAYLOAD_BYTES,
    WEBSOCKET_FRAME_BYTES,
    WEBSOCKET_MESSAGE_BYTES,
)
from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.server import INTEGRATION_TIMEOUT_VARIABLE
from bakery_local.websocket_gateway import IDLE_SECONDS_VARIABLE, MAX_SECONDS_VARIABLE
from tests.conftest import service_base_url
from tests.e2e.conftest import deployment_environment
from tests.e2e.runtime import RunningGateway, local_gateway
from tests.security.raw_http import request_bytes, send_raw
from tests.support.redis_server import RedisEndpoint
from tests.support.stub_service import StubService

INTEGRATION_SECONDS = 4.0
IDLE_SECONDS = 2.0
CONNECTION_SECONDS = 4.0
HANGING_SERVICE = (
    "external"  # on a stub that answers after the proxy's read timeout, itself after INTEGRATION_SECONDS
)
PATH = "/api/v1/sales/uploads"
CLIENT_ADDRESS = "203.0.113.9"  # what a client claims in X-Forwarded-For


@pytest.fixture(scope="module")
def hanging_service() -> Iterator[StubService]:
    with StubService() as stub:
        stub.be_slow(INTEGRATION_SECONDS * 3)
        yield stub


@pytest.fixture(scope="module")
def runtime(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
    services: StubService,
    hanging_service: StubService,
) -> Iterator[RunningGateway]:
    """The runtime as a developer runs it: MAX_REQUEST_BYTES and the downstream deadline not set
    short, the platform's long limits short."""
    environ = {
        **deployment_environment(redis_server, dev_keys),
        names.DOWNSTREAM_READ_TIMEOUT_SECONDS: str(INTEGRATION_SECONDS * 2),
        INTEGRATION_TIMEOUT_VARIABLE: str(INTEGRATION_SECONDS),
        IDLE_SECONDS_VARIABLE: str(IDLE_SECONDS),
        MAX_SECONDS_VARIABLE: str(CONNECTION_SECONDS),
    }
    for service in names.SERVICES:
        environ[names.service_url_variable(service)] = service_base_url(services, service)
    environ[names.service_url_variable(HANGING_SERVICE)] = hanging_service.url
    log_path = tmp_path_factory.mktemp("limits") / "gateway.log"
    with local_gateway(environ, log_path) as running:
        yield running


@pytest.fixture(scope="module")
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a")


@pytest.fixture
def warm(runtime: RunningGateway, token: str, received: StubService) -> RunningGateway:
    """The runtime with the proxy imported (its cold start not inside a test's timing)."""
    assert httpx.get(f"{runtime.url}/api/v1/sales/warm", headers=bearer(token), timeout=30).status_code == 200
    received.reset()
    return runtime


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def proxy_invocations(runtime: RunningGateway) -> int:
    invocations = runtime.status()["function_invocations"]
    assert isinstance(invocations, dict)
    return int(invocations["ProxyFunction"])


# --- Lambda's invocation payload ----------------------------------------------------------------
def test_an_event_over_lambdas_6_mb_is_api_gateways_500_and_no_function_runs(
    warm: RunningGateway, token: str, received: StubService
) -> None:
    body = bytes(5 * 1024 * 1024)  # under HTTP API's 10 MB; base64 in the event: 6.7 MiB
    invoked = proxy_invocations(warm)

    response = httpx.post(
        f"{warm.url}{PATH}",
        headers={**bearer(token), "Content-Type": "application/octet-stream"},
        content=body,
        timeout=30,
    )

    assert len(body) * 4 // 3 > LAMBDA_REQUEST_PAYLOAD_BYTES
    assert (response.status_code, response.json()) == (500, {"message": "Internal Server Error"})
    assert proxy_invocations(warm) == invoked
    assert received.requests == []


def test_the_largest_body_accepted_by_default_reaches_its_service(
    warm: RunningGateway, token: str, received: StubService
) -> None:
    body = bytes(DEFAULT_MAX_REQUEST_BYTES)

    response = httpx.post(
        f"{warm.url}{PATH}",
        headers={**bearer(token), "Content-Type": "application/octet-stream"},
        content=body,
        timeout=30,
    )

    assert response.status_code == 200
    assert len(received.last_request.body) == len(body)


# --- HTTP API: request line and headers, integration timeout ----------------------------------
def headers_of_size(token: str, size: int) -> list[tuple[str, str]]:
    """Headers that make ``GET PATH HTTP/1.1`` (as ``request_bytes`` writes it) ``size`` bytes of
    request line and header values."""
    request_line = len(f"GET {PATH} HTTP/1.1")
    fixed = [("Authorization", f"Bearer {token}")]
    written = request_line + len("gateway.test") + len("close") + sum(len(value) for _, value in fixed)
    return [*fixed, ("X-Padding", "p" * (size - written))]


def test_a_request_line_and_headers_of_10240_bytes_pass(
    warm: RunningGateway, token: str, received: StubService
) -> None:
    headers = headers_of_size(token, HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES)

    response = send_raw(warm.url, request_bytes("GET", PATH, headers))

    assert response.status == 200
    assert len(received.requests) == 1


def test_a_request_line_and_headers_over_10240_bytes_are_refused_431_before_any_function(
    warm: RunningGateway, token: str, received: StubService
) -> None:
    headers = headers_of_size(token, HTTP_API_REQUEST_LINE_AND_HEADERS_BYTES + 1)
    invoked = proxy_invocations(warm)

    response = send_raw(warm.url, request_bytes("GET", PATH, headers))

    assert (response.status, json.loads(response.body)) == (
        431,
        {"message": "Request Header Fields Too Large"},
    )
    assert proxy_invocations(warm) == invoked
    assert received.requests == []


def test_no_answer_within_the_integration_timeout_is_api_gateways_503(
    warm: RunningGateway, token: str
) -> None:
    started = time.monotonic()
    response = httpx.get(f"{warm.url}/api/v1/{HANGING_SERVICE}/slow", headers=bearer(token), timeout=30)
    elapsed = time.monotonic() - started

    assert (response.status_code, response.json()) == (503, {"message": "Service Unavailable"})
    assert INTEGRATION_SECONDS <= elapsed < INTEGRATION_SECONDS * 2


# --- the client's address ---------------------------------------------------------------------
def test_a_clients_address_is_the_sockets_peer_whatever_x_forwarded_for_claims(
    warm: RunningGateway, token: str, received: StubService
) -> None:
    response = httpx.get(
        f"{warm.url}{PATH}", headers={**bearer(token), "X-Forwarded-For": CLIENT_ADDRESS}, timeout=10
    )

    assert response.status_code == 200
    assert received.last_request.header_values("x-forwarded-for") == ["127.0.0.1"]


def test_a_websocket_clients_address_is_the_sockets_peer_whatever_x_forwarded_for_claims(
    runtime: RunningGateway, dev_keys: DevKeyPair, tenant: str, client: redis.Redis
) -> None:
    token = dev_keys.mint(user_id="user-1", tenant_id=tenant, tenant_ids=[tenant])
    with connect(ws_url(runtime, token), additional_headers={"X-Forwarded-For": CLIENT_ADDRESS}) as socket:
        socket.send(json.dumps({"action": "ping"}))
        assert json.loads(socket.recv(timeout=10)) == {"type": "pong"}
        connection_id = connection_of(client, tenant)

        answer = httpx.get(f"{runtime.url}/@connections/{quote(connection_id, safe='')}", timeout=10)

    assert answer.json()["identity"]["sourceIp"] == "127.0.0.1"


def connection_of(client: redis.Redis, tenant: str) -> str:
    """The id of the one open connection of ``tenant``, from the WebSocket function's records."""
    keys = client.scan_iter(match=redis_keyspace.ws_connection_key("*"))
    ids = [
        str(key).removeprefix(redis_keyspace.WS_CONNECTION_PREFIX)
        for key in keys
        if client.hget(key, "tenant_id") == tenant
    ]
    assert len(ids) == 1, ids
    return ids[0]


# --- the WebSocket API --------------------------------------------------------------------------
def ws_url(runtime: RunningGateway, token: str) -> str:
    return runtime.url.replace("http://", "ws://") + f"/api/v1/training/ws?token={token}"


def close_code(socket: ClientConnection, *, pinging: bool = False) -> int | None:
    """The code the server closes ``socket`` with: read until it does (``pinging``: ping every
    quarter of the idle time meanwhile, so the connection is never idle)."""
    try:
        while True:
            if pinging:
                socket.send(json.dumps({"action": "ping"}))
            socket.recv(timeout=CONNECTION_SECONDS * 3)
            if pinging:
                time.sleep(IDLE_SECONDS / 4)
    except ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


@pytest.mark.parametrize("size", [WEBSOCKET_FRAME_BYTES + 1, WEBSOCKET_MESSAGE_BYTES + 1])
def test_a_websocket_frame_over_32_kb_closes_the_connection_1009(
    runtime: RunningGateway, token: str, size: int
) -> None:
    with connect(ws_url(runtime, token)) as socket:
        socket.send("x" * size)  # one frame: what browsers send

        assert close_code(socket) == 1009


def test_an_idle_websocket_is_closed_1001(runtime: RunningGateway, token: str) -> None:
    with connect(ws_url(runtime, token)) as socket:
        started = time.monotonic()

        assert close_code(socket) == 1001
        assert time.monotonic() - started >= IDLE_SECONDS * 0.9


def test_a_websocket_is_closed_1001_at_its_maximum_duration_however_busy(
    runtime: RunningGateway, token: str
) -> None:
    with connect(ws_url(runtime, token)) as socket:
        started = time.monotonic()

        assert close_code(socket, pinging=True) == 1001
        assert time.monotonic() - started >= CONNECTION_SECONDS * 0.9
