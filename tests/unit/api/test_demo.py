"""Demo mode, without Redis: the two account types, the session record, guard rails, DEMO_* settings."""

from __future__ import annotations

import json

import pytest

from bakery_gateway import constants as names
from bakery_gateway.api.demo import (
    VALID_DEMO_ACCOUNT_TYPES,
    DemoAccountType,
    DemoSession,
    parse_demo_account_type,
    require_demo_account_type,
)
from bakery_gateway.errors import ConfigurationError, InvalidDemoAccountTypeError
from bakery_gateway.policies.path_patterns import operation_matches
from bakery_gateway.settings import (
    DEFAULT_DEMO_BLOCKED_OPERATIONS,
    BlockedOperation,
    DemoSettings,
    RateLimitRule,
    Scope,
    Settings,
    parse_blocked_operations,
)

OLD_ACCOUNT_TYPES = ["individual_bakery", "professional_bakery", "central_baker", "enterprise_chain"]
NOT_ACCOUNT_TYPES = [
    *OLD_ACCOUNT_TYPES,
    "Enterprise",
    " professional",
    "premium",
    "",
    None,
    1,
    ["enterprise"],
]
DEMO_SERVICES = [service for service in names.SERVICES if service != names.DEMO_SERVICE]


def record(account_type: str = "enterprise", **fields: str) -> dict[str, str]:
    """A session record as the demo-session service writes it."""
    return {
        "account_type": account_type,
        "parent_tenant_id": "central",
        "child_tenant_ids": json.dumps(["outlet-1", "outlet-2"]),
        "expires_at": "1900000000",
        **fields,
    }


def session(account_type: DemoAccountType, children: tuple[str, ...] = ()) -> DemoSession:
    return DemoSession("session-1", account_type, "central", children, 1900000000)


# --- the account types ---------------------------------------------------------------------------
def test_there_are_exactly_two_account_types() -> None:
    assert [account_type.value for account_type in DemoAccountType] == ["professional", "enterprise"]
    assert VALID_DEMO_ACCOUNT_TYPES == ("professional", "enterprise")


@pytest.mark.parametrize("account_type", list(DemoAccountType))
def test_a_valid_account_type_is_required_through(account_type: DemoAccountType) -> None:
    assert require_demo_account_type(account_type.value, "account_type") is account_type


@pytest.mark.parametrize("value", NOT_ACCOUNT_TYPES)
def test_an_old_or_unknown_account_type_is_not_parsed(value: object) -> None:
    assert parse_demo_account_type(value) is None


@pytest.mark.parametrize("old_name", OLD_ACCOUNT_TYPES)
def test_an_old_account_type_is_refused_naming_both_valid_types(old_name: str) -> None:
    with pytest.raises(InvalidDemoAccountTypeError) as refused:
        require_demo_account_type(old_name, "account_type")

    assert refused.value.status == 400
    assert refused.value.detail == (
        f"account_type: {old_name!r} is not a demo account type; use one of professional, enterprise"
    )
    assert refused.value.extensions == {"valid_account_types": ["professional", "enterprise"]}


def test_a_refusal_says_where_the_account_type_came_from() -> None:
    with pytest.raises(InvalidDemoAccountTypeError, match=r"^stored demo session: "):
        require_demo_account_type("central_baker", "stored demo session")


def test_a_refusal_does_not_echo_a_long_value_whole() -> None:
    value = "enterprise" + "x" * 500

    with pytest.raises(InvalidDemoAccountTypeError) as refused:
        require_demo_account_type(value, "account_type")

    assert value not in refused.value.detail
    assert len(refused.value.detail) < 150


# --- the session record --------------------------------------------------------------------------
def test_an_enterprise_record_is_parsed() -> None:
    parsed = DemoSession.from_hash("session-1", record())

    assert parsed == DemoSession(
        "session-1", DemoAccountType.ENTERPRISE, "central", ("outlet-1", "outlet-2"), 1900000000
    )


def test_a_professional_record_without_children_is_parsed() -> None:
    fields = record("professional")
    del fields["child_tenant_ids"]

    assert DemoSession.from_hash("session-1", fields) == session(DemoAccountType.PROFESSIONAL)


def test_a_record_survives_its_round_trip_through_a_hash() -> None:
    original = session(DemoAccountType.ENTERPRISE, ("outlet-1",))

    assert DemoSession.from_hash("session-1", original.to_hash()) == original


