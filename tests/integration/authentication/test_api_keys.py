"""API keys through the real handlers and a real Redis: created and revoked by an operator through the
policy function, accepted by the authorizer, scoped, rate-limited and refused by the proxy."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis

from bakery_gateway.api.routes import ALERT_STREAM_PATH
from bakery_gateway.authentication import api_keys
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.telemetry.observability import SERVICE_NAME, logger
from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.integration.policies.test_policies_round_trip import commands_sent_by
from tests.support.audit_stream import audit_entries
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem
from tests.support.redis_server import RedisProcess
from tests.support.stub_service import StubService

KEYS = "/api/v1/admin/tenants/tenant-a/api-keys"


@pytest.fixture
def admin_token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="ops-1", roles=["platform_admin"])


@pytest.fixture
def log_text() -> Iterator[Callable[[], str]]:
    """Everything the gateway logs from now on, formatted as on Lambda."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logger.registered_formatter)
    gateway_logger = logging.getLogger(SERVICE_NAME)
    gateway_logger.addHandler(handler)
    yield stream.getvalue
    gateway_logger.removeHandler(handler)


def create_key(gateway: LambdaGateway, admin_token: str, **fields: Any) -> dict[str, Any]:
    document = {"name": "till 1", "services": ["pos", "sales"], **fields}
    response = gateway.request(
        "POST",
        KEYS,
        token=admin_token,
        body=json.dumps(document),
        headers={"content-type": "application/json"},
    )
    assert response.status == 201, response.raw
    created: dict[str, Any] = response.json()
    return created


def call(gateway: LambdaGateway, key: str, path: str = "/api/v1/pos/sales", **options: Any) -> ProxyResponse:
    """One request with the key, through the authorizer (uncached) and the proxy."""
    credentials = {"authorization": f"ApiKey {key}"}
    context = gateway.authorize_credentials(credentials)
    return gateway.request(
        "GET", path, context=context, headers={**credentials, **options.pop("headers", {})}
    )


# --- creation ----------------------------------------------------------------------------------------
def test_an_operator_creates_a_key_shown_once_and_stored_as_a_hash(
    gateway: LambdaGateway, admin_token: str, redis_client: redis.Redis
) -> None:
    response = gateway.request(
        "POST",
        KEYS,
        token=admin_token,
        body=json.dumps({"name": "till 1", "services": ["pos"], "expires_at": "2100-01-01T00:00:00Z"}),
    )

    assert response.status == 201
    assert response.headers["cache-control"] == "no-store"
    created = response.json()
    assert api_keys.parse_key_id(created["key"]) == created["id"]
    assert created["roles"] == ["integration"]
    assert created["expires_at"] == 4102444800
    record = redis_client.hgetall(redis_keyspace.api_key_key(created["id"]))
    assert record["key_hash"] == api_keys.key_hash(created["key"])
    assert redis_client.ttl(redis_keyspace.api_key_key(created["id"])) > 0  # expires with the key


def test_the_key_is_nowhere_in_redis(
    gateway: LambdaGateway, admin_token: str, redis_client: redis.Redis
) -> None:
    created = create_key(gateway, admin_token)
    call(gateway, created["key"])
    secret = created["key"].removeprefix(f"bk_{created['id']}_")

    dump = json.dumps(
        [
            [name, redis_client.type(name), redis_client.dump(name).hex()]  # type: ignore[union-attr]
            for name in redis_client.scan_iter()
        ]
    )
    audit = json.dumps(audit_entries(redis_client))

    assert secret not in dump
    assert secret.encode().hex() not in dump
    assert secret not in audit


def test_only_operators_administer_keys(
    gateway: LambdaGateway, dev_keys: DevKeyPair, admin_token: str
) -> None:
    owner = dev_keys.mint(user_id="user-1", tenant_id="tenant-a", roles=["owner"])
    key = create_key(gateway, admin_token)["key"]

    by_owner = gateway.request("POST", KEYS, token=owner, body=json.dumps({"name": "x", "services": ["pos"]}))
    context = gateway.authorize_credentials({"authorization": f"ApiKey {key}"})
    by_key = gateway.request("GET", KEYS, context=context, headers={"authorization": f"ApiKey {key}"})

    assert_problem(by_owner, 403, "forbidden-role")
    assert_problem(by_key, 403, "forbidden-role")


