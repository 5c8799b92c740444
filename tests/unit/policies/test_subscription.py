"""Subscriptions: what a record allows (``judge``), reading the tenant service's documents, and ``fetch``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from bakery_gateway.policies.subscription import (
    SECONDS_PER_DAY,
    Subscription,
    SubscriptionLookupError,
    fetch,
    judge,
)

NOW = 1_750_000_000.0
DAY = SECONDS_PER_DAY


def subscription(status: str, *, period_end: float = 0, grace_days: int = 0) -> Subscription:
    return Subscription(status, "professional", int(period_end), grace_days)


# --- judge ---------------------------------------------------------------------------------------
def test_an_active_subscription_without_a_period_end_is_allowed_without_grace() -> None:
    verdict = judge(subscription("active"), NOW)

    assert verdict.allowed
    assert verdict.grace_days_remaining is None


def test_an_active_subscription_inside_its_period_is_allowed_without_grace() -> None:
    verdict = judge(subscription("active", period_end=NOW + 10 * DAY, grace_days=7), NOW)

    assert verdict.allowed
    assert verdict.grace_days_remaining is None


def test_a_trialing_subscription_is_allowed() -> None:
    assert judge(subscription("trialing", period_end=NOW + DAY), NOW).allowed


@pytest.mark.parametrize("status", ["active", "past_due", "unpaid"])
def test_past_the_period_end_but_within_grace_is_allowed_with_the_days_left(status: str) -> None:
    verdict = judge(subscription(status, period_end=NOW - 2 * DAY, grace_days=7), NOW)

    assert verdict.allowed
    assert verdict.grace_days_remaining == 5


def test_grace_days_left_are_rounded_up() -> None:
    verdict = judge(subscription("past_due", period_end=NOW - 2.5 * DAY, grace_days=3), NOW)

    assert verdict.grace_days_remaining == 1


@pytest.mark.parametrize("status", ["active", "past_due", "unpaid"])
def test_past_the_grace_period_is_refused(status: str) -> None:
    verdict = judge(subscription(status, period_end=NOW - 8 * DAY, grace_days=7), NOW)

    assert not verdict.allowed
    assert "grace period is over" in verdict.reason


def test_past_the_period_end_without_grace_is_refused() -> None:
    assert not judge(subscription("active", period_end=NOW - 1), NOW).allowed


def test_a_lapsed_subscription_without_a_period_end_is_refused() -> None:
    assert not judge(subscription("past_due", grace_days=30), NOW).allowed


@pytest.mark.parametrize("status", ["cancelled", "canceled", "paused", "incomplete_expired"])
def test_a_subscription_that_is_not_paying_is_refused_naming_its_status(status: str) -> None:
    verdict = judge(subscription(status, period_end=NOW + 30 * DAY, grace_days=7), NOW)

    assert not verdict.allowed
    assert status in verdict.reason


def test_no_subscription_is_refused() -> None:
    verdict = judge(Subscription("none", "", 0, 0), NOW)

    assert not verdict.allowed
    assert verdict.reason == "the tenant has no subscription"


# --- documents -----------------------------------------------------------------------------------
def test_an_iso_8601_period_end_in_utc_is_read_as_epoch_seconds() -> None:
    record = Subscription.from_document({"status": "active", "current_period_end": "2025-06-15T12:00:00Z"})

    assert record.current_period_end == int(datetime(2025, 6, 15, 12, tzinfo=UTC).timestamp())


def test_an_iso_8601_period_end_with_an_offset_is_read_as_epoch_seconds() -> None:
    record = Subscription.from_document(
        {"status": "active", "current_period_end": "2025-06-15T14:00:00+02:00"}
    )

    assert record.current_period_end == int(datetime(2025, 6, 15, 12, tzinfo=UTC).timestamp())


@pytest.mark.parametrize("value", [1_750_000_000, 1_750_000_000.9])
def test_an_epoch_period_end_is_read_as_whole_seconds(value: float) -> None:
    record = Subscription.from_document({"status": "active", "current_period_end": value})

    assert record.current_period_end == 1_750_000_000


@pytest.mark.parametrize("value", [None, ""])
def test_a_missing_period_end_is_zero(value: object) -> None:
    assert (
        Subscription.from_document({"status": "active", "current_period_end": value}).current_period_end == 0
    )


def test_a_document_is_read_with_its_status_lower_cased() -> None:
    record = Subscription.from_document(
        {
            "status": "Past_Due",
            "plan": "enterprise",
            "current_period_end": 1_700_000_000,
            "grace_period_days": 5,
        }
    )

    assert record == Subscription("past_due", "enterprise", 1_700_000_000, 5)


@pytest.mark.parametrize(
    "document",
    [
        {},
        {"status": ""},
        {"status": 3},
        {"status": "active", "plan": 7},
        {"status": "active", "grace_period_days": -1},
        {"status": "active", "grace_period_days": "7"},
        {"status": "active", "grace_period_days": 1.5},
        {"status": "active", "current_period_end": "next tuesday"},
        {"status": "active", "current_period_end": True},
        {"status": "active", "current_period_end": [2025]},
    ],
)
def test_a_malformed_document_is_a_value_error(document: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        Subscription.from_document(document)


def test_a_boolean_grace_period_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"."):
        Subscription.from_document({"status": "active", "grace_period_days": True})


def test_a_record_survives_its_trip_through_a_redis_hash() -> None:
    record = Subscription("trialing", "starter", 1_750_000_000, 3)

    assert Subscription.from_hash(record.to_hash()) == record


def test_an_empty_hash_is_no_subscription() -> None:
    assert Subscription.from_hash({}) == Subscription("none", "", 0, 0)


# --- fetch ---------------------------------------------------------------------------------------
Responder = Callable[[httpx.Request], httpx.Response]


async def fetch_with(responder: Responder, tenant_id: str = "tenant-a") -> Subscription:
    async with httpx.AsyncClient(transport=httpx.MockTransport(responder)) as client:
        return await fetch(
            client, "http://tenants.internal", tenant_id, request_id="req-1", deadline_seconds=1.0
        )


async def test_fetch_asks_the_tenant_service_for_the_tenants_subscription_with_the_request_id() -> None:
    seen: list[httpx.Request] = []

    def respond(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"status": "active", "plan": "professional"})

    record = await fetch_with(respond, "tenant-9")

    assert record == Subscription("active", "professional", 0, 0)
    assert [(r.method, str(r.url)) for r in seen] == [
        ("GET", "http://tenants.internal/api/v1/tenants/tenant-9/subscription")
    ]
    assert seen[0].headers["x-request-id"] == "req-1"


async def test_fetch_reads_a_404_as_no_subscription() -> None:
    record = await fetch_with(lambda request: httpx.Response(404))

    assert record.status == "none"


@pytest.mark.parametrize("status", [500, 503, 401, 302])
async def test_fetch_fails_on_any_other_status(status: int) -> None:
    with pytest.raises(SubscriptionLookupError, match=str(status)):
        await fetch_with(lambda request: httpx.Response(status))


@pytest.mark.parametrize(
    "body",
    [
        b"<html>oops</html>",
        b"[1, 2]",
        b'{"plan": "pro"}',
        b'{"status": "active", "current_period_end": "soon"}',
    ],
)
async def test_fetch_fails_on_an_answer_it_cannot_read(body: bytes) -> None:
    with pytest.raises(SubscriptionLookupError, match="unreadable"):
        await fetch_with(lambda request: httpx.Response(200, content=body))


async def test_fetch_fails_when_the_tenant_service_cannot_be_reached() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(SubscriptionLookupError, match="unreachable"):
        await fetch_with(refuse)
