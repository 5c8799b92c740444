"""The downstream client over each transport (DOWNSTREAM_HTTP_TRANSPORT): real sockets, real faults.

Whichever transport carries it, ``forward`` sees the same answers and the same httpx errors, so a
client gets the same problem (docs/resilience.md) and a service the same request bytes.
"""

from __future__ import annotations

import asyncio
import gc
import gzip
import logging
import time
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from bakery_gateway.clients.factories import http_client_factory
from bakery_gateway.errors import (
    BadDownstreamResponseError,
    BadRequestError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from bakery_gateway.forwarding.downstream import DownstreamResponse, Headers, forward
from bakery_gateway.settings import DOWNSTREAM_HTTP_TRANSPORTS, Settings
from tests.support.stub_service import StubService

TIMEOUT = 0.5  # connect and read
SLACK = 1.0  # a busy 2-core machine
DEADLINE = 5.0  # the proxy's deadline, out of the way: these tests are about the transport's timeouts


@pytest.fixture(params=DOWNSTREAM_HTTP_TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def client(transport: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = Settings(
        downstream_http_transport=transport,
        downstream_connect_timeout_seconds=TIMEOUT,
        downstream_read_timeout_seconds=TIMEOUT,
        downstream_max_connections=2,
    )
    client = http_client_factory(settings)()
    yield client
    await client.aclose()


class Permission:
    """``forward``'s retry budget, always granting, counting how often it was asked."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return True


async def send(
    client: httpx.AsyncClient,
    url: str,
    *,
    method: str = "GET",
    headers: Headers | None = None,
    body: bytes = b"",
    retry: Permission | None = None,
) -> DownstreamResponse:
    return await forward(
        client,
        method=method,
        url=url,
        headers=headers or [],
        body=body,
        service="sales",
        deadline_seconds=DEADLINE,
        retry=retry,
    )


# --- faults: the gateway error forward() maps each to ---------------------------------------------
async def test_a_refused_connection_is_unavailable_and_tried_once_more(
    client: httpx.AsyncClient, closed_port: int
) -> None:
    permission = Permission()

    with pytest.raises(DownstreamUnavailableError):
        await send(client, f"http://127.0.0.1:{closed_port}/api/v1/sales/", retry=permission)

    assert permission.asked == 1  # nothing was sent: a retry is safe


async def test_a_connection_nobody_accepts_is_unavailable_after_the_connect_timeout(
    client: httpx.AsyncClient, unanswered_port: int
) -> None:
    permission = Permission()
    started = time.perf_counter()

    with pytest.raises(DownstreamUnavailableError):
        await send(client, f"http://127.0.0.1:{unanswered_port}/api/v1/sales/", retry=permission)

    assert permission.asked == 1
    assert time.perf_counter() - started < 2 * TIMEOUT + SLACK  # the attempt and its one retry


async def test_a_service_slower_than_the_read_timeout_is_a_timeout(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    stub_service.be_slow(10)
    started = time.perf_counter()

    with pytest.raises(DownstreamTimeoutError):
        await send(client, f"{stub_service.url}/api/v1/sales/")

    assert time.perf_counter() - started < TIMEOUT + SLACK


@pytest.mark.parametrize(
    "misbehave",
    [StubService.close_connections, StubService.reset_connections, StubService.send_garbage],
    ids=["disconnects", "resets", "answers-garbage"],
)
async def test_a_service_that_fails_after_receiving_the_request_is_a_bad_answer_sent_once(
    client: httpx.AsyncClient, stub_service: StubService, misbehave: Callable[[StubService], None]
) -> None:
    misbehave(stub_service)
    permission = Permission()

    with pytest.raises(BadDownstreamResponseError):
        await send(client, f"{stub_service.url}/api/v1/sales/", retry=permission)

    assert permission.asked == 0
    assert len(stub_service.requests) == 1  # the service may have acted on it: never sent again


@pytest.mark.parametrize("value", ["a\r\nx-injected: 1", "a\x00b", " leading-space", "trailing-tab\t"])
async def test_a_header_http_forbids_is_a_bad_request_and_nothing_is_sent(
    client: httpx.AsyncClient, stub_service: StubService, value: str
) -> None:
    with pytest.raises(BadRequestError):
        await send(client, f"{stub_service.url}/api/v1/sales/", headers=[("x-note", value)])

    assert stub_service.requests == []


async def test_waiting_for_a_free_connection_is_a_pool_timeout_and_never_retried(
    transport: str, stub_service: StubService
) -> None:
    # Both connections busy with a slow answer; the third request waits for one past the pool timeout.
    client = http_client_factory(
        Settings(
            downstream_http_transport=transport,
            downstream_connect_timeout_seconds=TIMEOUT,  # also the pool timeout
            downstream_read_timeout_seconds=10,
            downstream_max_connections=2,
        )
    )()
    stub_service.be_slow(10)
    busy = [asyncio.create_task(client.get(f"{stub_service.url}/api/v1/sales/")) for _ in range(2)]
    for _ in range(500):  # both reached the service (at most 5 s)
        if len(stub_service.requests) == 2:
            break
        await asyncio.sleep(0.01)
    permission = Permission()
    started = time.perf_counter()

    with pytest.raises(httpx.PoolTimeout):
        await client.get(f"{stub_service.url}/api/v1/sales/")
    with pytest.raises(DownstreamUnavailableError):
        await send(client, f"{stub_service.url}/api/v1/sales/", retry=permission)

    assert permission.asked == 0  # a pool timeout is not a failed connection: no retry spent on it
    assert time.perf_counter() - started < 2 * TIMEOUT + SLACK
    assert len(stub_service.requests) == 2
    for task in busy:
        task.cancel()
    await asyncio.gather(*busy, return_exceptions=True)
    await client.aclose()


async def test_a_connection_the_service_closed_after_answering_is_never_reused(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    stub_service.answer_and_close()  # no Connection: close; the end of stream follows the answer
    answers = []

    for _ in range(5):
        answers.append(await send(client, f"{stub_service.url}/api/v1/sales/"))
        # The next request follows at once: the service's FIN is in the socket, but the event loop has
        # had no turn to read it (blocked on purpose, as a busy worker's loop is).
        time.sleep(0.05)  # noqa: ASYNC251 - the loop must not run meanwhile

    assert [answer.status for answer in answers] == [200] * 5
    assert len(stub_service.requests) == 5  # each sent once


# --- what the service receives ----------------------------------------------------------------------
async def test_a_gateway_header_with_a_latin_1_character_goes_out_as_its_latin_1_byte(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    # A user id from a token: the gateway's own value, sent as Latin-1 (forwarding._wire_bytes).
    await send(client, f"{stub_service.url}/api/v1/sales/", headers=[("x-user-id", "josé")])

    assert b"\r\nx-user-id: jos\xe9\r\n" in stub_service.last_request.head


async def test_a_streamed_body_goes_out_framed_once_and_no_request_hides_in_it(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    # Read as chunked, this body ends at once and a second request follows it.
    body = b"0\r\n\r\nGET /api/v1/smuggled HTTP/1.1\r\nHost: sales\r\n\r\n"

    async def streamed() -> AsyncIterator[bytes]:
        yield body[:10]
        yield body[10:]

    request = client.build_request("POST", f"{stub_service.url}/api/v1/sales/", content=streamed())
    response = await client.send(request)
    await response.aread()

    (received,) = stub_service.requests
    framing = [name for name in received.header_names if name in ("content-length", "transfer-encoding")]
    assert len(framing) == 1
    assert received.body == body


async def test_the_service_receives_the_target_headers_and_body_as_sent(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    headers = [("Cookie", "a=1"), ("cookie", "b=2"), ("x-trace", "1"), ("x-trace", "2")]

    await send(
        client,
        f"{stub_service.url}/api/v1/sales/a%2Fb%41/%7Eme?q=a%20b&x=%2F&y=1+2",
        method="PUT",
        headers=[*headers, ("content-type", "application/json")],
        body=b'{"qty": 2}',
    )

    (received,) = stub_service.requests
    assert (received.method, received.path, received.query) == (
        "PUT",
        "/api/v1/sales/a%2Fb%41/%7Eme",
        "q=a%20b&x=%2F&y=1+2",
    )
    assert received.header_values("cookie") == ["a=1", "b=2"]  # each on a line of its own
    assert received.header_values("x-trace") == ["1", "2"]
    assert received.header("content-length") == "10"
    assert received.body == b'{"qty": 2}'


async def test_a_body_sent_without_a_content_type_gets_none_added(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    await send(client, f"{stub_service.url}/api/v1/sales/", method="POST", body=b"raw")

    (received,) = stub_service.requests
    assert received.header("content-type") is None
    assert received.body == b"raw"


async def test_a_cookie_a_service_set_is_never_sent_with_later_requests(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    stub_service.reply(200, [("Set-Cookie", "session=first-users; Path=/")])
    await send(client, f"{stub_service.url}/api/v1/auth/login", method="POST")
    stub_service.reset()

    await send(client, f"{stub_service.url}/api/v1/sales/")

    (received,) = stub_service.requests
    assert received.header("cookie") is None  # the client is shared by every user of the container


async def test_proxy_variables_of_the_environment_are_ignored(
    client: httpx.AsyncClient, stub_service: StubService, closed_port: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.setenv(variable, f"http://127.0.0.1:{closed_port}")
    for variable in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(variable, raising=False)

    answer = await send(client, f"{stub_service.url}/api/v1/sales/")

    assert answer.status == 200


# --- what comes back ------------------------------------------------------------------------------
async def test_a_gzip_body_comes_back_byte_for_byte_still_encoded(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    compressed = gzip.compress(b'{"items": []}' * 50)
    stub_service.reply(200, [("Content-Encoding", "gzip"), ("Content-Type", "application/json")], compressed)

    answer = await send(client, f"{stub_service.url}/api/v1/sales/", headers=[("accept-encoding", "gzip")])

    assert answer.body == compressed
    assert ("content-encoding", "gzip") in answer.headers
    assert ("content-length", str(len(compressed))) in answer.headers


async def test_repeated_response_headers_each_come_back(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    stub_service.reply(200, [("Set-Cookie", "a=1; Path=/"), ("Set-Cookie", "b=2; HttpOnly")])

    answer = await send(client, f"{stub_service.url}/api/v1/auth/login", method="POST")

    assert [value for name, value in answer.headers if name == "set-cookie"] == [
        "a=1; Path=/",
        "b=2; HttpOnly",
    ]


async def test_an_answer_with_long_and_many_headers_comes_back_whole(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    long = ("x-policy", "p" * 10_000)  # over aiohttp's default 8 KiB a line
    many = [(f"x-item-{number}", str(number)) for number in range(200)]  # over its 128 headers
    stub_service.reply(200, [long, *many])

    answer = await send(client, f"{stub_service.url}/api/v1/sales/")

    assert long in answer.headers
    assert all(header in answer.headers for header in many)


async def test_a_redirect_is_answered_not_followed(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    stub_service.reply(302, [("Location", "/api/v1/sales/elsewhere")])

    answer = await send(client, f"{stub_service.url}/api/v1/sales/")

    assert answer.status == 302
    assert len(stub_service.requests) == 1


async def test_no_more_connections_than_the_limit_are_opened(
    client: httpx.AsyncClient, stub_service: StubService
) -> None:
    stub_service.be_slow(0.3)
    started = time.perf_counter()

    answers = await asyncio.gather(*(send(client, f"{stub_service.url}/api/v1/sales/") for _ in range(4)))

    assert [answer.status for answer in answers] == [200] * 4
    assert time.perf_counter() - started >= 2 * 0.3  # two at a time (limit 2): two rounds


# --- the pool's end -------------------------------------------------------------------------------
@pytest.mark.parametrize("transport", DOWNSTREAM_HTTP_TRANSPORTS)
def test_a_client_still_open_when_its_event_loop_ends_logs_no_error(
    stub_service: StubService, caplog: pytest.LogCaptureFixture, transport: str
) -> None:
    async def use_and_leave_open() -> None:  # as a stopping worker does with its clients
        client = http_client_factory(Settings(downstream_http_transport=transport))()
        await send(client, f"{stub_service.url}/api/v1/sales/")

    with caplog.at_level(logging.ERROR):
        asyncio.run(use_and_leave_open())
        gc.collect()

    assert [record.getMessage() for record in caplog.records] == []
