"""The geocoding settings: Nominatim's public instance by default, a bad value fails at cold start."""

from __future__ import annotations

import pytest

from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings import DEFAULT_GEOCODING_USER_AGENT, DEFAULT_NOMINATIM_URL, Settings


def test_by_default_the_public_instance_is_asked_and_answers_are_kept_a_day() -> None:
    geocoding = Settings.from_environ({}).geocoding

    assert geocoding.nominatim_url == DEFAULT_NOMINATIM_URL == "https://nominatim.openstreetmap.org"
    assert geocoding.user_agent == DEFAULT_GEOCODING_USER_AGENT
    assert geocoding.cache_seconds == 86400
    assert geocoding.timeout_seconds == 5.0


def test_the_default_user_agent_names_the_application_and_a_contact() -> None:
    assert DEFAULT_GEOCODING_USER_AGENT.startswith("bakery-ia-gateway/")
    assert "@" in DEFAULT_GEOCODING_USER_AGENT


def test_empty_variables_as_the_template_sends_them_mean_the_defaults() -> None:
    geocoding = Settings.from_environ({"NOMINATIM_URL": "", "GEOCODING_USER_AGENT": " "}).geocoding

    assert geocoding.nominatim_url == DEFAULT_NOMINATIM_URL
    assert geocoding.user_agent == DEFAULT_GEOCODING_USER_AGENT


def test_every_geocoding_setting_is_read() -> None:
    geocoding = Settings.from_environ(
        {
            "NOMINATIM_URL": "http://nominatim.internal:8080/",
            "GEOCODING_USER_AGENT": "obrador/1 (ops@obrador.es)",
            "GEOCODING_CACHE_SECONDS": "3600",
            "GEOCODING_TIMEOUT_SECONDS": "2.5",
        }
    ).geocoding

    assert geocoding.nominatim_url == "http://nominatim.internal:8080"
    assert geocoding.user_agent == "obrador/1 (ops@obrador.es)"
    assert geocoding.cache_seconds == 3600
    assert geocoding.timeout_seconds == 2.5


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NOMINATIM_URL", "nominatim.openstreetmap.org"),
        ("GEOCODING_CACHE_SECONDS", "0"),
        ("GEOCODING_TIMEOUT_SECONDS", "30"),
        ("GEOCODING_TIMEOUT_SECONDS", "soon"),
    ],
)
def test_a_bad_value_fails_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=variable):
        Settings.from_environ({variable: value})
