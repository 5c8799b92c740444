"""Which sample services ``bakery-gateway local`` stands in for, given the configured URLs."""

from __future__ import annotations

from bakery_gateway import constants as names
from bakery_local.cli import samples_to_start

SERVICES = [service for service in names.SERVICES if service != names.DEMO_SERVICE]


def test_with_nothing_configured_every_service_and_the_demo_sessions_are_samples() -> None:
    assert samples_to_start({}) == [*SERVICES, "demo"]


def test_one_configured_service_turns_the_echo_samples_off_but_not_the_demo_sessions() -> None:
    assert samples_to_start({"SALES_SERVICE_URL": "http://sales.internal"}) == ["demo"]


def test_a_configured_demo_session_service_replaces_the_sample_one() -> None:
    assert samples_to_start({"DEMO_SESSION_SERVICE_URL": "http://demo.internal"}) == SERVICES


def test_a_demo_backend_is_not_a_configured_service() -> None:
    assert samples_to_start({"DEMO_SALES_SERVICE_URL": "http://demo-sales.internal"}) == [*SERVICES, "demo"]
