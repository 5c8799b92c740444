"""The local runtime's sample demo-session service: the session record, the token, the answers."""

from __future__ import annotations

import json
import time
from typing import Any, cast

import fakeredis
import jwt
import pytest

from bakery_gateway.api.demo import DemoAccountType, DemoSession
from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.constants import SERVICE_HEALTH_PATH
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair
from bakery_local.sample_demo_sessions import (
    ACCOUNTS_PATH,
    DEFAULT_TTL_SECONDS,
    SESSIONS_PATH,
    Answer,
    DemoSessions,
)

NOW = int(time.time())  # the gateway's verifier reads the clock itself
OLD_ACCOUNT_TYPES = ["individual_bakery", "professional_bakery", "central_baker", "enterprise_chain"]


@pytest.fixture
def fake_redis() -> fakeredis.FakeAsyncRedis:
    return fakeredis.FakeAsyncRedis(decode_responses=True)


@pytest.fixture
def service(dev_keys: DevKeyPair, fake_redis: fakeredis.FakeAsyncRedis) -> DemoSessions:
    return DemoSessions(dev_keys, redis_factory=lambda: fake_redis, clock=lambda: NOW)


async def create(service: DemoSessions, **body: Any) -> Answer:
    return await service.answer("POST", SESSIONS_PATH, json.dumps(body).encode(), "request-1")


def claims_of(token: str) -> dict[str, Any]:
    return dict(jwt.decode(token, options={"verify_signature": False}))


async def test_an_enterprise_session_has_a_parent_and_three_outlets(service: DemoSessions) -> None:
    answer = await create(service, account_type="enterprise")

    created = answer.document
    session_id = created["session_id"]
    assert answer.status == 201
    assert created["parent_tenant_id"] == f"demo-{session_id}-bakery"
    assert created["child_tenant_ids"] == [f"demo-{session_id}-outlet-{n}" for n in (1, 2, 3)]
    assert created["tenant_ids"] == [created["parent_tenant_id"], *created["child_tenant_ids"]]


async def test_a_professional_session_has_its_bakery_only(service: DemoSessions) -> None:
    answer = await create(service, account_type="professional")

    assert answer.document["child_tenant_ids"] == []
    assert answer.document["tenant_ids"] == [answer.document["parent_tenant_id"]]


async def test_each_creation_is_a_new_session(service: DemoSessions) -> None:
    first = await create(service, account_type="professional")
    second = await create(service, account_type="professional")

    assert first.document["session_id"] != second.document["session_id"]


