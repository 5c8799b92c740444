"""``serve``'s ``LoopInvoker``: ``async_handler`` awaited on the server's loop, answers as the thread path.

The functions are ``tests.support.fake_function`` (``handler`` and ``async_handler``) behind
``tests.support.fake_authorizer`` (``handler`` only), in the local gateway (``LocalHttpApi``) with
either invoker: ``LoopInvoker`` as ``bakery-gateway serve`` builds it, ``Invoker`` as ``local`` does.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from bakery_local.gateway import LocalHttpApi
from bakery_local.invoker import FunctionInvoker, FunctionTimeoutError, Invoker
from bakery_local.loop_invoker import LoopInvoker
from bakery_local.server import build_gateway
from bakery_local.standalone import build_app
from bakery_local.template import AuthorizerSpec, FunctionSpec, HttpApiSpec, RouteSpec
from tests.support import fake_authorizer, fake_function
from tests.unit.local.test_standalone import TEMPLATE

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
Build = Callable[[], FunctionInvoker]
SERVE: Build = lambda: LoopInvoker(FUNCTIONS, Invoker(FUNCTIONS, workers=4))  # noqa: E731
LOCAL: Build = lambda: Invoker(FUNCTIONS, workers=4)  # noqa: E731
ClientOf = Callable[..., httpx.AsyncClient]
BOTH = pytest.mark.parametrize("build", [SERVE, LOCAL], ids=["serve", "local"])


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


async def test_serve_awaits_async_handler_on_the_servers_own_loop_and_thread(
    client_of: ClientOf,
) -> None:
    async with client_of(SERVE()) as client:
        response = await client.get("/items")

    assert (response.status_code, response.text) == (200, "answered")
    [call] = fake_function.calls
    assert call.entry == "async_handler"
    assert call.loop is asyncio.get_running_loop()
    assert call.thread == threading.get_ident()


async def test_local_invokes_handler_on_a_thread_of_its_own_even_beside_an_async_handler(
    client_of: ClientOf,
) -> None:
    async with client_of(LOCAL()) as client:
        response = await client.get("/items")

    assert (response.status_code, response.text) == (200, "answered")
    [call] = fake_function.calls
    assert call.entry == "handler"
    assert call.thread != threading.get_ident()
    assert call.loop is None  # a Lambda handler runs its own loop: none is running around it


async def test_serve_runs_a_function_without_async_handler_on_a_thread_as_the_authorizer(
    client_of: ClientOf,
) -> None:
    async with client_of(SERVE()) as client:
        await client.get("/items")

    [authorizer_thread] = fake_authorizer.threads
    assert authorizer_thread != threading.get_ident()


async def test_serve_runs_many_async_invocations_at_once_on_one_loop(
    client_of: ClientOf,
) -> None:
    async with client_of(SERVE()) as client:
        await client.get("/warm")  # the authorizer's verdict cached, the module imported
        started = time.monotonic()
        responses = await asyncio.gather(*(client.get("/slow", timeout=5) for _ in range(8)))
        elapsed = time.monotonic() - started

    # Each outlasts the timeout alone; eight one after another would take eight timeouts.
    assert {response.status_code for response in responses} == {500}
    assert elapsed < 4 * TIMEOUT_SECONDS


@BOTH
async def test_a_failing_handler_is_api_gateways_500_on_either_path(
    build: Build,
    client_of: ClientOf,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with client_of(build()) as client:
        response = await client.get("/fail")

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert "function Function failed" in caplog.text


@BOTH
async def test_a_handler_past_its_timeout_is_a_function_error_api_gateways_500_on_either_path(
    build: Build, client_of: ClientOf
) -> None:
    async with client_of(build()) as client:
        started = time.monotonic()
        response = await client.get("/slow")
        elapsed = time.monotonic() - started

    assert response.status_code == 500
    assert response.json() == {"message": "Internal Server Error"}
    assert elapsed < fake_function.SLOW_SECONDS


@BOTH
async def test_no_answer_within_the_integration_timeout_is_api_gateways_503_on_either_path(
    build: Build, client_of: ClientOf
) -> None:
    # Before the function's own timeout (0.2 s): API Gateway stops waiting first.
    async with client_of(build(), integration_timeout_seconds=0.05) as client:
        started = time.monotonic()
        response = await client.get("/slow")
        elapsed = time.monotonic() - started

    assert response.status_code == 503
    assert response.json() == {"message": "Service Unavailable"}
    assert elapsed < TIMEOUT_SECONDS


@BOTH
async def test_invocations_are_counted_per_function_on_either_path(build: Build, client_of: ClientOf) -> None:
    invoker = build()
    async with client_of(invoker) as client:
        await client.get("/one")
        await client.get("/two")

    assert invoker.invocations == {"Function": 2, "Authorizer": 1}


async def test_an_async_invocation_past_its_timeout_is_cancelled() -> None:
    invoker = SERVE()
    try:
        with pytest.raises(FunctionTimeoutError, match=r"^Function timed out after 0\.2 s$"):
            await invoker.invoke("Function", {"rawPath": "/slow"})
        await asyncio.sleep(0)
    finally:
        invoker.close()

    [call] = fake_function.calls
    assert call.entry == "async_handler"
    assert not [task for task in asyncio.all_tasks() if "async_handler" in repr(task.get_coro())]


def test_serve_builds_a_loop_invoker_and_local_the_thread_invoker() -> None:
    app = build_app(TEMPLATE, threads=1)
    gateway = build_gateway(TEMPLATE, workers=1)
    try:
        assert isinstance(app.api.invoker, LoopInvoker)
        assert type(gateway.invoker) is Invoker
    finally:
        app.api.invoker.close()
        gateway.invoker.close()
