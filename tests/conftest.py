"""Fixtures every tier shares: signing keys, a real Redis, a stub downstream service, the environment.

Session resources start only when a test asks for them, so the unit tier never starts Redis.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import redis

from bakery_gateway import constants as names
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.policies.subscription import Subscription
from bakery_local.dev_tokens import DevKeyPair
from tests.support.redis_server import RedisEndpoint, free_port, redis_for_tests
from tests.support.stub_service import StubService

SECOND_KEY_ID = "bakery-dev-2"


@pytest.fixture(scope="session")
def dev_keys() -> DevKeyPair:
    """The key pair tokens are signed with (kid ``bakery-dev-1``); mint with ``dev_keys.mint(...)``."""
    return DevKeyPair.generate()


@pytest.fixture(scope="session")
def second_dev_keys() -> DevKeyPair:
    """Another key pair, kid ``bakery-dev-2``: the next key of a rotation, or a stranger's key."""
    return DevKeyPair.generate(key_id=SECOND_KEY_ID)


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisEndpoint]:
    """A real Redis: TEST_REDIS_HOST:TEST_REDIS_PORT (default 127.0.0.1:6379) when it answers PING,
    else a private ``redis-server`` on a free port, stopped at the end of the session."""
    try:
        with redis_for_tests() as endpoint:
            yield endpoint
    except RuntimeError as error:
        pytest.fail(str(error), pytrace=False)


@pytest.fixture
def redis_client(redis_server: RedisEndpoint) -> Iterator[redis.Redis]:
    """A client of the tests' database (TEST_REDIS_DB, default 15), flushed before the test."""
    client = redis_server.client()
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def closed_port() -> int:
    """A local port nothing listens on: a dead service, or a Redis that is down."""
    return free_port()


@pytest.fixture
def stub_service() -> Iterator[StubService]:
    """A downstream service on 127.0.0.1 and an ephemeral port (echoes unless told otherwise)."""
    with StubService() as service:
        yield service


def service_base_url(stub: StubService, service: str) -> str:
    """Each service's URL is the stub plus a path of its own, so a test sees which URL was used."""
    return f"{stub.url}/{service}-svc"


# The tenants the request-path tests act on; they pay, so subscriptions never get in the way there.
PAYING_TENANTS = ("tenant-a", "tenant-b", "tenant-z", "tenant-7", "bakery-1", "bakery-2", "demo-tenant")


def mark_paying(client: redis.Redis, *tenant_ids: str) -> None:
    """Record active subscriptions for ``tenant_ids`` where the gateway caches them."""
    fields = Subscription("active", "professional", 0, 0).to_hash()
    for tenant_id in tenant_ids:
        for field, value in fields.items():
            client.hset(redis_keyspace.subscription_key(tenant_id), field, value)


def new_paying_tenant(client: redis.Redis) -> str:
    """A paying tenant no other test uses (a Redis shared by many tests holds nothing of it yet)."""
    tenant_id = f"tenant-{uuid.uuid4().hex[:12]}"
    mark_paying(client, tenant_id)
    return tenant_id


@pytest.fixture
def gateway_environment(
    redis_server: RedisEndpoint, redis_client: redis.Redis, dev_keys: DevKeyPair, stub_service: StubService
) -> dict[str, str]:
    """The environment of a deployed gateway: real Redis (flushed), dev keys, every service on the stub."""
    environ = {
        names.ENVIRONMENT: "test",
        names.REDIS_HOST: redis_server.host,
        names.REDIS_PORT: str(redis_server.port),
        names.REDIS_DB: str(redis_server.db),
        names.JWT_PUBLIC_KEYS: dev_keys.public_keys_json,
        names.DOWNSTREAM_CONNECT_TIMEOUT_SECONDS: "1",
        names.DOWNSTREAM_READ_TIMEOUT_SECONDS: "2",
    }
    for service in names.SERVICES:
        environ[names.service_url_variable(service)] = service_base_url(stub_service, service)
    mark_paying(redis_client, *PAYING_TENANTS)
    return environ


MetricReader = Callable[..., float]


@pytest.fixture
def metric() -> MetricReader:
    """Read one sample of the gateway's metrics registry (0.0 when it has none yet)."""
    from bakery_gateway.telemetry.observability import registry

    def read(name: str, **labels: str) -> float:
        return registry.get_sample_value(name, labels) or 0.0

    return read
