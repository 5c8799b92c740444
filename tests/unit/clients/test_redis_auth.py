"""The Redis AUTH token's setting and the reading of a secret's value (no AWS: see the integration tier)."""

from __future__ import annotations

import pytest

from bakery_gateway import constants as names
from bakery_gateway.clients.redis_auth import password_from_secret, redis_password
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import RedisSettings, Settings

SECRET_ARN = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:gw/redis-auth-token-AbCdEf"


def test_the_secret_id_is_read_from_its_variable() -> None:
    settings = Settings.from_environ({names.REDIS_PASSWORD_SECRET_ID: SECRET_ARN})

    assert settings.redis.password_secret_id == SECRET_ARN
    assert settings.redis.password is None


def test_a_password_and_a_secret_together_are_refused_naming_both_variables() -> None:
    with pytest.raises(ConfigurationError, match=f"{names.REDIS_PASSWORD}.*{names.REDIS_PASSWORD_SECRET_ID}"):
        Settings.from_environ({names.REDIS_PASSWORD: "plain", names.REDIS_PASSWORD_SECRET_ID: SECRET_ARN})


def test_without_a_secret_the_plain_password_is_used() -> None:
    assert redis_password(RedisSettings(host="redis", password="local-only")) == "local-only"


def test_without_either_there_is_no_password() -> None:
    assert redis_password(RedisSettings(host="redis")) is None


def test_a_json_secret_gives_its_password_field() -> None:
    assert password_from_secret('{"password": "t0ken"}', SECRET_ARN) == "t0ken"


def test_a_plain_secret_is_the_token_itself() -> None:
    assert password_from_secret("t0ken\n", SECRET_ARN) == "t0ken"


@pytest.mark.parametrize(
    "value", ['{"token": "t0ken"}', '{"password": ""}', '{"password": 1}', "{not json", ""]
)
def test_a_secret_without_a_usable_token_is_refused_naming_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match=names.REDIS_PASSWORD_SECRET_ID) as caught:
        password_from_secret(value, SECRET_ARN)

    assert "t0ken" not in str(caught.value)
