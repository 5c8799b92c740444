"""The attack suite's fixtures: the integration tier's played API Gateway, and the local runtime.

Token, identity, tenancy and log cases go through the real handlers (``gateway``: authorizer, then
the route's function, a real Redis, the stub service). Cases that depend on the bytes on the wire
(raw paths, CRLF, conflicting lengths, CORS) go to the local runtime over real sockets
(``runtime``), because HTTP client libraries normalise what these cases need to send.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bakery_gateway import constants as names
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import PAYING_TENANTS, mark_paying, service_base_url
from tests.e2e.conftest import deployment_environment
from tests.e2e.runtime import RunningGateway, local_gateway

# The integration tier's fixtures, shared rather than copied: the real handlers behind a played API Gateway.
from tests.integration.conftest import (  # noqa: F401
    aws,
    gateway,
    lambda_runtime,
    private_redis,
    start_gateway,
    start_private_gateway,
)
from tests.support.redis_server import RedisEndpoint
from tests.support.stub_service import StubService

ALLOWED_ORIGIN = "https://app.bakery.example"
MAX_REQUEST_BYTES = 64 * 1024


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    """A valid access token of user-1, acting on tenant-a only."""
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a", roles=["owner"])


@pytest.fixture(scope="package")
def runtime_services() -> Iterator[StubService]:
    """The local runtime's downstream services: one stub, each service under its own base path."""
    with StubService() as stub:
        yield stub


# Package scope: the runtime's alert subscriber hears every PUBLISH on the shared Redis server, so
# it must be gone before another package's tests publish (as in tests/e2e).
@pytest.fixture(scope="package")
def runtime(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
    runtime_services: StubService,
) -> Iterator[RunningGateway]:
    """``bakery-gateway local`` configured like a deployment, with one allowed CORS origin."""
    environ = {
        **deployment_environment(redis_server, dev_keys),
        names.CORS_ORIGINS: ALLOWED_ORIGIN,
        names.MAX_REQUEST_BYTES: str(MAX_REQUEST_BYTES),
        # Fuzzing sends hundreds of requests with one token: its budget is not what is tested here.
        names.RATE_LIMIT_REQUESTS: "1000000",
        names.RATE_LIMIT_TENANT_REQUESTS: "1000000",
        names.SSE_WAIT_SECONDS: "0.2",  # an alert stream with nothing new answers at once
    }
    for service in names.SERVICES:
        environ[names.service_url_variable(service)] = service_base_url(runtime_services, service)
    log_path = tmp_path_factory.mktemp("runtime") / "gateway.log"
    with local_gateway(environ, log_path) as running:
        yield running


@pytest.fixture
def received(runtime_services: StubService, redis_server: RedisEndpoint) -> StubService:
    """The runtime's services with what they received forgotten; the paying tenants recorded again."""
    client = redis_server.client()
    mark_paying(client, *PAYING_TENANTS)
    client.close()
    runtime_services.reset()
    return runtime_services
