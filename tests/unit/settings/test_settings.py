"""Settings: one typed object read from the environment; every bad value names its variable."""

from __future__ import annotations

import json

import pytest

from bakery_gateway import constants as names
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import (
    LOG_LEVEL_SETTING,
    JwtSettings,
    RedisSettings,
    Scope,
    Settings,
    get_settings,
)


def test_an_empty_environment_gives_the_documented_defaults() -> None:
    settings = Settings.from_environ({})

    assert settings == Settings(
        environment="dev",
        service_urls={},
        redis=RedisSettings(host=None, port=6379, db=0, password=None, tls=False, timeout_seconds=0.5),
        jwt=JwtSettings(algorithms=("RS256",), leeway_seconds=30),
        max_request_bytes=4_620_288,  # docs/limits.md: the largest body whose event fits in Lambda's 6 MB
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
            "MAX_REQUEST_BYTES": "1024",
        }
    )

    assert settings.redis == RedisSettings(
        host="cache.internal", port=6380, db=3, tls=True, timeout_seconds=0.25
    )
    assert settings.jwt.algorithms == ("RS256", "ES256")
    assert settings.jwt.leeway_seconds == 5
    assert settings.max_request_bytes == 1024


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
        ("MAX_REQUEST_BYTES", "10MB"),
        ("MAX_REQUEST_BYTES", "10485760"),  # HTTP API takes 10 MB; a Lambda event cannot hold it
        ("DOWNSTREAM_CONNECT_TIMEOUT_SECONDS", "0"),
        ("DOWNSTREAM_READ_TIMEOUT_SECONDS", "30"),
        ("DOWNSTREAM_READ_TIMEOUT_SECONDS", "soon"),
        ("DOWNSTREAM_READ_TIMEOUT_SECONDS", "nan"),
        ("DOWNSTREAM_CONNECT_TIMEOUT_SECONDS", "inf"),
        ("DOWNSTREAM_MAX_CONNECTIONS", "0"),
        ("SALES_SERVICE_URL", "sales-service:8000"),
        ("SALES_SERVICE_URL", "ftp://sales-service"),
        ("SALES_SERVICE_URL", "http://"),
        ("NOTIFICATION_SERVICE_URL", "notification-service"),
    ],
)
def test_a_malformed_value_fails_with_an_error_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{variable}:"):
        Settings.from_environ({variable: value})


def test_the_log_level_is_read_case_insensitively_by_its_declaration() -> None:
    # The logger reads it when it is made (telemetry/observability.py), before any Settings exist.
    assert LOG_LEVEL_SETTING.read({"LOG_LEVEL": "debug"}) == "DEBUG"
    assert LOG_LEVEL_SETTING.read({}) == "INFO"


def test_a_malformed_log_level_fails_with_an_error_naming_its_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^LOG_LEVEL:"):
        LOG_LEVEL_SETTING.read({"LOG_LEVEL": "LOUD"})


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


# --- tenant policies -----------------------------------------------------------------------------
def test_policy_defaults_are_the_documented_ones() -> None:
    policy = Settings.from_environ({}).policy

    assert (policy.user_limit.requests, policy.user_limit.window_seconds) == (300, 60)
    assert (policy.ip_limit.requests, policy.ip_limit.window_seconds) == (300, 60)
    assert (policy.tenant_limit.requests, policy.tenant_limit.window_seconds) == (3000, 60)
    assert (policy.login_ip_limit.requests, policy.login_ip_limit.window_seconds) == (20, 60)
    assert (policy.login_name_limit.requests, policy.login_name_limit.window_seconds) == (5, 300)
    assert policy.rules == ()
    assert policy.rate_limit_when_redis_down == "memory"
    assert policy.stale_seconds == 60
    assert policy.subscription_cache_seconds == 300
    assert "/api/v1/auth/**" in policy.exempt_paths
    assert "/api/v1/tenants/*/billing**" in policy.exempt_paths


def test_rate_limit_requests_and_window_set_the_user_and_the_anonymous_address_limits() -> None:
    policy = Settings.from_environ({"RATE_LIMIT_REQUESTS": "100", "RATE_LIMIT_WINDOW_SECONDS": "10"}).policy

    assert (policy.user_limit.requests, policy.user_limit.window_seconds) == (100, 10)
    assert (policy.ip_limit.requests, policy.ip_limit.window_seconds) == (100, 10)
    assert policy.default_for(Scope.USER) is policy.user_limit
    assert policy.default_for(Scope.IP) is policy.ip_limit


