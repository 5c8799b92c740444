"""The authorizer's verdict on demo tokens, against their session record in an in-memory Redis,
and the functions' reading of that verdict."""

from __future__ import annotations

import json
import time
from typing import Any

import fakeredis
import jwt
import pytest

from bakery_gateway.api.identity import Verdict
from bakery_gateway.authentication.authorizer import Authorizer
from bakery_gateway.authentication.caller import caller_identity
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.edge.authorizer_events import authorize_http_event
from bakery_gateway.edge.lambda_event import request_from_event
from bakery_gateway.errors import (
    AuthenticationError,
    DemoAccountTypeRefusedError,
    DemoSessionExpiredError,
    StateUnavailableError,
)
from bakery_local.dev_tokens import DevKeyPair
from tests.support.demo_sessions import start_demo_session
from tests.support.events import AUTHORIZER_REQUEST, HTTP_API_PROXY, load_event

OLD_ACCOUNT_TYPES = ["individual_bakery", "professional_bakery", "central_baker", "enterprise_chain"]
CONTEXT_VALUE_TYPES = (str, int, bool)
SESSION = "session-1"
PARENT, OUTLET_1, OUTLET_2 = "central", "outlet-1", "outlet-2"


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def fake_redis(server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=server, decode_responses=True)  # as clients.sync_redis is configured


def demo_token(
    keys: DevKeyPair,
    account_type: str = "enterprise",
    *,
    tenant_id: str = PARENT,
    tenant_ids: list[str] | None = None,
    session_id: str = SESSION,
) -> str:
    return keys.mint(
        user_id="demo-user",
        tenant_id=tenant_id,
        tenant_ids=tenant_ids,
        extra_claims={"is_demo": True, "demo_session_id": session_id, "demo_account_type": account_type},
    )


def context_of(authorizer: Authorizer, token: str) -> dict[str, Any]:
    """The context of the authorizer's answer to the recorded REQUEST event carrying ``token``."""
    answer = authorize_http_event(authorizer, load_event(AUTHORIZER_REQUEST, token=token))
    assert answer["isAuthorized"] is True
    assert all(isinstance(value, CONTEXT_VALUE_TYPES) for value in answer["context"].values())
    return dict(answer["context"])


def start_enterprise(redis: fakeredis.FakeRedis, *, seconds_left: int = 1800) -> None:
    start_demo_session(redis, SESSION, "enterprise", PARENT, (OUTLET_1, OUTLET_2), seconds_left=seconds_left)


class CountingRedis:
    """The authorizer's Redis, counting round trips: one per pipeline executed, one per command."""

    def __init__(self, redis: fakeredis.FakeRedis) -> None:
        self.redis = redis
        self.round_trips: list[list[str]] = []

    def pipeline(self, transaction: bool = True) -> CountingPipeline:
        return CountingPipeline(self, self.redis.pipeline(transaction=transaction))

    def set(self, name: str, value: str, ex: int | None = None) -> object:
        self.round_trips.append(["SET"])
        return self.redis.set(name, value, ex=ex)


class CountingPipeline:
    def __init__(self, owner: CountingRedis, pipeline: Any) -> None:
        self._owner = owner
        self._pipeline = pipeline
        self._commands: list[str] = []

    def get(self, name: str) -> object:
        self._commands.append("GET")
        return self._pipeline.get(name)

    def exists(self, *names: str) -> object:
        self._commands.append("EXISTS")
        return self._pipeline.exists(*names)

    def hgetall(self, name: str) -> object:
        self._commands.append("HGETALL")
        return self._pipeline.hgetall(name)

    def execute(self) -> list[Any]:
        self._owner.round_trips.append(self._commands)
        return list(self._pipeline.execute())


# --- a live session ------------------------------------------------------------------------------
def test_an_enterprise_demo_user_may_act_on_the_parent_and_every_child(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)

    context = context_of(authorizer, demo_token(dev_keys))

    assert context["authenticated"] is True
    assert json.loads(context["tenant_ids"]) == [PARENT, OUTLET_1, OUTLET_2]