def test_a_creation_with_an_unknown_service_is_a_400_naming_the_field(
    gateway: LambdaGateway, admin_token: str
) -> None:
    response = gateway.request(
        "POST", KEYS, token=admin_token, body=json.dumps({"name": "x", "services": ["payroll"]})
    )

    problem = assert_problem(response, 400, "bad-request")
    assert problem["invalid_params"][0]["name"] == "services"


def test_listing_shows_the_tenants_keys_without_secrets(gateway: LambdaGateway, admin_token: str) -> None:
    created = create_key(gateway, admin_token)

    listed = gateway.request("GET", KEYS, token=admin_token).json()

    assert [entry["id"] for entry in listed["api_keys"]] == [created["id"]]
    assert created["key"] not in json.dumps(listed)
    assert "key_hash" not in listed["api_keys"][0]


# --- use -----------------------------------------------------------------------------------------------
def test_a_key_reaches_its_service_as_a_service_principal(
    gateway: LambdaGateway, admin_token: str, stub_service: StubService
) -> None:
    created = create_key(gateway, admin_token)

    response = call(gateway, created["key"], headers={"x-user-id": "forged"})

    assert response.status == 200
    received = stub_service.last_request
    assert received.header("x-user-id") == f"api-key:{created['id']}"
    assert received.header("x-tenant-id") == "tenant-a"
    assert received.header("x-user-roles") == "integration"
    assert "x-api-key" not in received.header_names
    assert "authorization" not in received.header_names  # the key stays at the gateway
    assert '"api-key";q=600;w=60' in response.headers["ratelimit-policy"]


def test_the_x_api_key_header_works_where_the_authorizer_is_asked(
    gateway: LambdaGateway, admin_token: str, stub_service: StubService
) -> None:
    created = create_key(gateway, admin_token)

    # Only an authorizer without identity sources (the alert stream's) is asked without Authorization.
    context = gateway.authorize_credentials({"x-api-key": created["key"]}, path=ALERT_STREAM_PATH)
    response = gateway.request(
        "GET", "/api/v1/pos/sales", context=context, headers={"x-api-key": created["key"]}
    )

    assert response.status == 200
    assert stub_service.last_request.header("x-user-id") == f"api-key:{created['id']}"
    assert "x-api-key" not in stub_service.last_request.header_names


def test_a_service_outside_the_keys_scope_is_a_403(
    gateway: LambdaGateway, admin_token: str, stub_service: StubService
) -> None:
    key = create_key(gateway, admin_token, services=["pos"])["key"]

    response = call(gateway, key, "/api/v1/inventory/items")

    problem = assert_problem(response, 403, "service-not-in-scope")
    assert problem["allowed_services"] == ["pos"]
    assert stub_service.requests == []


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/api/v1/tenants/tenant-b/pos/sales", {}),
        ("/api/v1/pos/sales", {"x-tenant-id": "tenant-b"}),
    ],
)
def test_another_tenant_is_a_403(
    gateway: LambdaGateway, admin_token: str, stub_service: StubService, path: str, headers: dict[str, str]
) -> None:
    key = create_key(gateway, admin_token)["key"]

    response = call(gateway, key, path, headers=headers)

    assert_problem(response, 403, "tenant-forbidden")
    assert stub_service.requests == []


@pytest.mark.parametrize("key", ["bk_short", "bk_0123456789abcdef_" + "!" * 43, api_keys.generate().key])
def test_a_malformed_or_unknown_key_is_a_401_problem_with_an_apikey_challenge(
    gateway: LambdaGateway, key: str
) -> None:
    response = call(gateway, key)

    assert_problem(response, 401, "invalid-api-key")
    assert response.headers["www-authenticate"].startswith("ApiKey ")


def test_a_key_has_its_own_rate_limit(
    start_gateway: GatewayStarter, admin_token: str, dev_keys: DevKeyPair
) -> None:
    gateway = start_gateway(API_KEY_RATE_LIMIT_REQUESTS="2", API_KEY_RATE_LIMIT_WINDOW_SECONDS="60")
    key = create_key(gateway, admin_token)["key"]
    user = gateway.context_for(dev_keys.mint(user_id="user-1", tenant_id="tenant-a"))

    statuses = [call(gateway, key).status for _ in range(3)]
    refused = call(gateway, key)

    assert statuses == [200, 200, 429]
    assert_problem(refused, 429, "rate-limited")
    assert refused.headers["retry-after"]
    # The tenant's users keep their own budgets.
    assert gateway.request("GET", "/api/v1/pos/sales", context=user).status == 200


