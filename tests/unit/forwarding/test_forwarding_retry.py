"""The one retry of a forwarded request: after a connection failure only, if allowed, within the deadline."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from bakery_gateway.errors import (
    BadDownstreamResponseError,
    DownstreamTimeoutError,
    DownstreamUnavailableError,
)
from bakery_gateway.forwarding.downstream import DownstreamResponse, forward


class Service:
    """A transport that fails its first ``failures`` calls with ``error``, then answers 200."""

    def __init__(self, error: Exception, failures: int = 1) -> None:
        self.error = error
        self.failures = failures
        self.calls = 0

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return httpx.Response(200, stream=httpx.ByteStream(request.content))


class Permission:
    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.answer


async def send(
    transport: httpx.AsyncBaseTransport, retry: Permission | None, deadline_seconds: float = 5.0
) -> DownstreamResponse:
    async with httpx.AsyncClient(transport=transport) as client:
        return await forward(
            client,
            method="PUT",
            url="http://sales-service:8000/api/v1/sales/1",
            headers=[],
            body=b"same body",
            service="sales",
            deadline_seconds=deadline_seconds,
            retry=retry,
        )


@pytest.mark.parametrize("error", [httpx.ConnectError("refused"), httpx.ConnectTimeout("no answer")])
async def test_a_connection_failure_is_tried_once_more_when_allowed(error: Exception) -> None:
    service, permission = Service(error), Permission(True)

    answer = await send(httpx.MockTransport(service.handle), permission)

    assert answer.status == 200
    assert answer.body == b"same body"  # the retry sends the same request
    assert (service.calls, permission.asked) == (2, 1)


async def test_a_connection_failure_is_not_retried_when_the_budget_says_no() -> None:
    service = Service(httpx.ConnectError("refused"))

    with pytest.raises(DownstreamUnavailableError):
        await send(httpx.MockTransport(service.handle), Permission(False))

    assert service.calls == 1


async def test_there_is_at_most_one_retry() -> None:
    service, permission = Service(httpx.ConnectError("refused"), failures=5), Permission(True)

    with pytest.raises(DownstreamUnavailableError):
        await send(httpx.MockTransport(service.handle), permission)

    assert (service.calls, permission.asked) == (2, 1)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (httpx.ReadTimeout("slow read"), DownstreamTimeoutError),
        (httpx.WriteTimeout("slow write"), DownstreamTimeoutError),
        (httpx.ReadError("reset"), BadDownstreamResponseError),
        (httpx.RemoteProtocolError("garbage"), BadDownstreamResponseError),
        (httpx.PoolTimeout("pool full"), DownstreamUnavailableError),
    ],
)
async def test_a_failure_after_bytes_may_have_been_sent_is_never_retried(
    error: Exception, expected: type[Exception]
) -> None:
    service, permission = Service(error), Permission(True)

    with pytest.raises(expected):
        await send(httpx.MockTransport(service.handle), permission)

    assert (service.calls, permission.asked) == (1, 0)


async def test_the_retry_shares_the_requests_deadline() -> None:
    calls = 0

    async def handle(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls == 1:
            await asyncio.sleep(0.03)
            raise httpx.ConnectTimeout("no answer")
        await asyncio.sleep(5)
        return httpx.Response(200)

    started = asyncio.get_running_loop().time()
    with pytest.raises(DownstreamTimeoutError):
        await send(httpx.MockTransport(handle), Permission(True), deadline_seconds=0.1)

    assert asyncio.get_running_loop().time() - started < 0.5
