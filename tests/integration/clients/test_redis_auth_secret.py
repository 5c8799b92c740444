"""The Redis AUTH token read from Secrets Manager (moto) once per container, and used against a real
Redis that requires it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
import redis

from bakery_gateway import constants as names
from bakery_gateway.clients.factories import sync_redis
from bakery_gateway.clients.redis_auth import redis_password
from bakery_gateway.clients.secrets_manager import read_secret
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import RedisSettings
from tests.support.redis_server import RedisProcess

TOKEN = "0123456789abcdefABCDEF0123456789abcdef"  # letters and digits, as infra/redis.yaml generates


@pytest.fixture(autouse=True)
def fresh_container() -> Iterator[None]:
    """Each test is a new container: nothing read by an earlier one is remembered."""
    read_secret.cache_clear()
    sync_redis.cache_clear()
    yield
    read_secret.cache_clear()
    sync_redis.cache_clear()


@pytest.fixture
def secret_arn(aws: None) -> str:
    answer = boto3.client("secretsmanager").create_secret(
        Name="gw-test/redis-auth-token", SecretString=json.dumps({"password": TOKEN})
    )
    return str(answer["ARN"])


@pytest.fixture
def protected_redis(private_redis: RedisProcess) -> RedisProcess:
    """The test's own redis-server, requiring TOKEN (as ElastiCache does with an AUTH token)."""
    redis.Redis(host="127.0.0.1", port=private_redis.port).config_set("requirepass", TOKEN)
    return private_redis


def test_the_token_is_read_from_the_secret_the_setting_names(secret_arn: str) -> None:
    assert redis_password(RedisSettings(host="redis", password_secret_id=secret_arn)) == TOKEN


def test_the_secret_is_read_once_per_container(secret_arn: str) -> None:
    settings = RedisSettings(host="redis", password_secret_id=secret_arn)
    redis_password(settings)
    boto3.client("secretsmanager").delete_secret(SecretId=secret_arn, ForceDeleteWithoutRecovery=True)

    assert redis_password(settings) == TOKEN


@pytest.mark.usefixtures("aws")
def test_a_missing_secret_fails_naming_the_variable_and_the_secret() -> None:
    settings = RedisSettings(host="redis", password_secret_id="gw-test/no-such-secret")

    with pytest.raises(ConfigurationError) as caught:
        redis_password(settings)

    assert str(caught.value) == (
        f"{names.REDIS_PASSWORD_SECRET_ID}: secret gw-test/no-such-secret could not be read: "
        "ResourceNotFoundException"
    )


def test_a_client_built_from_the_settings_authenticates_with_the_secrets_token(
    secret_arn: str, protected_redis: RedisProcess
) -> None:
    client = sync_redis(
        RedisSettings(host="127.0.0.1", port=protected_redis.port, password_secret_id=secret_arn)
    )

    assert client.ping() is True


def test_without_the_token_the_same_redis_refuses_the_client(protected_redis: RedisProcess) -> None:
    client = sync_redis(RedisSettings(host="127.0.0.1", port=protected_redis.port))

    with pytest.raises(redis.AuthenticationError):
        client.ping()
