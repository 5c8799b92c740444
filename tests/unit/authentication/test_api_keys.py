"""API keys without a network: their format, what is stored, the identity they stand for, the
authorizer's verdicts (fakeredis), where the key may come from, and what never goes downstream."""

from __future__ import annotations

import json
import time
from typing import Any

import fakeredis
import pytest

from bakery_gateway.api.identity import Identity, Unauthenticated, verdict_from_context
from bakery_gateway.authentication import api_keys
from bakery_gateway.authentication.authorizer import Authorizer
from bakery_gateway.authentication.caller import caller_identity
from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.edge.authorizer_events import authorize_http_event
from bakery_gateway.errors import ApiKeyRevokedError, InvalidApiKeyError, ServiceScopeError
from bakery_gateway.forwarding.downstream import ClientOrigin, downstream_headers
from bakery_gateway.policies.api_key_admin import CreateApiKeyBody
from bakery_gateway.policies.engine import PolicyEngine, PolicyRequest
from bakery_gateway.settings import JwtSettings, Scope, Settings
from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import AUTHORIZER_REQUEST, SAM_LOCAL_AUTHORIZER_REQUEST, load_event

NOW = time.time()


def stored(
    fake: fakeredis.FakeRedis, *, services: tuple[str, ...] = ("pos", "sales"), expires_at: int | None = None
) -> tuple[str, api_keys.ApiKeyRecord]:
    """A key written as the policy function writes it; returns the key and its record."""
    new = api_keys.generate()
    record = api_keys.ApiKeyRecord(
        new.key_id,
        new.key_hash,
        "tenant-a",
        services,
        ("integration",),
        "till 1",
        int(NOW),
        "ops-1",
        expires_at,
    )
    for field, value in record.to_hash().items():
        fake.hset(redis_keyspace.api_key_key(new.key_id), field, value)
    return new.key, record


@pytest.fixture
def fake() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(decode_responses=True)


