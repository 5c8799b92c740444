"""Public keys read from SSM Parameter Store and Secrets Manager (moto), at cold start."""

from __future__ import annotations

import json

import boto3
import pytest

from bakery_gateway.authentication.public_keys import DEFAULT_KEY_ID, load_public_keys
from bakery_gateway.authentication.token_verifier import TokenVerifier
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.errors import KeySourceError
from bakery_gateway.settings import JwtSettings
from bakery_local.dev_tokens import DevKeyPair
from tests.support.events import AUTHORIZER_REQUEST, load_event
from tests.support.lambda_runtime import AUTHORIZER_MODULE, LambdaRuntime
from tests.support.stub_service import StubService

PARAMETER = "/bakery/prod/jwt-public-keys"
SECRET = "bakery/prod/jwt-public-keys"


def verifies(keys: dict[str, object], pair: DevKeyPair) -> bool:
    return TokenVerifier(keys, JwtSettings()).verify(pair.mint(user_id="user-1")).user_id == "user-1"


@pytest.mark.usefixtures("aws")
def test_keys_are_read_from_an_encrypted_ssm_parameter(
    dev_keys: DevKeyPair, second_dev_keys: DevKeyPair
) -> None:
    material = json.dumps(
        {
            dev_keys.key_id: dev_keys.public_pem.decode(),
            second_dev_keys.key_id: second_dev_keys.public_pem.decode(),
        }
    )
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=material, Type="SecureString")

    keys = load_public_keys(JwtSettings(ssm_parameter=PARAMETER))

    assert set(keys) == {dev_keys.key_id, second_dev_keys.key_id}
    assert verifies(keys, dev_keys)
    assert verifies(keys, second_dev_keys)


@pytest.mark.usefixtures("aws")
def test_keys_are_read_from_a_secrets_manager_secret(dev_keys: DevKeyPair) -> None:
    boto3.client("secretsmanager").create_secret(Name=SECRET, SecretString=dev_keys.public_pem.decode())

    keys = load_public_keys(JwtSettings(secret_id=SECRET))

    assert list(keys) == [DEFAULT_KEY_ID]
    assert verifies(keys, dev_keys)


@pytest.mark.usefixtures("aws")
def test_keys_from_every_configured_source_are_trusted_together(
    dev_keys: DevKeyPair, second_dev_keys: DevKeyPair
) -> None:
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=dev_keys.public_keys_json, Type="SecureString")
    boto3.client("secretsmanager").create_secret(Name=SECRET, SecretString=second_dev_keys.public_keys_json)

    keys = load_public_keys(JwtSettings(ssm_parameter=PARAMETER, secret_id=SECRET))

    assert set(keys) == {dev_keys.key_id, second_dev_keys.key_id}


@pytest.mark.usefixtures("aws")
def test_a_missing_ssm_parameter_fails_with_a_key_source_error() -> None:
    with pytest.raises(
        KeySourceError, match=f"SSM parameter {PARAMETER} could not be read: ParameterNotFound"
    ):
        load_public_keys(JwtSettings(ssm_parameter=PARAMETER))


@pytest.mark.usefixtures("aws")
def test_a_missing_secret_fails_with_a_key_source_error() -> None:
    with pytest.raises(KeySourceError, match=f"secret {SECRET} could not be read: ResourceNotFoundException"):
        load_public_keys(JwtSettings(secret_id=SECRET))


@pytest.mark.usefixtures("aws")
def test_the_authorizer_function_cold_starts_with_keys_from_ssm(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str], dev_keys: DevKeyPair
) -> None:
    # GIVEN the keys only in SSM
    boto3.client("ssm").put_parameter(Name=PARAMETER, Value=dev_keys.public_keys_json, Type="SecureString")
    environ = {key: value for key, value in gateway_environment.items() if key != "JWT_PUBLIC_KEYS"}
    environ["JWT_PUBLIC_KEYS_SSM_PARAMETER"] = PARAMETER

    # WHEN the function starts and a token arrives
    function = lambda_runtime.cold_start(AUTHORIZER_MODULE, environ)
    event = load_event(AUTHORIZER_REQUEST, token=dev_keys.mint(user_id="user-1"))
    answer = function.handler(event, LambdaContext())

    # THEN the token is verified with them
    assert answer["context"]["authenticated"] is True
    assert answer["context"]["user_id"] == "user-1"


@pytest.mark.usefixtures("fake_credentials")
def test_keys_given_in_the_environment_win_and_the_named_ssm_parameter_is_not_read(
    dev_keys: DevKeyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN JWT_PUBLIC_KEYS and the template's default SSM parameter, whose endpoint is a recording stub
    with StubService() as ssm:
        monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", ssm.url)

        # WHEN the keys are loaded
        keys = load_public_keys(JwtSettings(public_keys=dev_keys.public_keys_json, ssm_parameter=PARAMETER))

        # THEN they are the environment's, and SSM was never asked
        assert set(keys) == {dev_keys.key_id}
        assert ssm.requests == []


@pytest.mark.usefixtures("fake_credentials")
def test_the_authorizer_function_verifies_with_environment_keys_beside_an_unreachable_parameter(
    lambda_runtime: LambdaRuntime,
    gateway_environment: dict[str, str],
    dev_keys: DevKeyPair,
    monkeypatch: pytest.MonkeyPatch,
    closed_port: int,
) -> None:
    # As under `sam local`: --env-vars gives JWT_PUBLIC_KEYS, the template still names its parameter.
    monkeypatch.setenv("AWS_ENDPOINT_URL_SSM", f"http://127.0.0.1:{closed_port}")
    environ = {**gateway_environment, "JWT_PUBLIC_KEYS_SSM_PARAMETER": "/bakery-ia/gateway/jwt-public-keys"}

    function = lambda_runtime.cold_start(AUTHORIZER_MODULE, environ)
    event = load_event(AUTHORIZER_REQUEST, token=dev_keys.mint(user_id="user-1"))

    assert function.handler(event, LambdaContext())["context"]["authenticated"] is True
