"""The authorizer's key source (SSM, Secrets Manager) unreachable at cold start, and later.

Keys are read once, at cold start. An unreachable source no longer fails that cold start: the import
completes quickly, the failure is logged naming the source, and each request gets a ``503
token-keys-unavailable`` problem (with ``Retry-After``) instead of API Gateway's bare 500; the source
is read again at most every ``reloading_verifier.RELOAD_INTERVAL_SECONDS``, so the container serves tokens as
soon as it is back, without a new cold start. A source lost after cold start changes nothing. Real
sockets for the unreachable endpoints, moto for the reachable ones.
"""

from __future__ import annotations

import time
from typing import Any

import boto3
import pytest

from bakery_gateway.authentication import reloading_verifier
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import AUTHORIZER_REQUEST, load_event
from tests.support.lambda_gateway import LambdaGateway, assert_problem
from tests.support.lambda_runtime import AUTHORIZER_MODULE, PROXY_MODULE, LambdaRuntime
from tests.support.stub_service import StubService

PARAMETER = "/bakery/prod/jwt-public-keys"
SECRET = "bakery/prod/jwt-public-keys"
# Lambda gives a cold start 10 s; the key source's timeouts and attempts (public_keys.py) stay well inside.
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


def start(lambda_runtime: LambdaRuntime, environ: dict[str, str]) -> tuple[Any, LambdaGateway]:
    """The authorizer's module and the gateway (authorizer, then proxy) cold-started from ``environ``."""
    authorizer = lambda_runtime.cold_start(AUTHORIZER_MODULE, environ)
    proxy = lambda_runtime.cold_start(PROXY_MODULE, environ)
    return authorizer, LambdaGateway(authorizer.handler, proxy.handler)


def authorizes(function: object, dev_keys: DevKeyPair) -> bool:
    event = load_event(AUTHORIZER_REQUEST, token=dev_keys.mint(user_id="user-1"))
    answer = function.handler(event, LambdaContext())  # type: ignore[attr-defined]
    return bool(answer["context"]["authenticated"])


@pytest.mark.usefixtures("fake_credentials")
@pytest.mark.parametrize("source", sorted(SOURCES))
def test_a_key_source_refusing_connections_leaves_the_cold_start_quick_and_requests_a_503(
    lambda_runtime: LambdaRuntime,
    gateway_environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
    dev_keys: DevKeyPair,
    caplog: pytest.LogCaptureFixture,
    source: str,
) -> None:
    monkeypatch.setenv(SOURCES[source][2], f"http://127.0.0.1:{closed_port}")

    started = time.perf_counter()
    _, gateway = start(lambda_runtime, environment_for(gateway_environment, source))
    assert time.perf_counter() - started < COLD_START_BOUND

    token = dev_keys.mint(user_id="user-1", tenant_id="tenant-a")
    response = gateway.request("GET", "/api/v1/sales/items", token=token)
    assert_problem(response, 503, "token-keys-unavailable")
    assert response.headers["retry-after"] == "5"
    reasons = [getattr(record, "reason", "") for record in caplog.records if record.levelname == "ERROR"]
    assert any(SOURCES[source][1] in reason for reason in reasons), "the log names the source"


@pytest.mark.usefixtures("fake_credentials")
def test_a_key_source_that_never_answers_leaves_the_cold_start_within_lambdas_init_time(
    lambda_runtime: LambdaRuntime,
    gateway_environment: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    dev_keys: DevKeyPair,
) -> None:
    with StubService() as hanging:
        hanging.be_slow(60)
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", hanging.url)

        started = time.perf_counter()
        authorizer = lambda_runtime.cold_start(AUTHORIZER_MODULE, environment_for(gateway_environment, "ssm"))
        elapsed = time.perf_counter() - started

        assert elapsed < COLD_START_BOUND
        assert 1 <= len(hanging.requests) <= 2  # bounded attempts, not botocore's default of five
        assert not authorizes(authorizer, dev_keys)


def test_without_any_key_configured_requests_get_a_503_and_the_log_names_the_variables(
    lambda_runtime: LambdaRuntime,
    gateway_environment: dict[str, str],
    dev_keys: DevKeyPair,
    caplog: pytest.LogCaptureFixture,
) -> None:
    environ = {key: value for key, value in gateway_environment.items() if key != "JWT_PUBLIC_KEYS"}
    _, gateway = start(lambda_runtime, environ)

    response = gateway.request("GET", "/api/v1/sales/items", token=dev_keys.mint(user_id="user-1"))

    assert_problem(response, 503, "token-keys-unavailable")
    reasons = [getattr(record, "reason", "") for record in caplog.records if record.levelname == "ERROR"]
    assert any("JWT_PUBLIC_KEYS_SSM_PARAMETER" in reason for reason in reasons)


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
def test_the_same_container_verifies_tokens_once_the_source_is_back(
    lambda_runtime: LambdaRuntime,
    gateway_environment: dict[str, str],
    dev_keys: DevKeyPair,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
) -> None:
    monkeypatch.setattr(reloading_verifier, "RELOAD_INTERVAL_SECONDS", 0.0)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", f"http://127.0.0.1:{closed_port}")
    function = lambda_runtime.cold_start(AUTHORIZER_MODULE, environment_for(gateway_environment, "ssm"))
    assert not authorizes(function, dev_keys)

    monkeypatch.delenv("AWS_ENDPOINT_URL_SSM")  # the source is reachable again (here: moto)
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=dev_keys.public_keys_json, Type="SecureString")

    assert authorizes(function, dev_keys)
