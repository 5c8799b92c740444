"""``bakery-gateway serve``'s application with the real functions, Redis and a service: the proxy
called with the request on the server's own loop, the authorizer on a thread behind its cache."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bakery_gateway.api.request import Request
from bakery_gateway.forwarding.proxy_handler import ProxyHandler
from bakery_gateway.serve.app import ServeApp
from bakery_gateway.serve.server import build_app
from bakery_gateway.settings import ServerSettings, Settings
from tests.integration.conftest import GatewayStarter
from tests.support.lambda_gateway import LambdaGateway
from tests.support.lambda_runtime import LambdaRuntime
from tests.support.stub_service import StubService

PATH = "/api/v1/sales/items"


@dataclass
class Serve:
    app: ServeApp
    loop: asyncio.AbstractEventLoop
    # Where each proxy invocation ran: (running loop, thread).
    proxy_ran_on: list[tuple[asyncio.AbstractEventLoop, int]] = field(default_factory=list)

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        async def get() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                return await client.get(path, headers=headers)

        return self.loop.run_until_complete(get())

    def invocations(self) -> dict[str, int]:
        return dict(self.app.invocations)


@pytest.fixture
def lambda_gateway(start_gateway: GatewayStarter) -> LambdaGateway:
    return start_gateway()


@pytest.fixture
def serve(
    lambda_gateway: LambdaGateway, lambda_runtime: LambdaRuntime, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Serve]:
    """One worker's application, on the loop the runtime closes its clients on (as uvicorn's worker),
    built from the environment the handler modules were cold-started with."""
    original = ProxyHandler.answer
    ran_on: list[tuple[asyncio.AbstractEventLoop, int]] = []

    async def recorded(self: ProxyHandler, request: Request, context: Any = None) -> Any:
        ran_on.append((asyncio.get_running_loop(), threading.get_ident()))
        return await original(self, request, context)

    monkeypatch.setattr(ProxyHandler, "answer", recorded)
    app = build_app(Settings.from_environ(), ServerSettings.from_environ(), threads=2)
    served = Serve(app, lambda_runtime.loop, ran_on)
    yield served
    served.app.close()


def test_serve_forwards_through_the_proxy_on_the_servers_loop(
    serve: Serve, stub_service: StubService, token: str
) -> None:
    response = serve.get(PATH, {"authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert stub_service.last_request.path.endswith("/items")
    assert serve.proxy_ran_on == [(serve.loop, threading.get_ident())]


def test_serve_answers_as_the_lambda_handler_does(
    serve: Serve, lambda_gateway: LambdaGateway, stub_service: StubService, token: str
) -> None:
    stub_service.reply(201, [("content-type", "application/json")], b'{"baked": 12}')

    served = serve.get(PATH, {"authorization": f"Bearer {token}"})
    on_lambda = lambda_gateway.request("GET", PATH, token=token)

    assert (served.status_code, served.content) == (on_lambda.status, on_lambda.body)
    assert served.headers["content-type"] == on_lambda.headers["content-type"]


def test_serve_verifies_a_token_once_then_answers_from_the_authorizer_cache(serve: Serve, token: str) -> None:
    for _ in range(3):
        assert serve.get(PATH, {"authorization": f"Bearer {token}"}).status_code == 200

    invocations = serve.invocations()
    assert (invocations["AuthorizerFunction"], invocations["ProxyFunction"]) == (1, 3)


def test_serve_refuses_a_request_without_a_token_without_invoking_anything(serve: Serve) -> None:
    response = serve.get(PATH)

    assert response.status_code == 401
    assert serve.proxy_ran_on == []