# --- revocation ----------------------------------------------------------------------------------------
def test_a_revoked_key_is_refused_at_once_even_with_a_cached_verdict(
    gateway: LambdaGateway, admin_token: str, redis_client: redis.Redis
) -> None:
    created = create_key(gateway, admin_token)
    credentials = {"authorization": f"ApiKey {created['key']}"}
    cached = gateway.authorize_credentials(credentials)  # what API Gateway keeps for up to its TTL
    assert gateway.request("GET", "/api/v1/pos/sales", context=cached, headers=credentials).status == 200

    revoked = gateway.request("DELETE", f"{KEYS}/{created['id']}", token=admin_token)

    assert revoked.status == 204
    refused = gateway.request("GET", "/api/v1/pos/sales", context=cached, headers=credentials)
    assert_problem(refused, 401, "api-key-revoked")
    assert_problem(call(gateway, created["key"]), 401, "invalid-api-key")  # the authorizer asked anew
    assert not redis_client.exists(redis_keyspace.api_key_key(created["id"]))
    marker_ttl = redis_client.ttl(redis_keyspace.revoked_key(api_keys.principal(created["id"])))
    assert 3600 < marker_ttl <= redis_keyspace.API_KEY_REVOCATION_TTL_SECONDS


def test_revoking_a_key_the_tenant_does_not_have_is_a_404(gateway: LambdaGateway, admin_token: str) -> None:
    created = create_key(gateway, admin_token)

    other_tenant = gateway.request(
        "DELETE", f"/api/v1/admin/tenants/tenant-b/api-keys/{created['id']}", token=admin_token
    )
    unknown = gateway.request("DELETE", f"{KEYS}/{api_keys.generate().key_id}", token=admin_token)

    assert_problem(other_tenant, 404, "not-found")
    assert_problem(unknown, 404, "not-found")


def test_creation_and_revocation_are_audited_without_the_key(
    gateway: LambdaGateway, admin_token: str, redis_client: redis.Redis, log_text: Callable[[], str]
) -> None:
    created = create_key(gateway, admin_token)
    gateway.request("DELETE", f"{KEYS}/{created['id']}", token=admin_token)

    entries = audit_entries(redis_client)

    assert [entry["action"] for entry in entries] == ["api_key.create", "api_key.revoke"]
    assert all(entry["actor"] == "ops-1" for entry in entries)
    assert json.loads(entries[1]["before"])["id"] == created["id"]
    assert created["key"] not in json.dumps(entries)
    assert '"action":"api_key.revoke"' in log_text().replace(" ", "")


def test_no_log_line_holds_a_key(
    gateway: LambdaGateway, admin_token: str, log_text: Callable[[], str]
) -> None:
    created = create_key(gateway, admin_token)
    secret = created["key"].removeprefix(f"bk_{created['id']}_")
    call(gateway, created["key"])
    call(gateway, created["key"][:-1] + "A")  # a wrong secret, refused
    call(gateway, created["key"], "/api/v1/inventory/items")  # out of scope

    logs = log_text()

    assert created["id"] in logs  # the requests were logged (the id is not a secret)
    assert secret not in logs
    assert secret[:-1] not in logs


def test_a_key_request_costs_the_proxy_one_redis_command(
    start_private_gateway: GatewayStarter, private_redis: RedisProcess, admin_token: str
) -> None:
    gateway = start_private_gateway()
    created = create_key(gateway, admin_token)
    credentials = {"authorization": f"ApiKey {created['key']}"}
    context = gateway.authorize_credentials(credentials)
    gateway.request("GET", "/api/v1/pos/sales", context=context, headers=credentials)  # warm

    sent = commands_sent_by(
        private_redis,
        lambda: gateway.request("GET", "/api/v1/pos/sales", context=context, headers=credentials),
    )

    assert sent == (200, ["EVALSHA"])  # revocation rides on the policy script's round trip
