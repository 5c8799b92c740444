"""Rate-limit rules: which rule gives a request's bucket its limit, and parsing RATE_LIMIT_RULES."""

from __future__ import annotations

import json

import pytest

from bakery_gateway.errors import ConfigurationError
from bakery_gateway.policies.rules import Candidate, select_bucket
from bakery_gateway.settings import RateLimitRule, Scope, parse_rules

DEFAULT = RateLimitRule("default", Scope.USER, 300, 60)
VARIABLE = "RATE_LIMIT_RULES"


def rule(name: str, requests: int = 10, window_seconds: int = 60, **matchers: str) -> RateLimitRule:
    scope = Scope(matchers.pop("scope", "user"))
    return RateLimitRule(name, scope, requests, window_seconds, **matchers)


def select(
    rules: list[RateLimitRule],
    *,
    scope: Scope = Scope.USER,
    tenant_id: str | None = "tenant-a",
    path: str = "/api/v1/sales/orders",
    method: str = "GET",
) -> tuple[str, tuple[Candidate, ...]]:
    bucket = select_bucket(scope, "user-1", rules, DEFAULT, tenant_id=tenant_id, path=path, method=method)
    return bucket.group, bucket.candidates


# --- select_bucket -------------------------------------------------------------------------------
def test_without_rules_the_default_limit_is_the_only_candidate_in_the_shared_group() -> None:
    assert select([]) == ("all", (Candidate(None, 300, 60),))


def test_the_default_limit_is_always_the_last_candidate() -> None:
    _, candidates = select([rule("a", tenant="tenant-a"), rule("b", route="/api/v1/sales/*")])

    assert candidates[-1] == Candidate(None, 300, 60)


def test_a_rule_with_more_matchers_comes_before_a_less_specific_one_whatever_the_order() -> None:
    broad = rule("broad", 50, route="/api/v1/sales/*")
    narrow = rule("narrow", 5, route="/api/v1/sales/*", method="GET", tenant="tenant-a")

    _, candidates = select([broad, narrow])

    assert [c.requests for c in candidates] == [5, 50, 300]


def test_between_equally_specific_rules_the_earlier_configured_one_wins() -> None:
    first = rule("first", 7, tenant="tenant-a")
    second = rule("second", 8, method="GET")

    assert select([first, second])[1][0].requests == 7
    assert select([second, first])[1][0].requests == 8


def test_a_rule_for_another_tenant_does_not_apply() -> None:
    assert select([rule("other", tenant="tenant-b")]) == ("all", (Candidate(None, 300, 60),))


def test_a_rule_for_another_method_does_not_apply() -> None:
    assert select([rule("posts", method="POST")], method="GET")[1] == (Candidate(None, 300, 60),)


def test_a_rule_for_another_scope_does_not_apply() -> None:
    assert select([rule("tenant-wide", scope="tenant")], scope=Scope.USER)[1] == (Candidate(None, 300, 60),)


def test_a_route_pattern_double_star_matches_across_path_segments() -> None:
    group, _ = select(
        [rule("reports", route="/api/v1/tenants/*/reports**")], path="/api/v1/tenants/t1/reports/x/y"
    )

    assert group == "reports"


def test_a_route_pattern_single_star_matches_one_path_segment_only() -> None:
    group, _ = select(
        [rule("reports", route="/api/v1/tenants/*/reports")], path="/api/v1/tenants/t1/x/reports"
    )

    assert group == "all"


def test_a_route_rule_that_does_not_match_the_path_does_not_apply() -> None:
    assert select([rule("reports", route="/api/v1/reports/*")], path="/api/v1/sales/orders")[0] == "all"


def test_a_route_rule_gives_the_bucket_a_budget_group_of_its_own() -> None:
    group, candidates = select([rule("exports", 3, route="/api/v1/sales/*")])

    assert group == "exports"
    assert candidates[0] == Candidate(None, 3, 60)


def test_plan_and_tenant_rules_change_the_numbers_but_keep_the_shared_budget() -> None:
    group, candidates = select([rule("pro", 900, plan="professional"), rule("vip", 5000, tenant="tenant-a")])

    assert group == "all"
    assert {c.requests for c in candidates} == {900, 5000, 300}