async def test_the_record_is_written_where_the_gateway_reads_it(
    service: DemoSessions, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    answer = await create(service, account_type="enterprise")

    session_id = answer.document["session_id"]
    stored = await fake_redis.hgetall(redis_keyspace.demo_session_key(session_id))
    session = DemoSession.from_hash(session_id, cast(dict[str, str], stored))  # decode_responses=True
    assert session.account_type is DemoAccountType.ENTERPRISE
    assert list(session.tenant_ids) == answer.document["tenant_ids"]
    assert session.expires_at == NOW + DEFAULT_TTL_SECONDS == answer.document["expires_at"]


async def test_the_record_expires_with_the_session(
    service: DemoSessions, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    # Long enough to outlast the run: NOW is read when the module is collected, and the record
    # expires at NOW + ttl on the real clock.
    answer = await create(service, account_type="professional", ttl_seconds=3600)

    key = redis_keyspace.demo_session_key(answer.document["session_id"])
    assert await fake_redis.expiretime(key) == NOW + 3600 == answer.document["expires_at"]


async def test_the_token_carries_the_demo_claims(service: DemoSessions) -> None:
    answer = await create(service, account_type="enterprise")

    claims = claims_of(answer.document["token"])
    session_id = answer.document["session_id"]
    assert claims["is_demo"] is True
    assert claims["demo_session_id"] == session_id
    assert claims["demo_account_type"] == "enterprise"
    assert claims["sub"] == f"demo-user-{session_id}"
    assert claims["tenant_id"] == answer.document["parent_tenant_id"]
    assert claims["tenant_ids"] == answer.document["tenant_ids"]
    assert claims["roles"] == ["owner"]
    assert claims["exp"] == answer.document["expires_at"]


async def test_the_gateways_verifier_reads_the_token_as_a_demo_identity(
    service: DemoSessions, dev_keys: DevKeyPair
) -> None:
    answer = await create(service, account_type="professional")
    verifier = TokenVerifier(
        parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS"), JwtSettings(), clock=lambda: NOW
    )

    identity = verifier.verify(answer.document["token"])

    assert identity.demo_session_id == answer.document["session_id"]
    assert identity.demo_account_type is DemoAccountType.PROFESSIONAL


@pytest.mark.parametrize("account_type", OLD_ACCOUNT_TYPES)
async def test_an_old_account_type_is_refused_naming_the_valid_ones(
    service: DemoSessions, account_type: str
) -> None:
    answer = await create(service, account_type=account_type)

    assert answer.status == 400
    assert answer.content_type == "application/problem+json"
    assert answer.document["type"].endswith("/invalid-demo-account-type")
    assert answer.document["valid_account_types"] == ["professional", "enterprise"]
    assert "professional, enterprise" in answer.document["detail"]


async def test_a_refused_creation_writes_nothing(
    service: DemoSessions, fake_redis: fakeredis.FakeAsyncRedis
) -> None:
    await create(service, account_type="central_baker")

    assert await fake_redis.keys("*") == []


async def test_a_missing_account_type_is_refused(service: DemoSessions) -> None:
    answer = await create(service)

    assert answer.status == 400


async def test_a_body_that_is_not_a_json_object_is_refused(service: DemoSessions) -> None:
    answer = await service.answer("POST", SESSIONS_PATH, b"enterprise", "request-1")

    assert answer.status == 400
    assert answer.document["instance"] == "request-1"


@pytest.mark.parametrize("ttl", [0, -5, "60", True, 10**9])
async def test_an_unusable_lifetime_is_refused(service: DemoSessions, ttl: object) -> None:
    answer = await create(service, account_type="professional", ttl_seconds=ttl)

    assert answer.status == 400


async def test_without_the_development_key_pair_creation_is_unavailable(
    fake_redis: fakeredis.FakeAsyncRedis,
) -> None:
    service = DemoSessions(None, redis_factory=lambda: fake_redis, clock=lambda: NOW)

    answer = await create(service, account_type="enterprise")

    assert answer.status == 503
    assert "JWT" in answer.document["detail"]
    assert await fake_redis.keys("*") == []


async def test_the_account_types_are_listed_with_a_description(service: DemoSessions) -> None:
    answer = await service.answer("GET", ACCOUNTS_PATH, b"", "request-1")

    listed = answer.document["account_types"]
    assert answer.status == 200
    assert [item["account_type"] for item in listed] == ["professional", "enterprise"]
    assert all(item["description"] for item in listed)


async def test_an_unknown_demo_path_is_not_found(service: DemoSessions) -> None:
    answer = await service.answer("GET", "/api/v1/demo/nope", b"", "request-1")

    assert answer.status == 404


async def test_a_wrong_method_is_not_allowed(service: DemoSessions) -> None:
    answer = await service.answer("GET", SESSIONS_PATH, b"", "request-1")

    assert answer.status == 405


async def test_its_health_route_is_healthy_while_redis_answers(service: DemoSessions) -> None:
    # GET /api/v1/health asks every configured service, the sample demo-session one included
    answer = await service.answer("GET", SERVICE_HEALTH_PATH, b"", "request-1")

    assert (answer.status, answer.document) == (200, {"status": "healthy"})


async def test_its_health_route_is_unhealthy_without_redis(dev_keys: DevKeyPair) -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    service = DemoSessions(dev_keys, redis_factory=lambda: fakeredis.FakeAsyncRedis(server=server))

    answer = await service.answer("GET", SERVICE_HEALTH_PATH, b"", "request-1")

    assert (answer.status, answer.document["status"]) == (503, "unhealthy")
