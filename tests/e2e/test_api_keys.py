"""An API key's whole life over real sockets, through the local runtime and its API Gateway rules
(caching authorizer, identity source ``Authorization``): created by an operator, used, rate-limited,
revoked — and refused at once although the runtime still caches the key's verdict."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bakery_gateway import constants as names
from bakery_gateway.clients import redis_keyspace
from bakery_local.dev_tokens import DevKeyPair
from tests.conftest import service_base_url
from tests.e2e.conftest import deployment_environment
from tests.e2e.runtime import RunningGateway, local_gateway
from tests.support.redis_server import RedisEndpoint
from tests.support.stub_service import StubService

KEY_LIMIT = 3


@pytest.fixture(scope="module")
def key_gateway(
    tmp_path_factory: pytest.TempPathFactory,
    redis_server: RedisEndpoint,
    dev_keys: DevKeyPair,
    services: StubService,
) -> Iterator[RunningGateway]:
    """A runtime of this module's own: a key budget small enough to exhaust in a test."""
    environ = {
        **deployment_environment(redis_server, dev_keys),
        names.API_KEY_RATE_LIMIT_REQUESTS: str(KEY_LIMIT),
        names.API_KEY_RATE_LIMIT_WINDOW_SECONDS: "3600",
    }
    for service in names.SERVICES:
        environ[names.service_url_variable(service)] = service_base_url(services, service)
    log_path: Path = tmp_path_factory.mktemp("api-keys") / "gateway.log"
    with local_gateway(environ, log_path) as running:
        yield running


def test_an_api_key_from_creation_to_revocation(
    key_gateway: RunningGateway,
    received: StubService,
    dev_keys: DevKeyPair,
    tenant: str,
    redis_server: RedisEndpoint,
) -> None:
    admin = {"Authorization": f"Bearer {dev_keys.mint(user_id='ops-1', roles=['platform_admin'])}"}
    keys_url = f"{key_gateway.url}/api/v1/admin/tenants/{tenant}/api-keys"
    created = httpx.post(keys_url, headers=admin, json={"name": "till 1", "services": ["pos"]}, timeout=5)
    assert created.status_code == 201
    key, key_id = created.json()["key"], created.json()["id"]
    with_key = {"Authorization": f"ApiKey {key}"}
    pos = f"{key_gateway.url}/api/v1/pos/transactions"

    # Used: the identity headers reach the service, the key does not.
    first = httpx.get(pos, headers=with_key, timeout=5)
    assert first.status_code == 200
    forwarded = received.last_request
    assert forwarded.header("x-user-id") == f"api-key:{key_id}"
    assert forwarded.header("x-tenant-id") == tenant
    assert forwarded.header("x-user-roles") == "integration"
    assert key not in str(forwarded.headers)

    # Scoped: another service, or another tenant, is a 403 problem.
    outside = httpx.get(f"{key_gateway.url}/api/v1/sales/x", headers=with_key, timeout=5)
    assert outside.status_code == 403
    assert outside.json()["type"].endswith("/service-not-in-scope")
    other_tenant = httpx.get(pos, headers={**with_key, "X-Tenant-ID": "tenant-b"}, timeout=5)
    assert other_tenant.json()["type"].endswith("/tenant-forbidden")

    # Rate-limited on its own budget.
    statuses = [httpx.get(pos, headers=with_key, timeout=5).status_code for _ in range(KEY_LIMIT)]
    assert statuses[-1] == 429
    assert '"api-key";q=3' in httpx.get(pos, headers=with_key, timeout=5).headers["ratelimit-policy"]

    # Revoked: refused at once, though the runtime's authorizer cache still holds the key's verdict.
    invocations = key_gateway.status()["authorizer_invocations"]
    assert httpx.delete(f"{keys_url}/{key_id}", headers=admin, timeout=5).status_code == 204
    refused = httpx.get(pos, headers=with_key, timeout=5)
    assert refused.status_code == 401
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/api-key-revoked")
    assert refused.headers["www-authenticate"].startswith("ApiKey ")
    assert key_gateway.status()["authorizer_invocations"] == invocations  # both verdicts came from the cache

    # Stored as a hash, and never logged.
    client = redis_server.client()
    assert not client.exists(redis_keyspace.api_key_key(key_id))
    client.close()
    assert key.removeprefix(f"bk_{key_id}_") not in key_gateway.log()


def test_a_malformed_key_is_a_401_problem(key_gateway: RunningGateway) -> None:
    response = httpx.get(
        f"{key_gateway.url}/api/v1/pos/transactions", headers={"Authorization": "ApiKey nope"}, timeout=5
    )

    assert response.status_code == 401
    assert response.json()["type"].endswith("/invalid-api-key")


def test_x_api_key_alone_never_reaches_the_caching_authorizer(
    key_gateway: RunningGateway, received: StubService
) -> None:
    # As API Gateway does: the identity source (Authorization) is missing, so 401 without asking
    # the authorizer. Behind the HTTP API, keys go in "Authorization: ApiKey <key>" (docs/api-keys.md).
    response = httpx.get(
        f"{key_gateway.url}/api/v1/pos/transactions", headers={"X-API-Key": "bk_anything"}, timeout=5
    )

    assert response.status_code == 401
    assert response.json() == {"message": "Unauthorized"}
    assert received.requests == []