@pytest.fixture
def authorizer(dev_keys: DevKeyPair, fake: fakeredis.FakeRedis) -> Authorizer:
    verifier = TokenVerifier(parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS"), JwtSettings())
    return Authorizer(verifier, fake)


# --- the key itself -------------------------------------------------------------------------------
def test_a_generated_key_names_its_id_and_carries_256_random_bits() -> None:
    new = api_keys.generate()

    assert new.key.startswith(f"bk_{new.key_id}_")
    assert api_keys.parse_key_id(new.key) == new.key_id
    assert len(new.key.removeprefix(f"bk_{new.key_id}_")) == 43  # 32 bytes in base64url
    assert api_keys.generate().key != new.key


@pytest.mark.parametrize(
    "text",
    [
        "",
        "bk_",
        "sk_0123456789abcdef_" + "a" * 43,  # another prefix
        "bk_0123456789ABCDEF_" + "a" * 43,  # the id is lower-case hex
        "bk_0123456789abcdef_" + "a" * 42,  # a secret too short
        "bk_0123456789abcdef_" + "a" * 43 + "x",  # too long
        "bk_0123456789abcdef_" + "a" * 42 + "!",
        "eyJhbGciOiJSUzI1NiJ9.e30.c2ln",  # a JWT
    ],
)
def test_a_malformed_key_has_no_id(text: str) -> None:
    assert api_keys.parse_key_id(text) is None


def test_the_stored_record_holds_the_keys_hash_never_the_key() -> None:
    new = api_keys.generate()
    record = api_keys.ApiKeyRecord(
        new.key_id, new.key_hash, "tenant-a", ("pos",), ("integration",), "n", 1, "ops", None
    )

    fields = record.to_hash()

    assert new.key not in json.dumps(fields)
    assert new.key.removeprefix(f"bk_{new.key_id}_") not in json.dumps(fields)
    assert fields["key_hash"] == api_keys.key_hash(new.key)
    assert api_keys.ApiKeyRecord.from_hash(new.key_id, fields) == record
    assert "key_hash" not in record.to_json()


def test_a_record_matches_its_key_only() -> None:
    new, other = api_keys.generate(), api_keys.generate()
    record = api_keys.ApiKeyRecord(new.key_id, new.key_hash, "t", ("pos",), ("integration",), "n", 1, "ops")

    assert record.matches(new.key)
    assert not record.matches(other.key)


# --- the identity and its scope ---------------------------------------------------------------------
def test_a_key_stands_for_a_service_principal_of_its_one_tenant() -> None:
    record = api_keys.ApiKeyRecord(
        "0123456789abcdef", "h", "tenant-a", ("pos",), ("integration",), "n", 5, "o"
    )

    identity = record.identity()

    assert identity.user_id == "api-key:0123456789abcdef"
    assert (identity.tenant_id, identity.tenant_ids) == ("tenant-a", ("tenant-a",))
    assert identity.roles == ("integration",)
    assert identity.services == ("pos",)
    assert identity.expires_at == api_keys.NO_EXPIRY  # a key without expiry


def test_a_keys_identity_survives_the_authorizer_context() -> None:
    record = api_keys.ApiKeyRecord(
        "0123456789abcdef", "h", "tenant-a", ("pos", "sales"), ("integration",), "n", 5, "o", 99
    )

    context = record.identity().to_context()

    assert all(isinstance(value, str | int | bool) for value in context.values())
    assert Identity.from_context(context) == record.identity()


def test_a_user_token_context_has_no_service_scope() -> None:
    user = Identity("user-1", "tenant-a", ("tenant-a",), ("owner",), "jti", 1, 2)

    assert Identity.from_context(user.to_context()).services is None
    api_keys.require_in_scope(user, "anything")  # users are not scoped


def test_a_key_may_call_the_services_of_its_scope_and_no_other() -> None:
    identity = api_keys.ApiKeyRecord(
        "0123456789abcdef", "h", "t", ("pos", "alerts"), ("integration",), "n", 1, "o"
    ).identity()

    api_keys.require_in_scope(identity, "pos")
    api_keys.require_in_scope(identity, "gateway")  # the alert stream's service label is the "alerts" scope
    with pytest.raises(ServiceScopeError) as refused:
        api_keys.require_in_scope(identity, "sales")
    assert refused.value.status == 403
    assert refused.value.extensions == {"service": "sales", "allowed_services": ["pos", "alerts"]}


# --- the authorizer's verdicts -----------------------------------------------------------------------
def test_a_valid_key_is_the_records_identity(authorizer: Authorizer, fake: fakeredis.FakeRedis) -> None:
    key, record = stored(fake)

    assert authorizer.authorize_api_key(key) == record.identity()


def test_a_wrong_secret_gets_the_same_answer_as_an_unknown_key(
    authorizer: Authorizer, fake: fakeredis.FakeRedis
) -> None:
    key, _ = stored(fake)
    wrong_secret = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")
    unknown = api_keys.generate().key

    assert authorizer.authorize_api_key(wrong_secret) == authorizer.authorize_api_key(unknown)
    assert authorizer.authorize_api_key(unknown) == Unauthenticated(
        "unknown or revoked API key", InvalidApiKeyError.problem_type
    )


def test_a_malformed_key_is_refused_without_asking_redis(authorizer: Authorizer) -> None:
    broken = Authorizer(authorizer._verifier, DownRedis())

    assert broken.authorize_api_key("not-a-key") == Unauthenticated("malformed API key", "invalid-api-key")


def test_an_expired_key_is_refused(authorizer: Authorizer, fake: fakeredis.FakeRedis) -> None:
    key, _ = stored(fake, expires_at=int(NOW) - 1)

    verdict = authorizer.authorize_api_key(key)

    assert verdict == Unauthenticated("API key expired", "invalid-api-key")


def test_without_redis_a_key_cannot_be_checked(authorizer: Authorizer) -> None:
    broken = Authorizer(authorizer._verifier, DownRedis())

    verdict = broken.authorize_api_key(api_keys.generate().key)

    assert isinstance(verdict, Unauthenticated)
    assert verdict.problem_type == "state-unavailable"


def test_the_authorizer_event_with_an_apikey_header_allows_with_the_keys_context(
    authorizer: Authorizer, fake: fakeredis.FakeRedis
) -> None:
    key, record = stored(fake)
    event = load_event(AUTHORIZER_REQUEST, extra_headers={"authorization": f"ApiKey {key}"})

    answer = authorize_http_event(authorizer, event)

    assert answer["isAuthorized"] is True
    assert answer["context"]["user_id"] == f"api-key:{record.key_id}"
    assert key not in json.dumps(answer)


def test_an_x_api_key_header_spelled_as_sams_emulator_sends_it_is_read(
    authorizer: Authorizer, fake: fakeredis.FakeRedis
) -> None:
    key, record = stored(fake)
    event = load_event(SAM_LOCAL_AUTHORIZER_REQUEST)
    del event["headers"]["Authorization"]
    event["headers"]["X-Api-Key"] = key  # the name as SAM's emulator hands it over

    answer = authorize_http_event(authorizer, event)

    assert answer["context"]["user_id"] == f"api-key:{record.key_id}"


class DownRedis:
    def pipeline(self, transaction: bool = True) -> Any:
        raise ConnectionError("down")

    def set(self, name: str, value: str, ex: int | None = None) -> object:
        raise ConnectionError("down")


# --- the functions' side ----------------------------------------------------------------------------
def test_an_expired_keys_cached_context_is_a_401_with_an_apikey_challenge() -> None:
    record = api_keys.ApiKeyRecord(
        "0123456789abcdef", "h", "t", ("pos",), ("integration",), "n", 1, "o", int(NOW) - 100
    )
    cached = verdict_from_context(record.identity().to_context())

    with pytest.raises(InvalidApiKeyError) as refused:
        caller_identity(cached, leeway_seconds=30)

    assert refused.value.headers["WWW-Authenticate"].startswith('ApiKey error="invalid_token"')


def test_the_authorizers_api_key_refusals_keep_their_problem_type() -> None:
    for error in (InvalidApiKeyError, ApiKeyRevokedError):
        verdict = verdict_from_context(Unauthenticated("no", error.problem_type).to_context())
        with pytest.raises(error):
            caller_identity(verdict, leeway_seconds=30)


def test_the_key_never_goes_downstream_and_the_identity_headers_do() -> None:
    identity = api_keys.ApiKeyRecord(
        "0123456789abcdef", "h", "tenant-a", ("pos",), ("integration",), "n", 1, "o"
    ).identity()
    client = [("authorization", "ApiKey bk_secret"), ("x-api-key", "bk_secret"), ("x-user-id", "forged")]

    headers = dict(
        downstream_headers(
            client,
            identity=identity,
            tenant_id="tenant-a",
            request_id="r",
            origin=ClientOrigin("1.2.3.4", "https", "h"),
        )
    )

    assert "authorization" not in headers
    assert "x-api-key" not in headers
    assert headers["x-user-id"] == "api-key:0123456789abcdef"
    assert headers["x-tenant-id"] == "tenant-a"
    assert headers["x-user-roles"] == "integration"


def test_a_bearer_token_is_still_forwarded() -> None:
    headers = downstream_headers(
        [("authorization", "Bearer eyJ")],
        identity=None,
        tenant_id=None,
        request_id="r",
        origin=ClientOrigin("", "", ""),
    )

    assert ("authorization", "Bearer eyJ") in headers


# --- rate limits -----------------------------------------------------------------------------------
def test_a_key_draws_on_its_own_budget_and_its_tenants() -> None:
    settings = Settings.from_environ(
        {"API_KEY_RATE_LIMIT_REQUESTS": "7", "API_KEY_RATE_LIMIT_WINDOW_SECONDS": "30"}
    )
    engine = PolicyEngine(settings, redis_clients=None, http_clients=None)  # type: ignore[arg-type]
    identity = api_keys.ApiKeyRecord(
        "0123456789abcdef", "h", "tenant-a", ("pos",), ("integration",), "n", 1, "o"
    ).identity()

    buckets = engine.buckets(
        PolicyRequest(
            identity, "tenant-a", "GET", "/api/v1/pos/x", "ANY /api/v1/{proxy+}", "t", "1.2.3.4", "r"
        )
    )

    assert [(bucket.scope, bucket.subject) for bucket in buckets] == [
        (Scope.API_KEY, "0123456789abcdef"),
        (Scope.TENANT, "tenant-a"),
    ]
    assert buckets[0].candidates[-1].requests == 7
    assert buckets[0].candidates[-1].window_seconds == 30


def test_a_bad_api_key_limit_fails_naming_its_variable() -> None:
    with pytest.raises(Exception, match="API_KEY_RATE_LIMIT_REQUESTS"):
        Settings.from_environ({"API_KEY_RATE_LIMIT_REQUESTS": "zero"})


# --- the creation body ---------------------------------------------------------------------------------
def body(**fields: Any) -> CreateApiKeyBody:
    return CreateApiKeyBody.model_validate_json(json.dumps({"name": "till", "services": ["pos"], **fields}))


def test_a_creation_names_known_services_only() -> None:
    assert body(services=["pos", "sales", "pos"]).checked_services() == ("pos", "sales")
    with pytest.raises(Exception, match="unknown service"):
        body(services=["payroll"]).checked_services()


def test_a_key_always_has_the_integration_role_and_never_an_operators() -> None:
    assert body(roles=["pos-terminal"]).checked_roles() == ("integration", "pos-terminal")
    with pytest.raises(Exception, match="platform_admin"):
        body(roles=["platform_admin"]).checked_roles()


def test_an_expiry_is_in_the_future_in_epoch_seconds_or_iso_8601() -> None:
    assert body(expires_at=int(NOW) + 60).checked_expiry(NOW) == int(NOW) + 60
    assert body(expires_at="2100-01-01T00:00:00Z").checked_expiry(NOW) == 4102444800
    assert body().checked_expiry(NOW) is None
    for bad in (int(NOW) - 1, "2100-01-01T00:00:00", "tomorrow"):
        with pytest.raises(Exception, match="expires_at"):
            body(expires_at=bad).checked_expiry(NOW)
