"""``ServeApp`` with fake functions and a fake authorizer: what reaches them, and what API Gateway's
rules answer instead."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from bakery_gateway.api.identity import Unauthenticated, Verdict
from bakery_gateway.api.request import Request
from bakery_gateway.api.routes import FANOUT_FUNCTION, POLICY_FUNCTION, PROXY_FUNCTION
from bakery_gateway.serve.app import FunctionAnswer, ServeApp, ServedFunction
from tests.support.identities import identity

TIMEOUT_SECONDS = 0.2
SLOW_SECONDS = 1.0
TOKEN = "Bearer token-1"


@dataclass
class FakeFunction:
    """Answers 200 with its name; ``/fail`` raises, ``/slow`` outlasts ``TIMEOUT_SECONDS``."""

    name: str
    requests: list[Request] = field(default_factory=list)
    loops: list[asyncio.AbstractEventLoop] = field(default_factory=list)
    headers: list[tuple[str, str]] = field(default_factory=lambda: [("content-type", "text/plain")])
    body: bytes | None = None  # None: its name
    cancelled: int = 0  # ``/slow`` invocations stopped while they waited

    async def answer(self, request: Request, context: Any) -> FunctionAnswer:
        self.requests.append(request)
        self.loops.append(asyncio.get_running_loop())
        if request.path.endswith("/fail"):
            raise RuntimeError("the function failed")
        if request.path.endswith("/slow"):
            try:
                await asyncio.sleep(SLOW_SECONDS)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return 200, self.headers, self.name.encode() if self.body is None else self.body


@dataclass
class FakeAuthorizer:
    """Authorizes ``Bearer token-*`` with an identity; denies (isAuthorized false) ``Bearer deny``;
    raises for ``Bearer fail``, outlasts ``TIMEOUT_SECONDS`` for ``Bearer slow``; refuses anything
    else in its verdict, as ours does."""

    calls: list[Request] = field(default_factory=list)
    threads: list[int] = field(default_factory=list)

    def __call__(self, request: Request) -> tuple[bool, Verdict]:
        self.calls.append(request)
        self.threads.append(threading.get_ident())
        credential = request.headers.get("authorization", "")
        if credential == "Bearer fail":
            raise RuntimeError("the authorizer failed")
        if credential == "Bearer slow":
            time.sleep(SLOW_SECONDS)
        if credential == "Bearer deny":
            return False, Unauthenticated("denied")
        if credential.startswith("Bearer token-"):
            return True, identity()
        return True, Unauthenticated("no token")


@dataclass
class Gateway:
    app: ServeApp
    functions: dict[str, FakeFunction]
    authorizer: FakeAuthorizer

    def calls(self, name: str) -> int:
        return len(self.functions[name].requests)


ClientOf = Callable[..., httpx.AsyncClient]


@pytest.fixture
def gateway() -> Gateway:
    functions = {name: FakeFunction(name) for name in (PROXY_FUNCTION, POLICY_FUNCTION, FANOUT_FUNCTION)}
    authorizer = FakeAuthorizer()
    served = {name: ServedFunction(function.answer, TIMEOUT_SECONDS) for name, function in functions.items()}
    app = ServeApp(served, authorizer, threads=2, authorizer_timeout_seconds=TIMEOUT_SECONDS)
    return Gateway(app, functions, authorizer)


@pytest.fixture
async def client(gateway: Gateway) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway.app)
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
        yield client
    gateway.app.close()


def client_from(gateway: Gateway, address: str) -> httpx.AsyncClient:
    """A client of ``gateway`` whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=gateway.app, client=(address, 50000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")
