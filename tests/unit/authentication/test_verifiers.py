"""The authorizer's verifier over keys loaded at cold start: a failed load is no failed import."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from bakery_gateway.authentication.public_keys import parse_key_material
from bakery_gateway.authentication.reloading_verifier import (
    RELOAD_ATTEMPTS,
    RELOAD_INTERVAL_SECONDS,
    ColdStartVerifier,
)
from bakery_gateway.errors import ConfigurationError, KeySourceError, TokenKeysUnavailableError
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class KeyLoader:
    """Fails with ``failure`` until told to succeed; records each call's options."""

    def __init__(self, keys: Mapping[str, Any], failure: Exception | None) -> None:
        self.keys = keys
        self.failure = failure
        self.calls: list[dict[str, Any]] = []

    def __call__(self, settings: JwtSettings, **options: Any) -> Mapping[str, Any]:
        self.calls.append(options)
        if self.failure is not None:
            raise self.failure
        return self.keys


@pytest.fixture
def keys(dev_keys: DevKeyPair) -> Mapping[str, Any]:
    return parse_key_material(dev_keys.public_keys_json, "JWT_PUBLIC_KEYS")


@pytest.fixture
def clock() -> Clock:
    return Clock()


def test_keys_loaded_at_cold_start_verify_tokens(keys: Mapping[str, Any], dev_keys: DevKeyPair) -> None:
    verifier = ColdStartVerifier(JwtSettings(), load_keys=KeyLoader(keys, None))

    assert verifier.ready
    assert verifier.verify(dev_keys.mint(user_id="user-1")).user_id == "user-1"


@pytest.mark.parametrize(
    "failure",
    [
        KeySourceError("SSM parameter /x could not be read"),
        ConfigurationError("no JWT public key configured"),
    ],
)
def test_keys_that_cannot_be_loaded_leave_the_cold_start_standing_and_refuse_as_unavailable(
    keys: Mapping[str, Any], dev_keys: DevKeyPair, clock: Clock, failure: Exception
) -> None:
    verifier = ColdStartVerifier(JwtSettings(), load_keys=KeyLoader(keys, failure), clock=clock)

    assert not verifier.ready
    with pytest.raises(TokenKeysUnavailableError) as refused:
        verifier.verify(dev_keys.mint(user_id="user-1"))
    assert refused.value.status == 503
    assert "/x" not in refused.value.detail, "the client is not told where the keys live"


def test_the_failure_is_logged_with_what_to_fix(
    keys: Mapping[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    ColdStartVerifier(JwtSettings(), load_keys=KeyLoader(keys, ConfigurationError("set JWT_PUBLIC_KEY")))

    (record,) = [record for record in caplog.records if record.levelname == "ERROR"]
    assert "cannot be loaded" in record.getMessage()
    assert getattr(record, "reason", None) == "set JWT_PUBLIC_KEY"


def test_the_keys_are_loaded_again_once_the_interval_has_passed(
    keys: Mapping[str, Any], dev_keys: DevKeyPair, clock: Clock
) -> None:
    loader = KeyLoader(keys, KeySourceError("unreachable"))
    verifier = ColdStartVerifier(JwtSettings(), load_keys=loader, clock=clock)
    token = dev_keys.mint(user_id="user-1")
    loader.failure = None  # the source is back

    clock.now += RELOAD_INTERVAL_SECONDS - 0.1
    with pytest.raises(TokenKeysUnavailableError):
        verifier.verify(token)
    assert len(loader.calls) == 1, "not before the interval"

    clock.now += 0.2
    assert verifier.verify(token).user_id == "user-1"
    assert loader.calls[1:] == [{"attempts": RELOAD_ATTEMPTS}], "one attempt per source during a request"


def test_a_failed_reload_waits_a_whole_interval_again(keys: Mapping[str, Any], clock: Clock) -> None:
    loader = KeyLoader(keys, KeySourceError("unreachable"))
    verifier = ColdStartVerifier(JwtSettings(), load_keys=loader, clock=clock)

    for _ in range(3):
        clock.now += RELOAD_INTERVAL_SECONDS
        for _ in range(5):
            with pytest.raises(TokenKeysUnavailableError):
                verifier.verify("any.token.here")

    assert len(loader.calls) == 4  # the cold start's, then one per interval


def test_a_request_during_another_ones_reload_is_refused_at_once(
    keys: Mapping[str, Any], clock: Clock
) -> None:
    loader = KeyLoader(keys, KeySourceError("unreachable"))
    verifier = ColdStartVerifier(JwtSettings(), load_keys=loader, clock=clock)
    clock.now += RELOAD_INTERVAL_SECONDS
    verifier._reloading.acquire()  # another thread is reading the source

    with pytest.raises(TokenKeysUnavailableError):
        verifier.verify("any.token.here")

    assert len(loader.calls) == 1
