"""Settings: one typed object read from the environment; every bad value names its variable."""

from __future__ import annotations

import pytest

from bakery_gateway import constants as names
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import JwtSettings, RedisSettings, Settings, get_settings


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_environ({})

    assert settings == Settings(
        environment="dev",
        log_level="INFO",
        service_urls={},
        redis=RedisSettings(host=None, port=6379, db=0, password=None, tls=False, timeout_seconds=0.5),
        jwt=JwtSettings(algorithms=("RS256",), leeway_seconds=30),
        rate_limit_requests=300,
        rate_limit_window_seconds=60,
        cors_origins=(),
        cors_allow_credentials=True,
        max_request_bytes=10 * 1024 * 1024,
        downstream_connect_timeout_seconds=2.0,
        downstream_read_timeout_seconds=25.0,
        downstream_max_connections=100,
    )


def test_well_formed_values_are_read_into_their_types() -> None:
    settings = Settings.from_environ(
        {
            "REDIS_HOST": "cache.internal",
            "REDIS_PORT": "6380",
            "REDIS_DB": "3",
            "REDIS_TLS": "yes",
            "REDIS_TIMEOUT_SECONDS": "0.25",
            "JWT_ALGORITHM": "RS256, ES256",
            "JWT_LEEWAY_SECONDS": "5",
            "CORS_ORIGINS": "https://app.bakery-ia.com, https://admin.bakery-ia.com",
            "MAX_REQUEST_BYTES": "1024",
            "LOG_LEVEL": "debug",
        }
    )

    assert settings.redis == RedisSettings(
        host="cache.internal", port=6380, db=3, tls=True, timeout_seconds=0.25
    )
    assert settings.jwt.algorithms == ("RS256", "ES256")
    assert settings.jwt.leeway_seconds == 5
    assert settings.cors_origins == ("https://app.bakery-ia.com", "https://admin.bakery-ia.com")
    assert settings.max_request_bytes == 1024
    assert settings.log_level == "DEBUG"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REDIS_PORT", "six"),
        ("REDIS_PORT", "0"),
        ("REDIS_PORT", "65536"),
        ("REDIS_DB", "16"),
        ("REDIS_DB", "-1"),
        ("REDIS_TLS", "maybe"),
        ("REDIS_TIMEOUT_SECONDS", "fast"),
        ("REDIS_TIMEOUT_SECONDS", "0"),
        ("JWT_LEEWAY_SECONDS", "-1"),
        ("JWT_LEEWAY_SECONDS", "301"),
        ("JWT_LEEWAY_SECONDS", "1.5"),
        ("RATE_LIMIT_REQUESTS", "0"),
        ("RATE_LIMIT_WINDOW_SECONDS", "a minute"),
        ("CORS_ALLOW_CREDENTIALS", "2"),
        ("MAX_REQUEST_BYTES", "10MB"),
        ("DOWNSTREAM_CONNECT_TIMEOUT_SECONDS", "0"),
        ("DOWNSTREAM_READ_TIMEOUT_SECONDS", "30"),
        ("DOWNSTREAM_READ_TIMEOUT_SECONDS", "soon"),
        ("DOWNSTREAM_MAX_CONNECTIONS", "0"),
        ("LOG_LEVEL", "LOUD"),
        ("SALES_SERVICE_URL", "sales-service:8000"),
        ("SALES_SERVICE_URL", "ftp://sales-service"),
        ("SALES_SERVICE_URL", "http://"),
        ("NOTIFICATION_SERVICE_URL", "notification-service"),
    ],
)
def test_a_malformed_value_fails_with_an_error_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{variable}:"):
        Settings.from_environ({variable: value})


@pytest.mark.parametrize("algorithms", ["HS256", "none", "RS256,HS512", "HS384", "None"])
def test_hmac_and_none_algorithms_are_refused(algorithms: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^JWT_ALGORITHM:"):
        Settings.from_environ({"JWT_ALGORITHM": algorithms})


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("notifications", "NOTIFICATION_SERVICE_URL"),
        ("tenants", "TENANT_SERVICE_URL"),
        ("ai-insights", "AI_INSIGHTS_SERVICE_URL"),
        ("sales", "SALES_SERVICE_URL"),
        ("pos", "POS_SERVICE_URL"),
    ],
)
def test_service_urls_are_read_from_the_spec_variable_names(service: str, variable: str) -> None:
    settings = Settings.from_environ({variable: f"http://{service}-service:8000/"})

    assert settings.service_urls == {service: f"http://{service}-service:8000"}


@pytest.mark.parametrize(
    "variable", ["NOTIFICATIONS_SERVICE_URL", "TENANTS_SERVICE_URL", "AI-INSIGHTS_SERVICE_URL"]
)
def test_service_url_variables_that_are_not_the_spec_names_are_ignored(variable: str) -> None:
    assert Settings.from_environ({variable: "http://somewhere:8000"}).service_urls == {}


def test_every_service_has_a_url_variable_that_is_read() -> None:
    environ = {names.service_url_variable(service): f"http://{service}:80" for service in names.SERVICES}

    assert Settings.from_environ(environ).service_urls == {
        service: f"http://{service}:80" for service in names.SERVICES
    }


def test_blank_values_count_as_unset() -> None:
    settings = Settings.from_environ({"REDIS_HOST": "  ", "REDIS_PORT": "", "SALES_SERVICE_URL": " "})

    assert settings.redis.host is None
    assert settings.redis.port == 6379
    assert settings.service_urls == {}


def test_settings_are_read_once_per_container(monkeypatch: pytest.MonkeyPatch) -> None:
    get_settings.cache_clear()
    try:
        monkeypatch.setenv("ENVIRONMENT", "first")
        first = get_settings()
        monkeypatch.setenv("ENVIRONMENT", "second")

        assert get_settings() is first
        assert first.environment == "first"
    finally:
        get_settings.cache_clear()
