"""The local runtime's ``Invoker``: each invocation on a thread of its own, as a Lambda container,
with API Gateway's answers for a failing, late or timed-out function.

The functions are ``tests.support.fake_function`` behind ``tests.support.fake_authorizer``, in the
local gateway (``LocalHttpApi``).
(``bakery-gateway serve`` calls no handler: ``tests/unit/serve/test_app.py``.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bakery_local.gateway import LocalHttpApi
from bakery_local.invoker import FunctionInvoker, Invoker
from bakery_local.server import build_gateway
from bakery_local.template import AuthorizerSpec, FunctionSpec, HttpApiSpec, RouteSpec
from tests.support import fake_authorizer, fake_function
from tests.unit.template.test_template import TEMPLATE

TIMEOUT_SECONDS = 0.2
FUNCTIONS = {
    "Function": FunctionSpec("Function", "tests.support.fake_function", "handler", TIMEOUT_SECONDS, 128),
    "Authorizer": FunctionSpec("Authorizer", "tests.support.fake_authorizer", "handler", 5, 128),
}
API = HttpApiSpec(
    routes=(RouteSpec("ANY", "/{proxy+}", "Function", "Bearer"),),
    authorizers={"Bearer": AuthorizerSpec("Bearer", "Authorizer", ("authorization",), ttl_seconds=300)},
    cors=None,
    functions=FUNCTIONS,
)
AUTHORIZED = {"authorization": "Bearer token"}


def local() -> Invoker:
    """The local runtime's invoker: each invocation on a thread of its own."""
    return Invoker(FUNCTIONS, workers=4)


ClientOf = Callable[..., httpx.AsyncClient]


@pytest.fixture(autouse=True)
def _fresh_records() -> None:
    fake_function.calls.clear()
    fake_authorizer.threads.clear()


@pytest.fixture
def client_of() -> Iterator[ClientOf]:
    invokers: list[FunctionInvoker] = []

    def client(invoker: FunctionInvoker, **options: Any) -> httpx.AsyncClient:
        """A client of ``LocalHttpApi(API, invoker, **options)``."""
        invokers.append(invoker)
        transport = httpx.ASGITransport(app=LocalHttpApi(API, invoker, **options))
        return httpx.AsyncClient(transport=transport, base_url="http://gateway", headers=AUTHORIZED)

    yield client
    for invoker in invokers:
        invoker.close()


async def test_local_invokes_the_handler_on_a_thread_of_its_own(client_of: ClientOf) -> None:
    async with client_of(local()) as client:
        response = await client.get("/items")

    assert (response.status_code, response.text) == (200, "answered")
    [call] = fake_function.calls
    assert call.thread != threading.get_ident()
    assert call.loop is None  # a Lambda handler runs its own loop: none is running around it


async def test_a_failing_handler_is_api_gateways_500(
    client_of: ClientOf,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with client_of(local()) as client:
        response = await client.get("/fail")

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "function Function failed" in caplog.text


async def test_a_handler_past_its_timeout_is_a_function_error_api_gateways_500(client_of: ClientOf) -> None:
    async with client_of(local()) as client:
        started = time.monotonic()
        response = await client.get("/slow")
        elapsed = time.monotonic() - started

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert elapsed < fake_function.SLOW_SECONDS


async def test_no_answer_within_the_integration_timeout_is_api_gateways_503(client_of: ClientOf) -> None:
    # Before the function's own timeout (0.2 s): API Gateway stops waiting first.
    async with client_of(local(), integration_timeout_seconds=0.05) as client:
        started = time.monotonic()
        response = await client.get("/slow")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert elapsed < TIMEOUT_SECONDS


async def test_invocations_are_counted_per_function(client_of: ClientOf) -> None:
    invoker = local()
    async with client_of(invoker) as client:
        await client.get("/one")
        await client.get("/two")

    assert invoker.invocations == {"Function": 2, "Authorizer": 1}


def test_local_builds_the_thread_invoker() -> None:
    gateway = build_gateway(TEMPLATE, workers=1)
    try:
        assert type(gateway.invoker) is Invoker
    finally:
        gateway.invoker.close()
