"""Integration fixtures: the real handlers, cold-started from an environment, behind a played API Gateway."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.support.lambda_gateway import LambdaGateway
from tests.support.lambda_runtime import AUTHORIZER_MODULE, PROXY_MODULE, LambdaRuntime

GatewayStarter = Callable[..., LambdaGateway]


@pytest.fixture
def lambda_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaRuntime]:
    runtime = LambdaRuntime(monkeypatch)
    yield runtime
    runtime.close()


@pytest.fixture
def start_gateway(lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]) -> GatewayStarter:
    """Cold-start both handlers with the gateway environment plus ``overrides`` (variable=value)."""

    def start(**overrides: str) -> LambdaGateway:
        environ = {**gateway_environment, **overrides}
        authorizer = lambda_runtime.cold_start(AUTHORIZER_MODULE, environ)
        proxy = lambda_runtime.cold_start(PROXY_MODULE, environ)
        return LambdaGateway(authorizer.handler, proxy.handler)

    return start


@pytest.fixture
def gateway(start_gateway: GatewayStarter) -> LambdaGateway:
    """Both handlers with the default test environment."""
    return start_gateway()
