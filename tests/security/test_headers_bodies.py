"""Headers and bodies an attacker shapes: CRLF injection, oversized headers and bodies, conflicting
``Transfer-Encoding``/``Content-Length`` (request smuggling) and hop-by-hop headers, both ways."""

from __future__ import annotations

import pytest

from tests.e2e.runtime import RunningGateway
from tests.security.conftest import MAX_REQUEST_BYTES
from tests.security.raw_http import request_bytes, send_raw
from tests.support.lambda_gateway import LambdaGateway, assert_problem
from tests.support.stub_service import StubService

PATH = "/api/v1/sales/orders"
SMUGGLED = b"GET /api/v1/auth/smuggled HTTP/1.1\r\nHost: gateway.test\r\n\r\n"


def auth(token: str) -> tuple[str, str]:
    return ("Authorization", f"Bearer {token}")


def smuggled_arrived(stub: StubService) -> bool:
    return any("smuggled" in request.path for request in stub.requests)


# --- CRLF injection -----------------------------------------------------------------------------
def test_a_crlf_in_a_header_value_cannot_add_an_identity_header(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    # On the wire, CRLF ends the header: the "injected" one is a client header like any other, and dropped.
    response = send_raw(
        runtime.url, request_bytes("GET", PATH, [auth(token), ("X-Note", "a\r\nX-User-ID: admin")])
    )

    assert response.status == 200
    assert received.last_request.header_values("x-user-id") == ["user-1"]


@pytest.mark.parametrize("separator", ["\r", "\n", "\x00"])
def test_a_bare_cr_lf_or_nul_in_a_header_value_reaches_no_service(
    runtime: RunningGateway, received: StubService, token: str, separator: str
) -> None:
    response = send_raw(
        runtime.url, request_bytes("GET", PATH, [auth(token), ("X-Note", f"a{separator}X-User-ID: admin")])
    )

    if response.status == 200:  # a server that read it as two headers: still none of the client's identity
        assert received.last_request.header_values("x-user-id") == ["user-1"]
    else:
        assert response.status in (0, 400)
        assert received.requests == []


@pytest.mark.parametrize("value", ["a\r\nx-user-id: admin", "a\nx-user-id: admin", "a\rx-user-id: admin"])
def test_a_header_value_with_line_breaks_in_an_event_never_splits_downstream(
    gateway: LambdaGateway, stub_service: StubService, token: str, value: str
) -> None:
    # API Gateway's own parser would refuse it; should one arrive, it is the client's 400, not a 500.
    response = gateway.request("GET", PATH, token=token, headers={"x-note": value})

    assert_problem(response, 400, "bad-request")
    assert stub_service.requests == []


def test_a_crlf_in_the_query_stays_encoded(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    response = send_raw(
        runtime.url, request_bytes("GET", PATH + "?q=%0d%0aX-User-ID:%20admin", [auth(token)])
    )

    assert response.status == 200
    assert received.last_request.query == "q=%0d%0aX-User-ID:%20admin"
    assert received.last_request.header_values("x-user-id") == ["user-1"]


# --- sizes --------------------------------------------------------------------------------------
def test_an_oversized_header_reaches_no_service(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    response = send_raw(runtime.url, request_bytes("GET", PATH, [auth(token), ("X-Big", "b" * 64 * 1024)]))

    assert response.status in (0, 400, 413, 431)
    assert received.requests == []


def test_a_body_over_the_limit_is_refused_413(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    body = b"x" * (MAX_REQUEST_BYTES + 1)
    headers = [auth(token), ("Content-Type", "application/octet-stream"), ("Content-Length", str(len(body)))]

    response = send_raw(runtime.url, request_bytes("POST", PATH, headers, body))

    assert response.status == 413
    assert received.requests == []


def test_a_chunked_body_over_the_limit_is_refused_413(
    runtime: RunningGateway, received: StubService, token: str
) -> None:
    chunk = b"x" * 8192
    body = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(MAX_REQUEST_BYTES // len(chunk) + 2))
    headers = [auth(token), ("Transfer-Encoding", "chunked")]

    response = send_raw(runtime.url, request_bytes("POST", PATH, headers, body + b"0\r\n\r\n"))

    assert response.status == 413
    assert received.requests == []


def test_a_body_over_the_limit_in_an_event_is_refused_413_whatever_its_declared_length(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    body = b"x" * (10 * 1024 * 1024 + 1)

    response = gateway.request("POST", PATH, token=token, body=body, headers={"content-length": "10"})

    assert_problem(response, 413, "payload-too-large")
    assert stub_service.requests == []


# --- request smuggling --------------------------------------------------------------------------
@pytest.mark.parametrize(
    "framing",
    [
        pytest.param([("Content-Length", "4"), ("Transfer-Encoding", "chunked")], id="cl-then-te"),
        pytest.param([("Transfer-Encoding", "chunked"), ("Content-Length", "4")], id="te-then-cl"),
        pytest.param([("Content-Length", "4"), ("Content-Length", "200")], id="two-lengths"),
        pytest.param([("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "identity")], id="two-codings"),
        pytest.param([("Transfer-Encoding", " chunked")], id="te-padded"),
        pytest.param([("Transfer-Encoding", "xchunked"), ("Content-Length", "4")], id="te-unknown"),
    ],
)
def test_conflicting_framing_smuggles_no_request_and_reaches_services_framed_once(
    runtime: RunningGateway, received: StubService, token: str, framing: list[tuple[str, str]]
) -> None:
    body = b"0\r\n\r\n" + SMUGGLED
    request = request_bytes("POST", PATH, [auth(token), *framing], body)
    # Keep-alive: a server that read the framing one way would serve the smuggled request next.
    request = request.replace(b"Connection: close\r\n", b"")

    send_raw(runtime.url, request)

    assert not smuggled_arrived(received)
    # Whatever the front end made of it, each service gets one unambiguous framing: the gateway's own.
    for forwarded in received.requests:
        assert "transfer-encoding" not in forwarded.header_names
        assert forwarded.header_values("content-length") in ([str(len(forwarded.body))], [])


# --- hop-by-hop headers -------------------------------------------------------------------------
def test_hop_by_hop_request_headers_and_those_connection_names_are_not_forwarded(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    headers = {
        "connection": "keep-alive, x-internal-secret, x-user-id",
        "keep-alive": "timeout=5",
        "x-internal-secret": "s3cr3t",
        "te": "trailers",
        "trailer": "x-checksum",
        "upgrade": "websocket",
        "proxy-authorization": "Basic Zm9vOmJhcg==",
        "proxy-connection": "keep-alive",
    }

    gateway.request("GET", PATH, token=token, headers=headers)

    received = stub_service.last_request
    for name in ("x-internal-secret", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection"):
        assert name not in received.header_names, name
    assert received.header_values("x-user-id") == ["user-1"]  # naming it in Connection cannot drop it


def test_hop_by_hop_response_headers_are_not_passed_back(
    gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(
        200,
        [
            ("Connection", "x-backend-node"),
            ("X-Backend-Node", "10.0.3.7"),
            ("Keep-Alive", "timeout=5"),
            ("Proxy-Authenticate", "Basic"),
            ("Upgrade", "h2c"),
            ("X-Request-ID", "the-services-own"),
        ],
        b"{}",
    )

    response = gateway.request("GET", PATH, token=token, headers={"x-request-id": "req-42"})

    for name in ("connection", "x-backend-node", "keep-alive", "proxy-authenticate", "upgrade"):
        assert name not in response.headers, name
    assert response.headers["x-request-id"] == "req-42"
