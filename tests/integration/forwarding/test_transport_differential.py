"""The aiohttp transport against the library it stands in for: httpx's own ``AsyncHTTPTransport``.

The same requests, to the same real server, through each transport; what the server received
(request line and header lines as bytes, body) and what each client got back (status, header bytes,
body, or the httpx exception) must be equal. The differences that remain are deliberate, and each
is undone here by name before comparing (docs/architecture.md, "Hand-written replacements"):

- ``DELETE`` without a body: aiohttp adds ``Content-Length: 0`` (httpx sends no framing);
- a header name repeated in another spelling (``Cookie``, ``cookie``) is sent in its first
  spelling each time (aiohttp would otherwise replace the repeat instead of sending both);
- a streamed body goes out whole with a ``Content-Length`` (httpx: ``Transfer-Encoding: chunked``);
- a header value with a control character other than HT is refused (``LocalProtocolError``: RFC
  9110 forbids it; h11 sends it), and so is a method that is not a token (httpx: ``TypeError`` for
  a non-ASCII one).

Not compared: an answer that breaks HTTP's framing (a body after a ``204`` or ``304``) fails a
request on either transport, but not always the same one: h11 leaves the stray bytes for the next
request on the connection, aiohttp's parser may read them at once (both end in a ``502``).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from bakery_gateway.clients.factories import http_client_factory
from bakery_gateway.settings import Settings
from tests.support.stub_service import RecordedRequest, StubService

TIMEOUT = 0.5
PROPERTY_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
# RFC 9110: a control character other than HT in a field value. h11 sends it; this transport refuses.
CONTROL = re.compile(rb"[\x01-\x08\x0b\x0c\x0e-\x1f\x7f]")

Outcome = tuple[str, object]  # ("sent", what the service received) or ("raised", the exception type)
Exchange = Callable[[httpx.AsyncClient], Awaitable[object]]


def outcomes(exchange: Exchange, **overrides: object) -> dict[str, Outcome]:
    """``exchange`` run with a new client over each transport, on a loop of its own."""

    async def run(transport: str) -> Outcome:
        options = {
            "downstream_connect_timeout_seconds": TIMEOUT,
            "downstream_read_timeout_seconds": TIMEOUT,
            **overrides,
        }
        client = http_client_factory(Settings(downstream_http_transport=transport, **options))()  # type: ignore[arg-type]
        try:
            return ("sent", await exchange(client))
        except (httpx.HTTPError, TypeError) as error:
            return ("raised", type(error))
        finally:
            await client.aclose()

    return {transport: asyncio.run(run(transport)) for transport in ("httpx", "aiohttp")}


def received_as_sent(stub: StubService) -> tuple[bytes, bytes] | None:
    """The head (request line and header lines) and body of the one request the stub received."""
    requests = stub.requests
    stub.reset()
    if not requests:
        return None
    (request,) = requests
    return request.head, request.body


def in_first_spelling(head: bytes) -> bytes:
    """The head with every repeat of a header name spelt as its first occurrence."""
    lines = head.split(b"\r\n")
    spelling: dict[bytes, bytes] = {}
    for index, line in enumerate(lines[1:], start=1):
        name, colon, value = line.partition(b":")
        if colon:
            lines[index] = spelling.setdefault(name.lower(), name) + colon + value
    return b"\r\n".join(lines)


def without_line(head: bytes, line: bytes) -> bytes:
    return head.replace(b"\r\n" + line + b"\r\n", b"\r\n", 1)


# --- requests: what the service receives -----------------------------------------------------------
tokens = st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-!#$%&'*+.^_`|~", min_size=1)
path_pieces = st.one_of(
    st.text("abcXYZ019-._~!$&'()*+,;=:@", min_size=1, max_size=6),
    st.sampled_from(["%2F", "%2f", "%41", "%7E", "%C3%A9", "%00", "%25", "a%20b"]),
)
paths = st.lists(path_pieces, max_size=4).map(lambda pieces: "/api/v1/sales/" + "/".join(pieces))
queries = st.one_of(st.just(""), st.lists(path_pieces, min_size=1, max_size=3).map("&".join))
# A header value: visible ASCII and every Latin-1 byte above it, with spaces and tabs inside only.
value_bytes = st.lists(
    st.binary(min_size=1, max_size=8).map(
        lambda data: bytes(byte for byte in data if 0x21 <= byte <= 0x7E or byte >= 0x80) or b"v"
    ),
    max_size=3,
).map(b" ".join)
header_lists = st.lists(
    st.tuples(
        st.one_of(tokens.map(lambda name: f"x-{name}"), st.sampled_from(["Cookie", "cookie", "X-Trace"])),
        value_bytes,
    ),
    max_size=6,
)


@PROPERTY_SETTINGS
@given(
    method=st.sampled_from(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]),
    path=paths,
    query=queries,
    headers=header_lists,
    body=st.binary(max_size=2048),
)
@example(
    method="GET",
    path="/api/v1/sales/x",
    query="",
    headers=[("x-user-id", "josé".encode("latin-1"))],
    body=b"",
)
@example(
    method="DELETE",
    path="/api/v1/sales/x",
    query="",
    headers=[("Cookie", b"a=1"), ("cookie", b"b=2")],
    body=b"",
)
def test_the_service_receives_the_same_bytes_over_either_transport(
    stub_service: StubService,
    method: str,
    path: str,
    query: str,
    headers: list[tuple[str, bytes]],
    body: bytes,
) -> None:
    url = f"{stub_service.url}{path}?{query}" if query else f"{stub_service.url}{path}"
    wire_headers = [(name.encode(), value) for name, value in headers]

    async def exchange(client: httpx.AsyncClient) -> object:
        await client.request(method, url, headers=wire_headers, content=body)
        return received_as_sent(stub_service)

    results = outcomes(exchange)

    assert results["httpx"][0] == "sent"
    sent = results["httpx"][1]
    assert isinstance(sent, tuple)
    expected_head = in_first_spelling(sent[0])
    aiohttp_kind, aiohttp_sent = results["aiohttp"]
    assert aiohttp_kind == "sent"
    assert isinstance(aiohttp_sent, tuple)
    aiohttp_head = aiohttp_sent[0]
    if method == "DELETE" and not body:
        aiohttp_head = without_line(aiohttp_head, b"Content-Length: 0")
    assert aiohttp_head == expected_head
    assert aiohttp_sent[1] == sent[1] == body


@PROPERTY_SETTINGS
@given(value=st.binary(max_size=12))
@example(value=b"a\r\nx-injected: 1")
@example(value=b"a\x00b")
@example(value=b"a\x01b")
@example(value=b" edge ")
def test_a_header_value_is_sent_or_refused_alike(stub_service: StubService, value: bytes) -> None:
    async def exchange(client: httpx.AsyncClient) -> object:
        await client.get(f"{stub_service.url}/api/v1/sales/", headers=[(b"x-note", value)])
        return received_as_sent(stub_service)

    results = outcomes(exchange)

    if results["httpx"][0] == "sent" and CONTROL.search(value):
        assert results["aiohttp"] == ("raised", httpx.LocalProtocolError)  # deliberate: RFC 9110
    else:
        assert results["aiohttp"] == results["httpx"]
    assert stub_service.requests == []  # a refused request sent nothing


async def _chunks(body: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(body), 7):
        yield body[start : start + 7]


@PROPERTY_SETTINGS
@given(body=st.binary(min_size=1, max_size=200))
def test_a_streamed_body_arrives_whole_over_either_transport_framed_its_own_way(
    stub_service: StubService, body: bytes
) -> None:
    async def exchange(client: httpx.AsyncClient) -> object:
        request = client.build_request("POST", f"{stub_service.url}/api/v1/sales/", content=_chunks(body))
        await (await client.send(request)).aread()
        (received,) = stub_service.requests
        stub_service.reset()
        return received

    results = outcomes(exchange)

    framing: dict[str, list[tuple[str, str]]] = {}
    for transport, (kind, received) in results.items():
        assert kind == "sent"
        assert isinstance(received, RecordedRequest)
        assert received.body == body
        framing[transport] = [
            (name, value)
            for name, value in received.headers
            if name in ("content-length", "transfer-encoding")
        ]
    assert framing == {
        "httpx": [("transfer-encoding", "chunked")],
        "aiohttp": [("content-length", str(len(body)))],  # deliberate: the bytes it sends, whole
    }


# --- answers: what the client gets back ----------------------------------------------------------
reason_free_statuses = st.sampled_from(
    [200, 201, 204, 301, 302, 304, 400, 401, 403, 404, 409, 429, 500, 502, 503]
)
answer_header_values = st.text(
    st.characters(
        min_codepoint=0x21,
        max_codepoint=0xFF,
        exclude_characters="\x7f" + "".join(map(chr, range(0x80, 0xA0))),
    ),
    min_size=1,
    max_size=12,
)


@PROPERTY_SETTINGS
@given(
    status=reason_free_statuses,
    headers=st.lists(st.tuples(tokens.map(lambda name: f"X-{name}"), answer_header_values), max_size=6),
    body=st.binary(max_size=2048),
)
def test_an_answer_comes_back_the_same_over_either_transport(
    stub_service: StubService, status: int, headers: list[tuple[str, str]], body: bytes
) -> None:
    stub_service.reply(status, headers, b"" if status in (204, 304) else body)  # HTTP forbids one there

    async def exchange(client: httpx.AsyncClient) -> object:
        response = await client.get(f"{stub_service.url}/api/v1/sales/")
        # Date: the clock's (http.server adds it), not the transport's.
        headers = [(name, value) for name, value in response.headers.raw if name != b"Date"]
        return response.status_code, response.reason_phrase, headers, response.content

    results = outcomes(exchange)

    assert results["aiohttp"] == results["httpx"]
    assert results["httpx"][0] == "sent"


# --- faults: the same httpx exception ------------------------------------------------------------
@pytest.mark.parametrize(
    ("fault", "raised"),
    [
        (StubService.close_connections, httpx.RemoteProtocolError),
        (StubService.reset_connections, httpx.ReadError),
        (StubService.send_garbage, httpx.RemoteProtocolError),
        (lambda stub: stub.be_slow(10), httpx.ReadTimeout),
    ],
    ids=["disconnects", "resets", "answers-garbage", "answers-too-late"],
)
def test_a_service_fault_raises_the_same_httpx_error(
    stub_service: StubService, fault: Callable[[StubService], None], raised: type[Exception]
) -> None:
    fault(stub_service)

    async def exchange(client: httpx.AsyncClient) -> object:
        return (await client.get(f"{stub_service.url}/api/v1/sales/")).status_code

    assert outcomes(exchange) == {"httpx": ("raised", raised), "aiohttp": ("raised", raised)}


def test_a_refused_connection_raises_the_same_httpx_error(closed_port: int) -> None:
    async def exchange(client: httpx.AsyncClient) -> object:
        return (await client.get(f"http://127.0.0.1:{closed_port}/")).status_code

    assert outcomes(exchange) == {
        "httpx": ("raised", httpx.ConnectError),
        "aiohttp": ("raised", httpx.ConnectError),
    }


def test_a_connection_nobody_accepts_raises_the_same_httpx_error(unanswered_port: int) -> None:
    async def exchange(client: httpx.AsyncClient) -> object:
        return (await client.get(f"http://127.0.0.1:{unanswered_port}/")).status_code

    expected = ("raised", httpx.ConnectTimeout)
    assert outcomes(exchange) == {"httpx": expected, "aiohttp": expected}


def test_no_free_connection_in_the_pool_raises_the_same_httpx_error(stub_service: StubService) -> None:
    async def exchange(client: httpx.AsyncClient) -> object:
        stub_service.reset()
        stub_service.be_slow(10)
        busy = asyncio.create_task(client.get(f"{stub_service.url}/api/v1/sales/"))
        for _ in range(500):
            if stub_service.requests:
                break
            await asyncio.sleep(0.01)
        try:
            return (await client.get(f"{stub_service.url}/api/v1/sales/")).status_code
        finally:
            busy.cancel()
            await asyncio.gather(busy, return_exceptions=True)

    results = outcomes(exchange, downstream_max_connections=1, downstream_read_timeout_seconds=10)

    assert results == {"httpx": ("raised", httpx.PoolTimeout), "aiohttp": ("raised", httpx.PoolTimeout)}


def test_a_service_that_closes_after_answering_is_answered_alike(stub_service: StubService) -> None:
    stub_service.answer_and_close()

    async def exchange(client: httpx.AsyncClient) -> object:
        statuses = []
        for _ in range(3):
            statuses.append((await client.get(f"{stub_service.url}/api/v1/sales/")).status_code)
            time.sleep(0.05)  # noqa: ASYNC251 - the service's FIN arrives; the loop has not read it
        return statuses

    assert outcomes(exchange) == {"httpx": ("sent", [200] * 3), "aiohttp": ("sent", [200] * 3)}


@pytest.mark.parametrize("method", ["GET X", "GÉT", "GET\r\n"])
def test_a_method_that_is_not_a_token_is_refused(stub_service: StubService, method: str) -> None:
    async def exchange(client: httpx.AsyncClient) -> object:
        return (await client.request(method, f"{stub_service.url}/api/v1/sales/")).status_code

    results = outcomes(exchange)

    assert results["aiohttp"] == ("raised", httpx.LocalProtocolError)
    assert results["httpx"] in {
        ("raised", httpx.LocalProtocolError),
        ("raised", TypeError),
    }  # TypeError: not ASCII
    assert stub_service.requests == []
