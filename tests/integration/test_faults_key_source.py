"""The authorizer's key source (SSM, Secrets Manager) unreachable at cold start, and later.

Keys are read once, at cold start. An unreachable source fails that cold start quickly, with a
``KeySourceError`` naming the source (Lambda answers the invocation with an error and initialises
again on the next one); a source lost later changes nothing; one back again serves the next cold
start. Real sockets for the unreachable endpoints, moto for the reachable ones.
"""

from __future__ import annotations

import time

import boto3
import pytest

from bakery_gateway.errors import KeySourceError
from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import AUTHORIZER_REQUEST, load_event
from tests.support.lambda_runtime import AUTHORIZER_MODULE, LambdaContext, LambdaRuntime
from tests.support.stub_service import StubService

PARAMETER = "/bakery/prod/jwt-public-keys"
SECRET = "bakery/prod/jwt-public-keys"
# Lambda gives a cold start 10 s; the key source's timeouts and attempts (keys.py) stay well inside.
COLD_START_BOUND = 8.0
SOURCES = {
    "ssm": ("JWT_PUBLIC_KEYS_SSM_PARAMETER", PARAMETER, "AWS_ENDPOINT_URL_SSM"),
    "secretsmanager": ("JWT_PUBLIC_KEYS_SECRET_ID", SECRET, "AWS_ENDPOINT_URL_SECRETS_MANAGER"),
}


def environment_for(gateway_environment: dict[str, str], source: str) -> dict[str, str]:
    variable, name, _ = SOURCES[source]
    environ = {key: value for key, value in gateway_environment.items() if key != "JWT_PUBLIC_KEYS"}
    environ[variable] = name
    return environ


def authorizes(function: object, dev_keys: DevKeyPair) -> bool:
    event = load_event(AUTHORIZER_REQUEST, token=dev_keys.mint(user_id="user-1"))
    answer = function.handler(event, LambdaContext())  # type: ignore[attr-defined]
    return bool(answer["context"]["authenticated"])


@pytest.mark.usefixtures("fake_credentials")
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_key_source_refusing_connections_fails_the_cold_start_quickly_and_by_name(
    lambda_runtime: LambdaRuntime,
    gateway_environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    source: str,
) -> None:
    monkeypatch.setenv(SOURCES[source][2], f"http://127.0.0.1:{closed_port}")

    started = time.perf_counter()
    with pytest.raises(KeySourceError, match=SOURCES[source][1]):
        lambda_runtime.cold_start(AUTHORIZER_MODULE, environment_for(gateway_environment, source))

    assert time.perf_counter() - started < COLD_START_BOUND


@pytest.mark.usefixtures("fake_credentials")
def test_a_key_source_that_never_answers_fails_the_cold_start_within_lambdas_init_time(
    lambda_runtime: LambdaRuntime,
    gateway_environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with StubService() as hanging:
        hanging.be_slow(60)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", hanging.url)

        started = time.perf_counter()
        with pytest.raises(KeySourceError, match=PARAMETER):
            lambda_runtime.cold_start(AUTHORIZER_MODULE, environment_for(gateway_environment, "ssm"))
        elapsed = time.perf_counter() - started

        assert elapsed < COLD_START_BOUND
        assert 1 <= len(hanging.requests) <= 2  # bounded attempts, not botocore's default of five


@pytest.mark.usefixtures("aws")
def test_keys_read_at_cold_start_keep_verifying_when_the_source_is_lost_later(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str], dev_keys: DevKeyPair
) -> None:
    ssm = boto3.client("ssm")
    ssm.put_parameter(Name=PARAMETER, Value=dev_keys.public_keys_json, Type="SecureString")
    function = lambda_runtime.cold_start(AUTHORIZER_MODULE, environment_for(gateway_environment, "ssm"))

    ssm.delete_parameter(Name=PARAMETER)

    assert authorizes(function, dev_keys)


@pytest.mark.usefixtures("aws")
def test_the_next_cold_start_succeeds_once_the_source_is_back(
    lambda_runtime: LambdaRuntime,
    gateway_environment: dict[str, str],
    dev_keys: DevKeyPair,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
) -> None:
    environ = environment_for(gateway_environment, "ssm")
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", f"http://127.0.0.1:{closed_port}")
    with pytest.raises(KeySourceError):
        lambda_runtime.cold_start(AUTHORIZER_MODULE, environ)

    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM")  # the source is reachable again (here: moto)
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=dev_keys.public_keys_json, Type="SecureString")
    function = lambda_runtime.cold_start(AUTHORIZER_MODULE, environ)

    assert authorizes(function, dev_keys)
