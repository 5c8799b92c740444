"""The policy function's request bodies: what each accepts, and 400 problems that name the field."""

from __future__ import annotations

import json
from typing import Any, cast

import pytest

from bakery_gateway.errors import BadRequestError
from bakery_gateway.policies.admin_bodies import (
    RateLimitsBody,
    ReadOnlyBody,
    SubscriptionBody,
    SubscriptionEventBody,
    checked_tenant_id,
    parse_body,
)
from bakery_gateway.policies.store import RateLimitOverride


def body(document: Any) -> bytes:
    return json.dumps(document).encode()


def invalid_names(error: pytest.ExceptionInfo[BadRequestError]) -> list[str]:
    invalid = cast(list[dict[str, str]], error.value.extensions["invalid_params"])
    return [item["name"] for item in invalid]


@pytest.mark.parametrize("reason", ["billing_hold", "maintenance", "administrative"])
def test_each_read_only_reason_is_accepted(reason: str) -> None:
    assert parse_body(ReadOnlyBody, body({"reason": reason})).reason == reason


def test_an_unknown_read_only_reason_is_refused_naming_the_field() -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(ReadOnlyBody, body({"reason": "because"}))

    assert invalid_names(error) == ["reason"]
    assert error.value.detail.startswith("reason: ")


def test_a_read_only_detail_over_500_characters_is_refused() -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(ReadOnlyBody, body({"reason": "maintenance", "detail": "x" * 501}))

    assert invalid_names(error) == ["detail"]


def test_an_unknown_field_is_refused_rather_than_ignored() -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(ReadOnlyBody, body({"reason": "maintenance", "reasn": "typo"}))

    assert invalid_names(error) == ["reasn"]


@pytest.mark.parametrize("raw", [b"", b"{not json", b"[]"])
def test_a_body_that_is_not_a_json_object_is_refused_as_the_body(raw: bytes) -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(ReadOnlyBody, raw)

    assert invalid_names(error) == ["body"]


def test_numbers_written_as_strings_are_refused() -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(RateLimitsBody, body({"user": {"requests": "10", "window_seconds": 60}}))

    assert invalid_names(error) == ["user.requests"]


@pytest.mark.parametrize(
    ("limit", "field"),
    [({"requests": 0, "window_seconds": 60}, "user.requests"), ({"requests": 1}, "user.window_seconds")],
)
def test_a_limit_needs_positive_requests_and_a_window(limit: dict[str, int], field: str) -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(RateLimitsBody, body({"user": limit}))

    assert invalid_names(error) == [field]


def test_rate_limits_become_overrides_per_scope() -> None:
    parsed = parse_body(RateLimitsBody, body({"tenant": {"requests": 100, "window_seconds": 60}}))

    overrides = parsed.to_overrides()

    assert (overrides.user, overrides.tenant) == (None, RateLimitOverride(100, 60))


def test_rate_limits_without_any_limit_are_refused() -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(RateLimitsBody, b"{}").to_overrides()

    assert invalid_names(error) == ["user"]


def test_a_subscription_period_end_may_be_iso_8601() -> None:
    parsed = parse_body(
        SubscriptionBody, body({"status": "Active", "current_period_end": "2030-01-01T00:00:00Z"})
    )

    subscription = parsed.to_subscription()

    assert (subscription.status, subscription.current_period_end) == ("active", 1_893_456_000)


def test_an_unreadable_period_end_is_refused_naming_the_field() -> None:
    parsed = parse_body(SubscriptionBody, body({"status": "active", "current_period_end": "next week"}))

    with pytest.raises(BadRequestError) as error:
        parsed.to_subscription()

    assert invalid_names(error) == ["current_period_end"]


def test_a_subscription_without_status_is_refused() -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(SubscriptionBody, body({"plan": "professional"}))

    assert invalid_names(error) == ["status"]


def test_a_subscription_document_may_carry_fields_the_gateway_does_not_use() -> None:
    parsed = parse_body(SubscriptionBody, body({"status": "active", "subscription_id": "sub_1"}))

    assert parsed.to_subscription().status == "active"


def test_a_push_names_a_tenant_and_a_subscription() -> None:
    event = parse_body(
        SubscriptionEventBody, body({"tenant_id": "tenant-a", "subscription": {"status": "cancelled"}})
    ).checked()

    assert event.subscription is not None
    assert event.subscription.to_subscription().status == "cancelled"


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"tenant_id": "tenant-a"}, "subscription"),
        ({"tenant_id": "tenant-a", "invalidate": False}, "subscription"),
        ({"tenant_id": "tenant-a", "invalidate": True, "subscription": {"status": "active"}}, "invalidate"),
    ],
)
def test_a_push_carries_either_a_subscription_or_an_invalidation(
    document: dict[str, Any], field: str
) -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(SubscriptionEventBody, body(document)).checked()

    assert invalid_names(error) == [field]


def test_a_push_names_the_nested_field_it_refuses() -> None:
    with pytest.raises(BadRequestError) as error:
        parse_body(SubscriptionEventBody, body({"tenant_id": "t", "subscription": {"grace_period_days": -1}}))

    assert invalid_names(error) == ["subscription.status", "subscription.grace_period_days"]


@pytest.mark.parametrize("tenant_id", ["", "a b", "a/b", "x" * 129, "-leading-dash"])
def test_a_tenant_id_that_could_not_be_one_is_refused(tenant_id: str) -> None:
    with pytest.raises(BadRequestError) as error:
        checked_tenant_id(tenant_id)

    assert invalid_names(error) == ["tenant_id"]


@pytest.mark.parametrize(
    "tenant_id", ["tenant-a", "3f2b1c9e-8d7a-4b6c-9e1f-0a2b3c4d5e6f", "bakery_1.outlet:2"]
)
def test_ordinary_tenant_ids_are_accepted(tenant_id: str) -> None:
    assert checked_tenant_id(tenant_id) == tenant_id