def test_a_plan_rule_is_a_candidate_for_that_plan_only() -> None:
    _, candidates = select([rule("pro", 900, 30, plan="professional")])

    assert candidates[0] == Candidate("professional", 900, 30)


def test_the_most_specific_route_rule_names_the_group() -> None:
    broad = rule("sales", route="/api/v1/sales/*")
    narrow = rule("sales-writes", route="/api/v1/sales/*", method="POST")

    assert select([broad, narrow], method="POST")[0] == "sales-writes"
    assert select([broad, narrow], method="GET")[0] == "sales"


def test_buckets_of_different_route_rules_have_different_keys() -> None:
    rules = [rule("sales", route="/api/v1/sales/*"), rule("orders", route="/api/v1/orders/*")]

    def key(path: str) -> str:
        bucket = select_bucket(Scope.USER, "u", rules, DEFAULT, tenant_id=None, path=path, method="GET")
        return bucket.key_suffix

    assert len({key("/api/v1/sales/1"), key("/api/v1/orders/1"), key("/api/v1/inventory/1")}) == 3


# --- parse_rules ---------------------------------------------------------------------------------
@pytest.mark.parametrize("text", [None, ""])
def test_no_rules_configured_is_an_empty_tuple(text: str | None) -> None:
    assert parse_rules(text, VARIABLE) == ()


def test_a_complete_rule_is_read_with_its_method_upper_cased() -> None:
    text = json.dumps(
        [
            {
                "name": "exports",
                "scope": "tenant",
                "requests": 5,
                "window_seconds": 600,
                "plan": "starter",
                "tenant": "tenant-a",
                "route": "/api/v1/sales/exports*",
                "method": "post",
            }
        ]
    )

    assert parse_rules(text, VARIABLE) == (
        RateLimitRule(
            "exports", Scope.TENANT, 5, 600, "starter", "tenant-a", "/api/v1/sales/exports*", "POST"
        ),
    )


def test_a_rule_without_scope_limits_users() -> None:
    (parsed,) = parse_rules('[{"name": "r", "requests": 1, "window_seconds": 1}]', VARIABLE)

    assert parsed.scope is Scope.USER


@pytest.mark.parametrize("text", ["{not json", "[1,"])
def test_text_that_is_not_json_is_refused_naming_the_variable(text: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^RATE_LIMIT_RULES: not JSON"):
        parse_rules(text, VARIABLE)


def test_a_document_that_is_not_a_list_is_refused_naming_the_variable() -> None:
    with pytest.raises(ConfigurationError, match=r"^RATE_LIMIT_RULES: must be a JSON list"):
        parse_rules('{"name": "r", "requests": 1, "window_seconds": 1}', VARIABLE)


GOOD = {"name": "ok", "requests": 1, "window_seconds": 1}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ("a rule", "a rule must be a JSON object"),
        ({**GOOD, "burst": 3}, "unknown field.*burst"),
        ({**GOOD, "scope": "planet"}, "scope must be one of"),
        ({**GOOD, "requests": 0}, "requests and window_seconds"),
        ({**GOOD, "requests": "10"}, "requests and window_seconds"),
        ({**GOOD, "requests": 1.5}, "requests and window_seconds"),
        ({**GOOD, "window_seconds": -1}, "requests and window_seconds"),
        ({"requests": 1, "window_seconds": 1}, "name must be"),
        ({**GOOD, "name": ""}, "name must be"),
        ({**GOOD, "name": "a:b"}, "name must be"),
        ({**GOOD, "route": 42}, "must be strings"),
        ({**GOOD, "plan": ["pro"]}, "must be strings"),
    ],
)
def test_a_malformed_rule_is_refused_naming_the_variable_and_its_position(bad: object, message: str) -> None:
    text = json.dumps([GOOD, bad])

    with pytest.raises(ConfigurationError, match=rf"^RATE_LIMIT_RULES\[1\]: .*{message}"):
        parse_rules(text, VARIABLE)


@pytest.mark.parametrize("field", ["requests", "window_seconds"])
def test_a_boolean_count_is_refused(field: str) -> None:
    with pytest.raises(ConfigurationError, match=r"^RATE_LIMIT_RULES\[0\]: "):
        parse_rules(json.dumps([{**GOOD, field: True}]), VARIABLE)
