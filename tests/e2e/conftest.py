"""The end-to-end tier: the local runtime in its own process, real sockets, real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import PAYING_TENANTS, mark_paying, new_paying_tenant, service_base_url
from tests.e2e.runtime import RunningGateway, local_gateway
from tests.support.redis_server import RedisEndpoint, free_port
from tests.support.stub_service import StubService

ALLOWED_ORIGIN = "https://app.bakery.example"
READ_TIMEOUT_SECONDS = 1.0
DEAD_SERVICE = "orchestrator"  # configured on a port nothing listens on
SLOW_SERVICE = "external"  # configured on a stub that answers too late


@pytest.fixture(scope="session")
def services() -> Iterator[StubService]:
    """The downstream services: one stub, each service under its own base path."""
    with StubService() as stub:
        yield stub


@pytest.fixture(scope="session")
def slow_service() -> Iterator[StubService]:
    with StubService() as stub:
        stub.be_slow(READ_TIMEOUT_SECONDS * 5)
        yield stub


def deployment_environment(redis_server: RedisEndpoint, dev_keys: DevKeyPair) -> dict[str, str]:
    """What every configured runtime of this tier shares: the tests' Redis, their keys, quiet logs."""
    return {
        names.REDIS_HOST: redis_server.host,
        names.REDIS_PORT: str(redis_server.port),
        names.REDIS_DB: str(redis_server.db),
        names.JWT_PUBLIC_KEYS: dev_keys.public_keys_json,
        "LOG_LEVEL": "WARNING",
    }


# Package scope, not session: the runtime's alert subscriber hears every PUBLISH on the shared Redis
# server, so it must be gone before the integration tier, whose tests publish fixed alerts and flush
# the database between tests (a late copy would land in the next test's clean database).
@pytest.fixture(scope="package")
def gateway(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
    services: StubService,
    slow_service: StubService,
) -> Iterator[RunningGateway]:
    """The local runtime configured like a deployment: real Redis, real keys, real services."""
    environ = {
        **deployment_environment(redis_server, dev_keys),
        names.CORS_ORIGINS: ALLOWED_ORIGIN,
        names.DOWNSTREAM_CONNECT_TIMEOUT_SECONDS: "1",
        names.DOWNSTREAM_READ_TIMEOUT_SECONDS: str(READ_TIMEOUT_SECONDS),
        names.MAX_REQUEST_BYTES: str(64 * 1024),
    }
    for service in names.SERVICES:
        environ[names.service_url_variable(service)] = service_base_url(services, service)
    environ[names.service_url_variable(DEAD_SERVICE)] = f"http://127.0.0.1:{free_port()}"
    environ[names.service_url_variable(SLOW_SERVICE)] = slow_service.url
    log_path = tmp_path_factory.mktemp("gateway") / "gateway.log"
    with local_gateway(environ, log_path) as running:
        yield running


@pytest.fixture
def client(redis_server: RedisEndpoint) -> Iterator[redis.Redis]:
    """A client of the session's Redis, which the running gateway shares: nothing is flushed."""
    client = redis_server.client()
    yield client
    client.close()


@pytest.fixture
def tenant(client: redis.Redis) -> str:
    """A paying tenant of this test alone, with no alerts, keys or policies yet."""
    return new_paying_tenant(client)


@pytest.fixture(autouse=True)
def paying_tenants(redis_server: RedisEndpoint) -> None:
    """The tenants these tests act on pay: subscriptions are the policy tests' business."""
    client = redis_server.client()
    mark_paying(client, *PAYING_TENANTS)
    client.close()


@pytest.fixture
def received(services: StubService) -> StubService:
    """The services' stub, with what it received so far forgotten and echoing again."""
    services.reset()
    return services


def tenant_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
