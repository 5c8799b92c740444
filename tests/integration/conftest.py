"""Integration fixtures: the real handlers, cold-started from an environment, behind a played API Gateway."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from moto import mock_aws

from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import PAYING_TENANTS, mark_paying
from tests.support.lambda_gateway import LambdaGateway
from tests.support.lambda_runtime import AUTHORIZER_MODULE, POLICY_MODULE, PROXY_MODULE, LambdaRuntime
from tests.support.redis_server import RedisProcess

GatewayStarter = Callable[..., LambdaGateway]


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    """A valid access token of user-1 on tenant-a; modules that need other claims mint their own."""
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a")


@pytest.fixture
def fake_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in eu-west-1 that sign requests but open no real account."""
    for name, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture
def aws(fake_credentials: None) -> Iterator[None]:
    """A moto account in eu-west-1; no real credentials can be used."""
    with mock_aws():
        yield


@pytest.fixture
def lambda_runtime(monkeypatch: pytest.MonkeyPatch) -> Iterator[LambdaRuntime]:
    runtime = LambdaRuntime(monkeypatch)
    yield runtime
    runtime.close()


@pytest.fixture
def start_gateway(lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]) -> GatewayStarter:
    """Cold-start every handler with the gateway environment plus ``overrides`` (variable=value)."""

    def start(**overrides: str) -> LambdaGateway:
        environ = {**gateway_environment, **overrides}
        authorizer = lambda_runtime.cold_start(AUTHORIZER_MODULE, environ)
        proxy = lambda_runtime.cold_start(PROXY_MODULE, environ)
        policy = lambda_runtime.cold_start(POLICY_MODULE, environ)
        return LambdaGateway(authorizer.handler, proxy.handler, policy.handler)

    return start


@pytest.fixture
def gateway(start_gateway: GatewayStarter) -> LambdaGateway:
    """Every handler with the default test environment."""
    return start_gateway()


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[RedisProcess]:
    """A ``redis-server`` of this test's own, that it may stop, pause and start again on the same port."""
    server = RedisProcess(tmp_path).start()
    yield server
    server.stop()


@pytest.fixture
def start_private_gateway(start_gateway: GatewayStarter, private_redis: RedisProcess) -> GatewayStarter:
    """``start_gateway`` against ``private_redis`` (database 0), with the paying tenants recorded there."""
    client = private_redis.endpoint().client()
    mark_paying(client, *PAYING_TENANTS)
    client.close()

    def start(**overrides: str) -> LambdaGateway:
        return start_gateway(**{"REDIS_PORT": str(private_redis.port), "REDIS_DB": "0", **overrides})

    return start


@pytest.fixture
def unanswered_port() -> Iterator[int]:
    """A port whose listen queue is full: a connection attempt gets no answer at all."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield port
    for sock in [*fillers, listener]:
        sock.close()
