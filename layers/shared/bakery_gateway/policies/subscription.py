"""Subscriptions: the record the gateway keeps per tenant, what it allows, and where it comes from.

On a cache miss the gateway asks the tenant service:
    GET {TENANT_SERVICE_URL}/api/v1/tenants/{tenant_id}/subscription
    200 {"status", "plan", "current_period_end", "grace_period_days"}, or 404 when it has none.
``current_period_end`` is epoch seconds or ISO 8601. The answer is cached in Redis; the tenant
service pushes changes through the policy function, which updates or drops the cached record.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bakery_gateway import bounded_json
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.constants import REQUEST_ID_HEADER

if TYPE_CHECKING:
    import httpx

SECONDS_PER_DAY = 86_400
PAYING_STATUSES = frozenset({"active", "trialing"})
LAPSED_STATUSES = frozenset({"past_due", "unpaid"})  # still inside the grace period, if any
NO_SUBSCRIPTION = redis_keyspace.NO_SUBSCRIPTION_STATUS


class SubscriptionLookupError(Exception):
    """The tenant service could not say (unreachable, failing, or an answer we cannot read)."""


@dataclass(frozen=True, slots=True)
class Subscription:
    status: str
    plan: str
    current_period_end: int  # epoch seconds; 0 when unknown
    grace_period_days: int

    @classmethod
    def from_hash(cls, fields: Mapping[str, str]) -> Subscription:
        return cls(
            status=fields.get("status", NO_SUBSCRIPTION),
            plan=fields.get("plan", ""),
            current_period_end=int(float(fields.get("current_period_end") or 0)),
            grace_period_days=int(fields.get("grace_period_days") or 0),
        )

    @classmethod
    def from_document(cls, document: Mapping[str, Any]) -> Subscription:
        """From the tenant service's (or an operator's) JSON; ``ValueError`` when malformed."""
        status = document.get("status")
        if not isinstance(status, str) or not status:
            raise ValueError("status is required")
        plan = document.get("plan") or ""
        grace = document.get("grace_period_days") or 0
        # bool is an int in Python: true must not pass for one day.
        if not isinstance(plan, str) or not isinstance(grace, int) or isinstance(grace, bool) or grace < 0:
            raise ValueError("plan must be a string and grace_period_days a whole number >= 0")
        return cls(status.lower(), plan, _epoch_seconds(document.get("current_period_end")), grace)

    def to_hash(self) -> dict[str, str]:
        return {
            "status": self.status,
            "plan": self.plan,
            "current_period_end": str(self.current_period_end),
            "grace_period_days": str(self.grace_period_days),
        }


@dataclass(frozen=True, slots=True)
class SubscriptionVerdict:
    allowed: bool
    grace_days_remaining: int | None = None  # set while paying late but within grace
    reason: str = ""


def judge(subscription: Subscription, now: float) -> SubscriptionVerdict:
    """Whether the tenant may use the platform now, and how many grace days it has left."""
    status = subscription.status
    if status in PAYING_STATUSES and (
        not subscription.current_period_end or now <= subscription.current_period_end
    ):
        return SubscriptionVerdict(True)
    if status in PAYING_STATUSES or status in LAPSED_STATUSES:
        grace_end = subscription.current_period_end + subscription.grace_period_days * SECONDS_PER_DAY
        if subscription.current_period_end and now <= grace_end:
            return SubscriptionVerdict(
                True, grace_days_remaining=math.ceil((grace_end - now) / SECONDS_PER_DAY)
            )
        return SubscriptionVerdict(False, reason="the subscription lapsed and its grace period is over")
    if status == NO_SUBSCRIPTION:
        return SubscriptionVerdict(False, reason="the tenant has no subscription")
    return SubscriptionVerdict(False, reason=f"the subscription is {status}")


async def fetch(
    client: httpx.AsyncClient,
    tenant_service_url: str,
    tenant_id: str,
    *,
    request_id: str,
    deadline_seconds: float,
) -> Subscription:
    """Ask the tenant service; a 404 is an answer ("none"), anything else unusable is an error."""
    import httpx

    url = f"{tenant_service_url}/api/v1/tenants/{tenant_id}/subscription"
    try:
        response = await client.get(url, headers={REQUEST_ID_HEADER: request_id}, timeout=deadline_seconds)
    except httpx.HTTPError as error:
        raise SubscriptionLookupError(f"tenant service unreachable: {type(error).__name__}") from None
    if response.status_code == 404:
        return Subscription(NO_SUBSCRIPTION, "", 0, 0)
    if response.status_code != 200:
        raise SubscriptionLookupError(f"tenant service answered {response.status_code}")
    try:
        document = bounded_json.loads(
            response.content,
            max_bytes=bounded_json.SERVICE_ANSWER_BYTES,
            max_depth=bounded_json.SERVICE_ANSWER_DEPTH,
        )
        if not isinstance(document, dict):
            raise ValueError("not an object")
        return Subscription.from_document(document)
    except ValueError as error:
        raise SubscriptionLookupError(f"tenant service answer unreadable: {error}") from None


def _epoch_seconds(value: object) -> int:
    if value is None or value == "":
        return 0
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, str):
        try:
            return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp())
        except ValueError:
            pass
    raise ValueError("current_period_end must be epoch seconds or an ISO 8601 time")
