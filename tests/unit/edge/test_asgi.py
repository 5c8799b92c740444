"""The ASGI adapter: a scope read into the request as API Gateway would pass it, and a request's scope."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from bakery_gateway.api.identity import Identity, Unauthenticated
from bakery_gateway.api.request import REQUEST_SCOPE_KEY, Request
from bakery_gateway.edge.asgi import request_from_scope, scope_for
from bakery_gateway.edge.lambda_event import request_from_event
from bakery_local.api_events import IncomingRequest, http_event

IDENTITY = Identity("user-1", "tenant-a", ("tenant-a",), ("owner",), "jti-1", 1_710_000_000, 1_710_003_600)


def scope(**overrides: Any) -> dict[str, Any]:
    """An ``http`` scope as uvicorn makes it for a request to the gateway."""
    made: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/api/v1/sales/items/a b",
        "raw_path": b"/api/v1/sales/items/a%20b",
        "root_path": "",
        "query_string": b"day=mon&day=tue",
        "headers": [
            (b"host", b"gateway.example:8443"),
            (b"content-type", b"application/json"),
            (b"x-request-id", b"req-1"),
        ],
        "client": ("203.0.113.10", 51000),
        "server": ("10.0.0.5", 8443),
    }
    return made | overrides


def test_a_scope_is_read_as_the_request_it_carries() -> None:
    request = request_from_scope(scope(), b'{"a":1}', verdict=IDENTITY, route_key="ANY /api/v1/{proxy+}")

    assert request == Request(
        method="POST",
        raw_path="/api/v1/sales/items/a%20b",
        path="/api/v1/sales/items/a b",
        query_string="day=mon&day=tue",
        headers={"host": "gateway.example:8443", "content-type": "application/json", "x-request-id": "req-1"},
        body=b'{"a":1}',
        source_ip="203.0.113.10",
        host="gateway.example",
        scheme="https",
        route_key="ANY /api/v1/{proxy+}",
        verdict=IDENTITY,
    )


def test_the_authorizers_verdict_and_the_route_are_the_hosts_to_give() -> None:
    refused = Unauthenticated("token expired")

    assert request_from_scope(scope(), b"", verdict=refused).verdict is refused
    assert request_from_scope(scope(), b"").verdict is None
    assert request_from_scope(scope(), b"").route_key == ""


def test_a_method_is_read_in_upper_case() -> None:
    assert request_from_scope(scope(method="post"), b"").method == "POST"


def test_repeated_headers_are_joined_with_commas_and_cookies_into_one_header() -> None:
    headers = [
        (b"Accept", b"text/html"),
        (b"accept", b"application/json"),
        (b"cookie", b"a=1; b=2"),
        (b"Cookie", b"c=3"),
    ]

    request = request_from_scope(scope(headers=headers), b"")

    assert request.headers == {"accept": "text/html,application/json", "cookie": "a=1; b=2; c=3"}


def test_a_header_value_keeps_the_bytes_the_client_sent() -> None:
    request = request_from_scope(scope(headers=[(b"x-name", "Café".encode())]), b"")

    assert request.headers["x-name"].encode("latin-1") == "Café".encode()


def test_without_a_raw_path_the_decoded_one_stands_for_it() -> None:
    request = request_from_scope(scope(path="/api/v1/sales/items", raw_path=None), b"")

    assert (request.raw_path, request.path) == ("/api/v1/sales/items", "/api/v1/sales/items")


def test_the_mount_path_is_taken_off_as_a_named_stage_is() -> None:
    mounted = scope(path="/prod/api/v1/sales/items", raw_path=b"/prod/api/v1/sales/items", root_path="/prod")

    request = request_from_scope(mounted, b"")

    assert (request.raw_path, request.path) == ("/api/v1/sales/items", "/api/v1/sales/items")


@pytest.mark.parametrize(
    ("headers", "server", "host"),
    [
        ([(b"host", b"gateway.example")], ("10.0.0.5", 443), "gateway.example"),
        ([(b"host", b"[2001:db8::1]:8443")], ("10.0.0.5", 8443), "[2001:db8::1]"),
        ([], ("10.0.0.5", 8443), "10.0.0.5"),  # HTTP/1.0 without Host: the server's own name
        ([], None, ""),
    ],
)
def test_the_host_is_the_name_the_client_called_without_its_port(
    headers: list[tuple[bytes, bytes]], server: tuple[str, int] | None, host: str
) -> None:
    assert request_from_scope(scope(headers=headers, server=server), b"").host == host


def test_a_scope_without_a_client_has_no_source_address() -> None:
    assert request_from_scope(scope(client=None), b"").source_ip == ""


def test_a_scope_reads_as_the_event_the_local_runtime_builds_for_it_reads() -> None:
    """One request, two hosts: read from its scope, and from the payload 2.0 event the local runtime
    makes of the same scope (``api_events.http_event``), it is the same request, but for the headers
    API Gateway adds of its own."""
    asgi_scope = scope(path="/api/v1/sales/items", raw_path=b"/api/v1/sales/items")
    headers = [
        (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
        for name, value in asgi_scope["headers"]
    ]
    incoming = IncomingRequest(
        method="POST",
        raw_path="/api/v1/sales/items",
        raw_query="day=mon&day=tue",
        headers=[*headers, ("cookie", "a=1"), ("cookie", "b=2")],
        body=b'{"a":1}',
        source_ip="203.0.113.10",
        scheme="https",
    )
    event = http_event(
        incoming,
        route_key="ANY /api/v1/{proxy+}",
        stage="$default",
        path_parameters={"proxy": "sales/items"},
        authorizer_context=IDENTITY.to_context(),
    )
    asgi_scope["headers"] += [(b"cookie", b"a=1"), (b"cookie", b"b=2")]

    from_event = request_from_event(event)
    from_scope = request_from_scope(
        asgi_scope, b'{"a":1}', verdict=IDENTITY, route_key="ANY /api/v1/{proxy+}"
    )

    added_by_api_gateway = {"x-forwarded-for", "x-forwarded-proto"}
    assert {
        name: value for name, value in from_event.headers.items() if name not in added_by_api_gateway
    } == (from_scope.headers)
    assert from_event == dataclasses.replace(from_scope, headers=from_event.headers)


# --- the scope the gateway's own apps run in ---------------------------------------------------------
def test_a_requests_scope_carries_the_request_for_the_apps() -> None:
    request = request_from_scope(scope(), b"{}", verdict=IDENTITY)

    made = scope_for(request)

    assert made[REQUEST_SCOPE_KEY] is request
    assert (made["method"], made["path"], made["query_string"], made["client"]) == (
        "POST",
        "/api/v1/sales/items/a b",
        b"day=mon&day=tue",
        ("203.0.113.10", 0),
    )


def test_a_requests_scope_has_its_headers_bytes_back() -> None:
    request = request_from_scope(scope(headers=[(b"x-name", "Café".encode())]), b"")

    assert scope_for(request)["headers"] == [(b"x-name", "Café".encode())]


@pytest.mark.parametrize(
    ("headers", "server"),
    [
        ({"host": "gateway.example:8443"}, ("gateway.example", 8443)),
        ({"host": "gateway.example", "x-forwarded-port": "8080"}, ("gateway.example", 8080)),
        ({"host": "gateway.example"}, ("gateway.example", 443)),  # all API Gateway serves
        ({}, ("localhost", 443)),
    ],
)
def test_a_requests_scope_names_the_server_the_client_called(
    headers: dict[str, str], server: tuple[str, int]
) -> None:
    request = dataclasses.replace(request_from_scope(scope(headers=[]), b""), headers=headers)

    assert scope_for(request)["server"] == server


def test_a_request_read_back_from_its_scope_is_the_same_request() -> None:
    request = request_from_scope(scope(path="/api/v1/geocode", raw_path=None), b"{}", verdict=IDENTITY)

    again = request_from_scope(scope_for(request), request.body, verdict=request.verdict)

    assert again == request
