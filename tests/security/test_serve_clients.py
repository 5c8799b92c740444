"""``bakery-gateway serve`` against slow and hostile clients, over raw sockets (docs/standalone.md).

Each attack used to hold a connection (and a worker's memory and file descriptors) without end:
a connection that sends nothing, a head or a body sent a byte at a time, a ``Content-Length`` of
a terabyte followed by three bytes, a head of any size, any number of connections. The server under
attack has one worker and short deadlines, set through the environment (``SERVE_*``) as an operator
would; its service is a stub that records what reaches it.
"""

from __future__ import annotations

import itertools
import select
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import PAYING_TENANTS, mark_paying, service_base_url
from tests.e2e.conftest import deployment_environment
from tests.security.raw_http import parse_response
from tests.support.redis_server import RedisEndpoint
from tests.support.standalone_server import Server, standalone
from tests.support.stub_service import StubService

HEADER_TIMEOUT = 2.0
BODY_TIMEOUT = 2.0
MAX_HEADER_BYTES = 4096
SLACK = 2.5  # a busy 2-core machine
NEVER = 30.0  # how long a test waits for what should come at a deadline
ATTACKERS = 200  # of each kind, as in the finding


@pytest.fixture(scope="module")
def sales() -> Iterator[StubService]:
    with StubService() as stub:
        yield stub


def serve_environment(
    redis_server: RedisEndpoint, dev_keys: DevKeyPair, sales: StubService
) -> dict[str, str]:
    return {
        **deployment_environment(redis_server, dev_keys),
        names.service_url_variable("sales"): service_base_url(sales, "sales"),
        names.SERVE_HEADER_TIMEOUT_SECONDS: str(HEADER_TIMEOUT),
        names.SERVE_BODY_TIMEOUT_SECONDS: str(BODY_TIMEOUT),
        names.SERVE_MAX_HEADER_BYTES: str(MAX_HEADER_BYTES),
    }


@pytest.fixture(scope="module")
def server(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
    sales: StubService,
) -> Iterator[Server]:
    log_path = tmp_path_factory.mktemp("serve-attacked") / "serve.log"
    with standalone(serve_environment(redis_server, dev_keys, sales), log_path, "--workers", "1") as running:
        yield running


@pytest.fixture(autouse=True)
def paying_tenants(redis_server: RedisEndpoint) -> None:
    """tenant-a pays: a write that reaches the policies is forwarded (subscriptions are not tested here)."""
    client = redis_server.client()
    mark_paying(client, *PAYING_TENANTS)
    client.close()


@pytest.fixture
def received(sales: StubService) -> StubService:
    sales.reset()
    return sales


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a", roles=["owner"])


def connect(server: Server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=NEVER)
    sock.settimeout(NEVER)
    return sock


def until_closed(sock: socket.socket) -> tuple[int, float]:
    """Read until the server closes: its answer's status (0: none) and the seconds it took."""
    started = time.monotonic()
    data = b""
    try:
        while chunk := sock.recv(65536):
            data += chunk
    except (ConnectionResetError, TimeoutError):
        pass
    return parse_response(data).status, time.monotonic() - started


def trickle(sock: socket.socket, data: bytes, every: float = 0.25) -> float:
    """Send ``data`` (again and again) a byte every ``every`` seconds until the server answers or
    closes; the seconds that took."""
    started = time.monotonic()
    for byte in itertools.cycle(data):
        readable, _, _ = select.select([sock], [], [], every)
        if readable or time.monotonic() - started > NEVER:
            break
        try:
            sock.send(bytes([byte]))
        except OSError:
            break
    return time.monotonic() - started


def post_head(path: str, token: str, length: int) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: gateway.test\r\nAuthorization: Bearer {token}\r\n"
        f"X-Tenant-ID: tenant-a\r\nContent-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


# --- the head ------------------------------------------------------------------------------------
def test_a_connection_that_sends_nothing_is_closed_at_the_header_deadline(server: Server) -> None:
    with connect(server) as sock:
        status, seconds = until_closed(sock)

    assert status == 0  # nothing was asked: nothing is answered
    assert HEADER_TIMEOUT - 0.2 < seconds < HEADER_TIMEOUT + SLACK