def test_a_professional_demo_user_may_act_on_its_parent_only(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_demo_session(fake_redis, SESSION, "professional", PARENT, (OUTLET_1,))

    context = context_of(authorizer, demo_token(dev_keys, "professional"))

    assert json.loads(context["tenant_ids"]) == [PARENT]


def test_the_session_decides_the_tenants_not_the_tokens_tenant_ids_claim(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_demo_session(fake_redis, SESSION, "professional", PARENT)
    token = demo_token(dev_keys, "professional", tenant_ids=[PARENT, "real-bakery"])

    context = context_of(authorizer, token)

    assert json.loads(context["tenant_ids"]) == [PARENT]


def test_the_tokens_active_tenant_stays_active_when_it_is_in_the_session(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)

    context = context_of(authorizer, demo_token(dev_keys, tenant_id=OUTLET_2))

    assert context["tenant_id"] == OUTLET_2


def test_an_active_tenant_outside_the_session_becomes_the_parent(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)

    context = context_of(authorizer, demo_token(dev_keys, tenant_id="real-bakery"))

    assert context["tenant_id"] == PARENT
    assert "real-bakery" not in json.loads(context["tenant_ids"])


def test_the_context_carries_the_demo_session_and_its_end(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)
    expires_at = int(fake_redis.hget(redis_keyspace.demo_session_key(SESSION), "expires_at") or 0)

    context = context_of(authorizer, demo_token(dev_keys))

    assert context["is_demo"] is True
    assert context["demo_session_id"] == SESSION
    assert context["demo_account_type"] == "enterprise"
    assert context["demo_expires_at"] == expires_at


def test_the_session_is_read_in_the_same_round_trip_as_the_cached_claims_and_revocation(
    verifier: TokenVerifier, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)
    counting = CountingRedis(fake_redis)
    authorizer = Authorizer(verifier, counting)
    token = demo_token(dev_keys)
    context_of(authorizer, token)  # claims now cached
    counting.round_trips.clear()

    assert context_of(authorizer, token)["authenticated"] is True
    assert counting.round_trips == [["GET", "EXISTS", "HGETALL"]]


# --- refusals ------------------------------------------------------------------------------------
def test_a_token_without_a_session_record_is_refused_as_expired(
    authorizer: Authorizer, dev_keys: DevKeyPair
) -> None:
    context = context_of(authorizer, demo_token(dev_keys))

    assert context == {
        "authenticated": False,
        "reason": "demo session expired or unknown",
        "problem_type": "demo-session-expired",
    }


def test_a_record_past_its_expiry_is_refused_as_expired(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis, seconds_left=-1)  # the key is still there, its expires_at is not

    context = context_of(authorizer, demo_token(dev_keys))

    assert context["authenticated"] is False
    assert context["problem_type"] == "demo-session-expired"


def test_a_session_deleted_after_the_claims_were_cached_is_refused(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)
    token = demo_token(dev_keys)
    assert context_of(authorizer, token)["authenticated"] is True

    fake_redis.delete(redis_keyspace.demo_session_key(SESSION))

    assert context_of(authorizer, token)["problem_type"] == "demo-session-expired"


def test_a_malformed_session_record_is_refused_as_expired(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)
    fake_redis.hset(redis_keyspace.demo_session_key(SESSION), "child_tenant_ids", "not json")

    context = context_of(authorizer, demo_token(dev_keys))

    assert context["authenticated"] is False
    assert context["problem_type"] == "demo-session-expired"


@pytest.mark.parametrize("old_name", OLD_ACCOUNT_TYPES)
def test_a_stored_session_with_an_old_account_type_is_refused_naming_both_valid_types(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis, old_name: str
) -> None:
    start_demo_session(fake_redis, SESSION, old_name, PARENT, (OUTLET_1,))

    context = context_of(authorizer, demo_token(dev_keys))

    assert context == {
        "authenticated": False,
        "reason": f"stored demo session: {old_name!r} is not a demo account type; "
        "use one of professional, enterprise",
        "problem_type": "invalid-demo-account-type",
    }


def test_a_stored_session_with_an_unknown_account_type_is_refused(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_demo_session(fake_redis, SESSION, "premium", PARENT)

    assert context_of(authorizer, demo_token(dev_keys))["problem_type"] == "invalid-demo-account-type"


@pytest.mark.parametrize("old_name", OLD_ACCOUNT_TYPES)
def test_a_token_with_an_old_account_type_is_refused_naming_both_valid_types(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis, old_name: str
) -> None:
    start_enterprise(fake_redis)

    context = context_of(authorizer, demo_token(dev_keys, old_name))

    assert context == {
        "authenticated": False,
        "reason": "demo_account_type must be one of professional, enterprise",
        "problem_type": "invalid-demo-account-type",
    }


def test_a_token_whose_account_type_is_not_its_sessions_is_refused(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_demo_session(fake_redis, SESSION, "professional", PARENT)

    context = context_of(authorizer, demo_token(dev_keys, "enterprise"))

    assert context == {
        "authenticated": False,
        "reason": "token and demo session disagree on the account type",
        "problem_type": "invalid-token",
    }


def test_a_revoked_demo_token_is_refused_as_revoked(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)
    token = demo_token(dev_keys)
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    fake_redis.set(redis_keyspace.revoked_key(jti), "1", ex=3600)

    assert context_of(authorizer, token)["problem_type"] == "token-revoked"


def test_with_redis_down_a_demo_token_is_refused_as_state_unavailable(
    authorizer: Authorizer,
    dev_keys: DevKeyPair,
    fake_redis: fakeredis.FakeRedis,
    server: fakeredis.FakeServer,
) -> None:
    start_enterprise(fake_redis)
    server.connected = False

    context = context_of(authorizer, demo_token(dev_keys))

    assert context["authenticated"] is False
    assert context["problem_type"] == "state-unavailable"


def test_with_redis_down_a_regular_token_is_still_authorized(
    authorizer: Authorizer, dev_keys: DevKeyPair, server: fakeredis.FakeServer
) -> None:
    server.connected = False

    assert context_of(authorizer, dev_keys.mint(user_id="user-1"))["authenticated"] is True


@pytest.mark.parametrize(
    ("record_type", "token_type"),
    [
        ("enterprise", "enterprise"),
        (None, "enterprise"),
        ("central_baker", "enterprise"),
        ("professional", "enterprise"),
        ("enterprise", "enterprise_chain"),
    ],
)
def test_every_demo_verdicts_context_holds_only_strings_numbers_and_booleans(
    authorizer: Authorizer,
    dev_keys: DevKeyPair,
    fake_redis: fakeredis.FakeRedis,
    record_type: str | None,
    token_type: str,
) -> None:
    if record_type is not None:
        start_demo_session(fake_redis, SESSION, record_type, PARENT, (OUTLET_1,))
    event = load_event(AUTHORIZER_REQUEST, token=demo_token(dev_keys, token_type))

    context = authorize_http_event(authorizer, event)["context"]

    assert context
    assert all(isinstance(value, CONTEXT_VALUE_TYPES) for value in context.values())


# --- the functions' side: what each verdict becomes ----------------------------------------------
def proxy_verdict(context: dict[str, Any]) -> Verdict | None:
    """The verdict the proxy reads from its event carrying ``context``."""
    return request_from_event(load_event(HTTP_API_PROXY, authorizer=context)).verdict


@pytest.mark.parametrize(
    ("problem_type", "error"),
    [
        ("demo-session-expired", DemoSessionExpiredError),
        ("invalid-demo-account-type", DemoAccountTypeRefusedError),
        ("state-unavailable", StateUnavailableError),
    ],
)
def test_each_demo_refusal_keeps_its_problem_type(problem_type: str, error: type[Exception]) -> None:
    context = {"authenticated": False, "reason": "refused", "problem_type": problem_type}

    with pytest.raises(error) as raised:
        caller_identity(proxy_verdict(context), leeway_seconds=30)

    assert type(raised.value) is error


@pytest.mark.parametrize("problem_type", ["demo-session-expired", "invalid-demo-account-type"])
def test_a_demo_refusal_is_a_401(problem_type: str) -> None:
    context = {"authenticated": False, "reason": "refused", "problem_type": problem_type}

    with pytest.raises(AuthenticationError) as raised:
        caller_identity(proxy_verdict(context), leeway_seconds=30)

    assert raised.value.status == 401
    assert raised.value.headers["WWW-Authenticate"].startswith('Bearer error="invalid_token"')


def test_a_cached_verdict_outliving_its_demo_session_is_refused_as_expired(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)
    context = context_of(authorizer, demo_token(dev_keys))
    after_the_session = context["demo_expires_at"] + 1

    with pytest.raises(DemoSessionExpiredError):
        caller_identity(proxy_verdict(context), leeway_seconds=30, clock=lambda: after_the_session)


def test_a_cached_verdict_within_its_demo_session_is_the_narrowed_identity(
    authorizer: Authorizer, dev_keys: DevKeyPair, fake_redis: fakeredis.FakeRedis
) -> None:
    start_enterprise(fake_redis)
    context = context_of(authorizer, demo_token(dev_keys, tenant_ids=[PARENT, "real-bakery"]))

    identity = caller_identity(proxy_verdict(context), leeway_seconds=30, clock=time.time)

    assert identity.tenant_ids == (PARENT, OUTLET_1, OUTLET_2)
    assert identity.demo_expires_at == context["demo_expires_at"]
