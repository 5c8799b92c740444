"""The key of pseudonymized user ids, read from Secrets Manager (moto) once per container."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest

from bakery_gateway.clients.secrets_manager import read_secret
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import ObservabilitySettings, Settings
from bakery_gateway.telemetry.pseudonymize import pseudonymizer, user_id_for_log

KEY = "k" * 32


@pytest.fixture(autouse=True)
def fresh_container() -> Iterator[None]:
    read_secret.cache_clear()
    yield
    read_secret.cache_clear()


def stored(secret: str) -> str:
    answer = boto3.client("secretsmanager").create_secret(Name="gw-test/log-key", SecretString=secret)
    return str(answer["ARN"])


def pseudonymized_by(secret_id: str) -> ObservabilitySettings:
    return ObservabilitySettings(user_id_log_mode="pseudonymized", user_id_log_key_secret_id=secret_id)


def test_user_ids_are_pseudonymized_with_the_key_in_the_secret(aws: None) -> None:
    log_user_id = user_id_for_log(pseudonymized_by(stored(json.dumps({"key": KEY}))))

    assert log_user_id("user-1") == pseudonymizer(KEY)("user-1")


def test_a_secret_holding_only_the_key_works_too(aws: None) -> None:
    assert user_id_for_log(pseudonymized_by(stored(KEY)))("user-1") == pseudonymizer(KEY)("user-1")


def test_a_missing_secret_fails_the_cold_start_naming_the_variable(aws: None) -> None:
    with pytest.raises(ConfigurationError, match=r"USER_ID_LOG_KEY_SECRET_ID.*ResourceNotFoundException"):
        user_id_for_log(pseudonymized_by("gw-test/absent"))


def test_a_short_key_in_the_secret_is_refused(aws: None) -> None:
    with pytest.raises(ConfigurationError, match="USER_ID_LOG_KEY_SECRET_ID"):
        user_id_for_log(pseudonymized_by(stored("short")))


def test_the_key_and_its_secret_cannot_both_be_set() -> None:
    with pytest.raises(ConfigurationError, match="not both"):
        Settings.from_environ({"USER_ID_LOG_KEY": KEY, "USER_ID_LOG_KEY_SECRET_ID": "gw/log-key"})


def test_pseudonymization_may_name_only_the_secret() -> None:
    settings = Settings.from_environ(
        {"USER_ID_LOG_MODE": "pseudonymized", "USER_ID_LOG_KEY_SECRET_ID": "gw/log-key"}
    )

    assert settings.observability.user_id_log_key_secret_id == "gw/log-key"