def test_a_head_sent_a_byte_at_a_time_is_refused_at_the_header_deadline(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: gateway.test\r\n")
        seconds = trickle(sock, b"X-Slow: still-coming")
        status, _ = until_closed(sock)

    assert status == 408
    assert seconds < HEADER_TIMEOUT + SLACK


def test_a_head_over_the_limit_is_refused_431_and_closed(server: Server) -> None:
    head = b"GET /health HTTP/1.1\r\nHost: gateway.test\r\nX-Big: " + b"a" * MAX_HEADER_BYTES + b"\r\n\r\n"

    with connect(server) as sock:
        sock.sendall(head)
        status, seconds = until_closed(sock)

    assert status == 431
    assert seconds < SLACK


def test_an_endless_head_is_refused_once_past_the_limit(server: Server) -> None:
    with connect(server) as sock:
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: gateway.test\r\nX-Endless: ")
        try:
            for _ in range(MAX_HEADER_BYTES):  # far more than the limit, a KiB at a time
                sock.sendall(b"a" * 1024)
        except OSError:  # refused and closed while sending
            pass
        status, seconds = until_closed(sock)

    assert status in (0, 431)  # 0: the connection was reset before the answer could be read
    assert seconds < SLACK


def test_a_head_within_the_limit_is_answered(server: Server) -> None:
    headers = {"X-Big": "a" * (MAX_HEADER_BYTES - 512)}

    response = httpx.get(f"{server.url}/health", headers=headers, timeout=10)

    assert response.status_code == 200


# --- the body ------------------------------------------------------------------------------------
def test_a_terabyte_announced_and_three_bytes_sent_is_refused_at_the_body_deadline(
    server: Server, token: str, received: StubService
) -> None:
    with connect(server) as sock:
        sock.sendall(post_head("/api/v1/sales/orders", token, 999_999_999_999) + b"abc")
        status, seconds = until_closed(sock)

    assert status in (408, 413)  # 413: a gateway that refuses the announced length at once
    assert seconds < BODY_TIMEOUT + SLACK
    assert received.requests == []


def test_a_body_sent_a_byte_at_a_time_is_refused_at_the_body_deadline(
    server: Server, token: str, received: StubService
) -> None:
    # A deadline for the whole body, not for each read: a byte every 0.25 s never idles long.
    with connect(server) as sock:
        sock.sendall(post_head("/api/v1/sales/orders", token, 1000))
        seconds = trickle(sock, b'{"qty": 1}')
        status, _ = until_closed(sock)

    assert status == 408
    assert seconds < BODY_TIMEOUT + SLACK
    assert received.requests == []


def test_a_body_cut_short_by_the_client_never_reaches_the_service(
    server: Server, token: str, received: StubService
) -> None:
    with connect(server) as sock:
        sock.sendall(post_head("/api/v1/sales/orders", token, 100) + b'{"qty": 1')
    time.sleep(1.0)  # what the gateway would have forwarded has arrived by now

    assert received.requests == []  # a part of a body is never taken for the whole


def test_a_whole_body_is_forwarded(server: Server, token: str, received: StubService) -> None:
    body = b'{"qty": 1}'

    with connect(server) as sock:
        sock.sendall(
            post_head("/api/v1/sales/orders", token, len(body)).replace(b"HTTP/1.1", b"HTTP/1.0") + body
        )
        status, _ = until_closed(sock)

    assert status == 200
    assert received.last_request.body == body


# --- many at once ----------------------------------------------------------------------------------
def test_slow_heads_and_slow_bodies_are_all_closed_at_their_deadlines_and_others_served_meanwhile(
    server: Server, token: str, received: StubService
) -> None:
    with ExitStack() as stack:
        slow_heads = [stack.enter_context(connect(server)) for _ in range(ATTACKERS)]
        slow_bodies = [stack.enter_context(connect(server)) for _ in range(ATTACKERS)]
        for sock in slow_heads:
            sock.sendall(b"GET /api/v1/sales/items HTTP/1.1\r\nHost: gateway.test\r\n")
        for sock in slow_bodies:
            sock.sendall(post_head("/api/v1/sales/orders", token, 1000) + b"{")
        started = time.monotonic()

        served = httpx.get(f"{server.url}/health", timeout=10)
        open_sockets = set(slow_heads + slow_bodies)
        for sock in open_sockets:
            sock.setblocking(False)
        while open_sockets and time.monotonic() - started < BODY_TIMEOUT + HEADER_TIMEOUT + SLACK:
            readable, _, _ = select.select(list(open_sockets), [], [], 0.5)
            open_sockets -= {sock for sock in readable if _closed_after_reading(sock)}

    assert served.status_code == 200
    assert not open_sockets, f"{len(open_sockets)} of {2 * ATTACKERS} connections still held"
    assert received.requests == []


def _closed_after_reading(sock: socket.socket) -> bool:
    try:
        while sock.recv(65536):
            pass
    except (BlockingIOError, TimeoutError):
        return False
    except ConnectionResetError:
        pass
    return True


def test_connections_past_the_limit_are_refused_at_once(
    tmp_path: Path, redis_server: RedisEndpoint, dev_keys: DevKeyPair, sales: StubService
) -> None:
    limit = 10
    environ = {
        **serve_environment(redis_server, dev_keys, sales),
        names.SERVE_MAX_CONNECTIONS: str(limit),
        names.SERVE_HEADER_TIMEOUT_SECONDS: "4",
    }
    with standalone(environ, tmp_path / "serve.log", "--workers", "1") as limited, ExitStack() as stack:
        time.sleep(0.5)  # the start-up health check's connection is gone
        held = [stack.enter_context(connect(limited)) for _ in range(limit)]
        for sock in held:
            sock.sendall(b"GET /health HTTP/1.1\r\n")  # a head that never ends
        with connect(limited) as one_more:
            refused, refused_within = until_closed(one_more)
        time.sleep(4 + SLACK)  # the held connections' header deadline has passed
        served_after = httpx.get(f"{limited.url}/health", timeout=10)

    assert refused == 503
    assert refused_within < SLACK
    assert served_after.status_code == 200
