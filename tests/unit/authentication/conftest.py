"""The authorizer's unit fixtures: a verifier trusting the development keys, and the authorizer on a
fake Redis (a module gives ``fake_redis`` its own server when it needs one)."""

from __future__ import annotations

import fakeredis
import pytest

from bakery_gateway.authentication.authorizer import Authorizer
from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair


@pytest.fixture
def fake_redis() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)  # as clients.sync_redis is configured


@pytest.fixture
def verifier(dev_keys: DevKeyPair) -> TokenVerifier:
    return TokenVerifier(parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS"), JwtSettings())


@pytest.fixture
def authorizer(verifier: TokenVerifier, fake_redis: fakeredis.FakeRedis) -> Authorizer:
    return Authorizer(verifier, fake_redis)
