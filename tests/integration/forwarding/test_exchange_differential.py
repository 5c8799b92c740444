"""The proxy's thin call (``DownstreamClient.exchange``) against httpx's own API over the same transport.

The same inputs through ``exchange`` (the header bytes written by ``downstream_client.wire_headers``,
handed to the aiohttp transport's ``exchange``) and through httpx's ``build_request``/``send``
(``downstream_client.send``) to one real server: what the server received (request line, header
lines and body, as bytes) and what the caller got back (status, header bytes, body, or the httpx
exception) must be equal. No difference is deliberate; what ``exchange`` skips (auth, event hooks,
redirects, the cookie jar) does nothing for the gateway's client, whose jar keeps nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bakery_gateway.clients.downstream_client import DownstreamClient, Headers, send
from bakery_gateway.clients.factories import http_client_factory
from bakery_gateway.settings import Settings
from tests.support.stub_service import StubService

TIMEOUT = 0.5
PROPERTY_SETTINGS = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
Call = Callable[[DownstreamClient], Awaitable[tuple[int, list[tuple[bytes, bytes]], bytes]]]


def both_ways(
    stub: StubService,
    method: str,
    url: str,
    headers: Headers,
    body: bytes,
    fault: Callable[[StubService], None] | None = None,
) -> dict[str, object]:
    """What the service received and the caller got, through ``exchange`` and through httpx's API
    (``fault`` set on the service before each)."""
    calls: dict[str, Call] = {
        "exchange": lambda client: client.exchange(method, url, headers, body),
        "httpx": lambda client: send(client, method, url, headers, body),
    }

    async def run(call: Call) -> object:
        if fault is not None:
            fault(stub)
        settings = Settings(
            downstream_http_transport="aiohttp",
            downstream_connect_timeout_seconds=TIMEOUT,
            downstream_read_timeout_seconds=TIMEOUT,
        )
        client = http_client_factory(settings)()
        assert isinstance(client, DownstreamClient)
        try:
            status, raw_headers, content = await call(client)
            got: object = (status, [(n, v) for n, v in raw_headers if n.lower() != b"date"], content)
        except (httpx.HTTPError, UnicodeError, TypeError, AssertionError) as error:
            got = type(error)
        finally:
            await client.aclose()
        received = [(request.head, request.body) for request in stub.requests]
        stub.reset()
        return received, got

    return {name: asyncio.run(run(call)) for name, call in calls.items()}


path_pieces = st.one_of(
    st.text("abcXYZ019-._~!$&'()*+,;=:@", min_size=1, max_size=6),
    st.sampled_from(["%2F", "%2f", "%41", "%C3%A9", "%25", "a b", "é", "|", "..", ".", "a#b", "{x}", "%zz"]),
)
paths = st.lists(path_pieces, max_size=4).map(lambda pieces: "/api/v1/sales/" + "/".join(pieces))
queries = st.one_of(st.just(""), st.lists(path_pieces, min_size=1, max_size=3).map("&".join))
header_names = st.one_of(
    st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-", min_size=1, max_size=8).map(
        lambda name: f"x-{name}"
    ),
    st.sampled_from(
        ["Accept", "accept-encoding", "User-Agent", "Host", "content-length", "Transfer-Encoding", "Cookie"]
    ),
)
header_values = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10)
# Text, or bytes (what forwarding sends when a value is not ASCII), as httpx takes either.
header_lists = st.one_of(
    st.lists(st.tuples(header_names, header_values), max_size=6),
    st.lists(st.tuples(header_names.map(str.encode), st.binary(min_size=1, max_size=6)), max_size=6),
)


@PROPERTY_SETTINGS
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "get"]),
    path=paths,
    query=queries,
    headers=header_lists,
    body=st.binary(max_size=512),
)
@example(method="GET", path="/api/v1/sales/items", query="a=1", headers=[("x-request-id", "r1")], body=b"")
@example(method="POST", path="/api/v1/sales/items", query="", headers=[], body=b"")
@example(method="GET", path="/api/v1/sales/a/../b/./c", query="", headers=[], body=b"")
@example(method="GET", path="/api/v1/sales/x", query="", headers=[("x-name", b"jos\xe9")], body=b"")
def test_the_service_receives_the_same_bytes_and_the_caller_the_same_answer(
    stub_service: StubService, method: str, path: str, query: str, headers: Headers, body: bytes
) -> None:
    url = f"{stub_service.url}{path}?{query}" if query else f"{stub_service.url}{path}"

    results = both_ways(stub_service, method, url, headers, body)

    assert results["exchange"] == results["httpx"]


@pytest.mark.parametrize(
    "base",
    ["http://LOCALHOST:{port}", "http://127.0.0.1:{port}", "HTTP://127.0.0.1:{port}"],
    ids=["upper-case-host", "address", "upper-case-scheme"],
)
def test_an_origin_is_written_as_httpx_writes_it(stub_service: StubService, base: str) -> None:
    port = stub_service.url.rsplit(":", 1)[1]
    url = base.format(port=port) + "/api/v1/sales/items"

    results = both_ways(stub_service, "GET", url, [], b"")

    assert results["exchange"] == results["httpx"]


@pytest.mark.parametrize(
    "fault",
    [StubService.close_connections, StubService.reset_connections, StubService.send_garbage],
    ids=["disconnects", "resets", "answers-garbage"],
)
def test_a_service_fault_raises_the_same_httpx_error(
    stub_service: StubService, fault: Callable[[StubService], None]
) -> None:
    results = both_ways(stub_service, "GET", f"{stub_service.url}/api/v1/sales/", [], b"", fault)

    assert results["exchange"] == results["httpx"]
    assert isinstance(results["httpx"], tuple)
    assert isinstance(results["httpx"][1], type)


def test_a_refused_connection_raises_the_same_httpx_error(
    stub_service: StubService, closed_port: int
) -> None:
    results = both_ways(stub_service, "GET", f"http://127.0.0.1:{closed_port}/api/v1/sales/", [], b"")

    assert results["exchange"] == results["httpx"] == ([], httpx.ConnectError)


def test_a_plain_url_is_sent_without_httpx_building_a_request(
    stub_service: StubService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_request(*args: object, **kwargs: object) -> httpx.Request:
        raise AssertionError("httpx built a request")

    monkeypatch.setattr(DownstreamClient, "build_request", no_request)

    results = both_ways(stub_service, "GET", f"{stub_service.url}/api/v1/sales/items?page=2", [], b"")

    assert results["exchange"][1][0] == 200  # type: ignore[index]
    assert results["httpx"][1] is AssertionError  # type: ignore[index]