@pytest.mark.parametrize("old_name", OLD_ACCOUNT_TYPES)
def test_a_record_with_an_old_account_type_is_refused_not_mapped(old_name: str) -> None:
    with pytest.raises(InvalidDemoAccountTypeError, match="use one of professional, enterprise"):
        DemoSession.from_hash("session-1", record(old_name))


def test_a_record_without_an_account_type_is_refused() -> None:
    fields = record()
    del fields["account_type"]

    with pytest.raises(InvalidDemoAccountTypeError):
        DemoSession.from_hash("session-1", fields)


@pytest.mark.parametrize(
    ("malformed", "message"),
    [
        ({"parent_tenant_id": ""}, "without parent_tenant_id"),
        ({"child_tenant_ids": "not json"}, "Expecting value"),
        ({"child_tenant_ids": '{"outlet": "outlet-1"}'}, "must be a JSON list"),
        ({"child_tenant_ids": '["outlet-1", 2]'}, "must be a JSON list"),
        ({"child_tenant_ids": '["outlet-1", ""]'}, "must be a JSON list"),
        ({"expires_at": "tomorrow"}, "invalid literal"),
    ],
)
def test_a_malformed_record_is_a_value_error(malformed: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DemoSession.from_hash("session-1", record(**malformed))


def test_an_enterprise_session_owns_its_parent_and_every_child() -> None:
    assert session(DemoAccountType.ENTERPRISE, ("outlet-1", "outlet-2")).tenant_ids == (
        "central",
        "outlet-1",
        "outlet-2",
    )


def test_an_enterprise_session_without_children_owns_its_parent() -> None:
    assert session(DemoAccountType.ENTERPRISE).tenant_ids == ("central",)


def test_a_professional_session_owns_only_its_parent_even_when_children_are_recorded() -> None:
    assert session(DemoAccountType.PROFESSIONAL, ("outlet-1",)).tenant_ids == ("central",)


# --- guard rails ---------------------------------------------------------------------------------
def test_blocked_operations_are_parsed_into_upper_case_methods_and_a_pattern() -> None:
    operations = parse_blocked_operations(("post,Put /api/v1/tenants/*/billing**",), "VARIABLE")

    assert operations == (BlockedOperation(frozenset({"POST", "PUT"}), "/api/v1/tenants/*/billing**"),)


@pytest.mark.parametrize(
    ("method", "path", "blocked"),
    [
        ("POST", "/api/v1/tenants/t1/billing", True),
        ("PUT", "/api/v1/tenants/t1/billing/card", True),
        ("GET", "/api/v1/tenants/t1/billing", False),
        ("POST", "/api/v1/tenants/t1/sales/billing", False),
        ("POST", "/api/v1/tenants/t1/t2/billing", False),
    ],
)
def test_a_blocked_operation_matches_its_methods_and_path_pattern(
    method: str, path: str, blocked: bool
) -> None:
    operation = BlockedOperation(frozenset({"POST", "PUT"}), "/api/v1/tenants/*/billing**")

    assert operation_matches(operation, method, path) is blocked


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_a_star_blocks_every_method(method: str) -> None:
    (operation,) = parse_blocked_operations(("* /api/v1/pos/**",), "VARIABLE")

    assert operation_matches(operation, method, "/api/v1/pos/sync")


@pytest.mark.parametrize("entry", ["POST", "POST api/v1/x", "/api/v1/x", " /api/v1/x", "POST, PUT /api/v1/x"])
def test_a_malformed_entry_is_refused_naming_the_variable_and_its_position(entry: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^DEMO_BLOCKED_OPERATIONS\[1\]: "):
        parse_blocked_operations(("GET /api/v1/ok", entry), names.DEMO_BLOCKED_OPERATIONS)


def test_every_default_blocked_operation_is_well_formed() -> None:
    operations = parse_blocked_operations(DEFAULT_DEMO_BLOCKED_OPERATIONS, names.DEMO_BLOCKED_OPERATIONS)

    assert len(operations) == len(DEFAULT_DEMO_BLOCKED_OPERATIONS)


# --- settings ------------------------------------------------------------------------------------
def test_without_demo_variables_the_defaults_apply() -> None:
    settings = Settings.from_environ({})

    assert settings.demo == DemoSettings(
        parse_blocked_operations(DEFAULT_DEMO_BLOCKED_OPERATIONS, names.DEMO_BLOCKED_OPERATIONS), {}
    )
    assert settings.policy.demo_limit == RateLimitRule("default", Scope.DEMO, 120, 60)
    assert settings.policy.demo_creation_ip_limit == RateLimitRule(
        "default", Scope.DEMO_CREATION_IP, 10, 3600
    )


def test_the_demo_rate_limit_is_read_from_its_variables() -> None:
    settings = Settings.from_environ(
        {"DEMO_RATE_LIMIT_REQUESTS": "40", "DEMO_RATE_LIMIT_WINDOW_SECONDS": "30"}
    )

    assert settings.policy.demo_limit == RateLimitRule("default", Scope.DEMO, 40, 30)


def test_the_demo_creation_limit_is_read_from_its_variables() -> None:
    settings = Settings.from_environ(
        {"DEMO_SESSION_RATE_LIMIT_IP_REQUESTS": "3", "DEMO_SESSION_RATE_LIMIT_IP_WINDOW_SECONDS": "600"}
    )

    assert settings.policy.demo_creation_ip_limit == RateLimitRule("default", Scope.DEMO_CREATION_IP, 3, 600)


@pytest.mark.parametrize(
    "variable",
    [
        "DEMO_RATE_LIMIT_REQUESTS",
        "DEMO_RATE_LIMIT_WINDOW_SECONDS",
        "DEMO_SESSION_RATE_LIMIT_IP_REQUESTS",
        "DEMO_SESSION_RATE_LIMIT_IP_WINDOW_SECONDS",
    ],
)
@pytest.mark.parametrize("value", ["0", "many"])
def test_a_bad_demo_limit_is_refused_naming_its_variable(variable: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=rf"^{variable}: "):
        Settings.from_environ({variable: value})


@pytest.mark.parametrize("separator", [";", "\n", " ;\n "])
def test_configured_blocked_operations_replace_the_defaults(separator: str) -> None:
    settings = Settings.from_environ(
        {"DEMO_BLOCKED_OPERATIONS": f"GET,POST /api/v1/pos/**{separator}DELETE /api/v1/orders/*"}
    )

    assert settings.demo.blocked_operations == (
        BlockedOperation(frozenset({"GET", "POST"}), "/api/v1/pos/**"),
        BlockedOperation(frozenset({"DELETE"}), "/api/v1/orders/*"),
    )


def test_a_malformed_configured_operation_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^DEMO_BLOCKED_OPERATIONS\[1\]: 'DELETE' "):
        Settings.from_environ({"DEMO_BLOCKED_OPERATIONS": "GET /api/v1/pos/**; DELETE"})


@pytest.mark.parametrize("service", DEMO_SERVICES)
def test_a_demo_backend_is_read_for_each_service(service: str) -> None:
    variable = names.demo_service_url_variable(service)

    settings = Settings.from_environ({variable: f"http://demo-{service}.internal:8000/"})

    assert settings.demo.service_urls == {service: f"http://demo-{service}.internal:8000"}


@pytest.mark.parametrize(
    ("service", "variable"),
    [
        ("sales", "DEMO_SALES_SERVICE_URL"),
        ("notifications", "DEMO_NOTIFICATION_SERVICE_URL"),
        ("tenants", "DEMO_TENANT_SERVICE_URL"),
        ("ai-insights", "DEMO_AI_INSIGHTS_SERVICE_URL"),
    ],
)
def test_a_demo_backends_variable_is_demo_before_the_services_own(service: str, variable: str) -> None:
    assert names.demo_service_url_variable(service) == variable


def test_a_demo_backend_does_not_replace_the_regular_url() -> None:
    settings = Settings.from_environ(
        {"SALES_SERVICE_URL": "http://sales.internal", "DEMO_SALES_SERVICE_URL": "http://demo-sales.internal"}
    )

    assert settings.service_urls == {"sales": "http://sales.internal"}
    assert settings.demo.service_urls == {"sales": "http://demo-sales.internal"}


def test_the_demo_session_service_has_no_demo_backend_of_its_own() -> None:
    variable = names.demo_service_url_variable(names.DEMO_SERVICE)

    assert Settings.from_environ({variable: "http://elsewhere.internal"}).demo.service_urls == {}


def test_a_demo_backend_that_is_not_a_url_is_refused_naming_its_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^DEMO_SALES_SERVICE_URL: "):
        Settings.from_environ({"DEMO_SALES_SERVICE_URL": "demo-sales.internal"})
