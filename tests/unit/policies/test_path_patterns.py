"""Path patterns in settings: ``*`` is one segment, ``**`` any number of them."""

from __future__ import annotations

import pytest

from bakery_gateway.policies.path_patterns import path_matches


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/api/v1/tenants/*", "/api/v1/tenants/t1"),
        ("/api/v1/tenants/*/billing**", "/api/v1/tenants/t1/billing"),
        ("/api/v1/tenants/*/billing**", "/api/v1/tenants/t1/billing/invoices/9"),
        ("/api/v1/auth/**", "/api/v1/auth/login"),
        ("/api/v1/sales/exports*", "/api/v1/sales/exports.csv"),
    ],
)
def test_a_pattern_matches_the_paths_it_names(pattern: str, path: str) -> None:
    assert path_matches(path, pattern)


@pytest.mark.parametrize(
    ("pattern", "path"),
    [
        ("/api/v1/tenants/*", "/api/v1/tenants/t1/orders/5"),
        ("/api/v1/tenants/*/billing**", "/api/v1/tenants/t1/orders"),
        ("/api/v1/auth/**", "/api/v1/authx/login"),
        ("/api/v1/sales/*", "/api/v1/sales/a/b"),
    ],
)
def test_a_pattern_does_not_match_other_paths(pattern: str, path: str) -> None:
    assert not path_matches(path, pattern)


def test_regular_expression_characters_in_a_pattern_are_literal() -> None:
    assert not path_matches("/api/v1/salesX", "/api/v1/sales.")