@pytest.mark.parametrize(
    ("requests_variable", "window_variable", "scope"),
    [
        ("RATE_LIMIT_TENANT_REQUESTS", "RATE_LIMIT_TENANT_WINDOW_SECONDS", Scope.TENANT),
        ("LOGIN_RATE_LIMIT_IP_REQUESTS", "LOGIN_RATE_LIMIT_IP_WINDOW_SECONDS", Scope.LOGIN_IP),
        ("LOGIN_RATE_LIMIT_NAME_REQUESTS", "LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS", Scope.LOGIN_NAME),
    ],
)
def test_each_scope_has_its_own_limit_variables(
    requests_variable: str, window_variable: str, scope: Scope
) -> None:
    policy = Settings.from_environ({requests_variable: "7", window_variable: "90"}).policy

    chosen = policy.default_for(scope)
    assert (chosen.scope, chosen.requests, chosen.window_seconds) == (scope, 7, 90)
    assert policy.user_limit.requests == 300


def test_rate_limit_rules_are_read_from_json() -> None:
    rules = '[{"name": "exports", "scope": "tenant", "requests": 5, "window_seconds": 60, "route": "/x*"}]'

    (rule,) = Settings.from_environ({"RATE_LIMIT_RULES": rules}).policy.rules

    assert (rule.name, rule.scope, rule.requests, rule.route) == ("exports", Scope.TENANT, 5, "/x*")


@pytest.mark.parametrize("mode", ["memory", "open", "closed", "OPEN", " Closed "])
def test_the_mode_without_redis_is_read_case_insensitively(mode: str) -> None:
    policy = Settings.from_environ({"RATE_LIMIT_WHEN_REDIS_DOWN": mode}).policy

    assert policy.rate_limit_when_redis_down == mode.strip().lower()


def test_exempt_paths_are_a_comma_separated_list_replacing_the_defaults() -> None:
    policy = Settings.from_environ({"POLICY_EXEMPT_PATHS": "/api/v1/auth/*, /api/v1/status"}).policy

    assert policy.exempt_paths == ("/api/v1/auth/*", "/api/v1/status")


def test_stale_seconds_and_subscription_cache_seconds_are_read() -> None:
    policy = Settings.from_environ({"POLICY_STALE_SECONDS": "0", "SUBSCRIPTION_CACHE_SECONDS": "30"}).policy

    assert (policy.stale_seconds, policy.subscription_cache_seconds) == (0, 30)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("RATE_LIMIT_TENANT_REQUESTS", "0"),
        ("RATE_LIMIT_TENANT_WINDOW_SECONDS", "soon"),
        ("LOGIN_RATE_LIMIT_IP_REQUESTS", "-3"),
        ("LOGIN_RATE_LIMIT_IP_WINDOW_SECONDS", "0"),
        ("LOGIN_RATE_LIMIT_NAME_REQUESTS", "five"),
        ("LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS", "1.5"),
        ("RATE_LIMIT_RULES", "not json"),
        ("RATE_LIMIT_RULES", '{"name": "a"}'),
        ("RATE_LIMIT_WHEN_REDIS_DOWN", "maybe"),
        ("POLICY_STALE_SECONDS", "-1"),
        ("POLICY_STALE_SECONDS", "3601"),
        ("SUBSCRIPTION_CACHE_SECONDS", "0"),
    ],
)
def test_a_malformed_policy_value_fails_with_an_error_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"^{variable}"):
        Settings.from_environ({variable: value})


def test_a_malformed_rule_names_the_variable_and_the_rules_position() -> None:
    rules = json.dumps(
        [
            {"name": "ok", "requests": 1, "window_seconds": 1},
            {"name": "bad", "requests": 0, "window_seconds": 1},
        ]
    )

    with pytest.raises(ConfigurationError, match=r"^RATE_LIMIT_RULES\[1\]: "):
        Settings.from_environ({"RATE_LIMIT_RULES": rules})


def test_websocket_delivery_is_unconfigured_by_default_with_64_posts_at_once() -> None:
    websocket = Settings.from_environ({}).websocket

    assert (websocket.management_url, websocket.post_concurrency) == (None, 64)


def test_websocket_settings_are_read_from_their_variables() -> None:
    websocket = Settings.from_environ(
        {
            names.WEBSOCKET_MANAGEMENT_URL: "https://w1s2k3t4u5.execute-api.eu-west-1.amazonaws.com/live/",
            names.WEBSOCKET_POST_CONCURRENCY: "8",
        }
    ).websocket

    assert websocket.management_url == "https://w1s2k3t4u5.execute-api.eu-west-1.amazonaws.com/live"
    assert websocket.post_concurrency == 8


@pytest.mark.parametrize(
    ("variable", "value"),
    [(names.WEBSOCKET_MANAGEMENT_URL, "wss://example.com/live"), (names.WEBSOCKET_POST_CONCURRENCY, "0")],
)
def test_a_malformed_websocket_setting_names_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environ({variable: value})
