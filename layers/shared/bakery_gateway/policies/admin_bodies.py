"""The request bodies of the policy function, validated: a mistake is a 400 problem naming the field.

Bodies are strict (JSON types as documented, no coercion of "5" to 5) and admin bodies refuse unknown
fields, so a typo is an error instead of a silently ignored setting. The subscription document is the
tenant service's (see ``subscription.py``) and, like its look-up answer, may carry more fields.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bakery_gateway import bounded_json
from bakery_gateway.errors import BadRequestError, JsonInputError
from bakery_gateway.policies.store import RateLimitOverride, RateLimitOverrides
from bakery_gateway.policies.subscription import Subscription

TENANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
MAX_DETAIL_CHARACTERS = 500
MAX_REQUESTS = 1_000_000
MAX_WINDOW_SECONDS = 86_400

TenantId = Annotated[str, Field(pattern=TENANT_ID_PATTERN)]
BodyT = TypeVar("BodyT", bound=BaseModel)


class _AdminBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class ReadOnlyBody(_AdminBody):
    reason: Literal["billing_hold", "maintenance", "administrative"]
    detail: str | None = Field(default=None, max_length=MAX_DETAIL_CHARACTERS)


class LimitBody(_AdminBody):
    requests: int = Field(ge=1, le=MAX_REQUESTS)
    window_seconds: int = Field(ge=1, le=MAX_WINDOW_SECONDS)

    def to_override(self) -> RateLimitOverride:
        return RateLimitOverride(self.requests, self.window_seconds)


class RateLimitsBody(_AdminBody):
    user: LimitBody | None = None
    tenant: LimitBody | None = None

    def to_overrides(self) -> RateLimitOverrides:
        if self.user is None and self.tenant is None:
            raise invalid_field("user", "give user, tenant or both; DELETE removes every override")
        return RateLimitOverrides(
            user=self.user.to_override() if self.user else None,
            tenant=self.tenant.to_override() if self.tenant else None,
        )


class SubscriptionBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)

    status: str = Field(min_length=1, max_length=64)
    plan: str | None = Field(default=None, max_length=128)
    current_period_end: int | float | str | None = None  # epoch seconds or ISO 8601
    grace_period_days: int | None = Field(default=None, ge=0, le=3650)

    def to_subscription(self, field_prefix: str = "") -> Subscription:
        try:
            return Subscription.from_document(self.model_dump())
        except ValueError:
            # The types are checked above: what is left to fail is reading current_period_end.
            reason = "must be epoch seconds or an ISO 8601 time"
            raise invalid_field(f"{field_prefix}current_period_end", reason) from None


class SubscriptionEventBody(_AdminBody):
    """The tenant service's push: a tenant's new subscription, or ``invalidate: true``."""

    tenant_id: TenantId
    subscription: SubscriptionBody | None = None
    invalidate: bool = False

    def checked(self) -> SubscriptionEventBody:
        if self.invalidate and self.subscription is not None:
            raise invalid_field("invalidate", "send a subscription or invalidate: true, not both")
        if not self.invalidate and self.subscription is None:
            raise invalid_field("subscription", "send a subscription, or invalidate: true")
        return self


def parse_body(model: type[BodyT], body: bytes) -> BodyT:
    """``body`` read as ``model``; ``BadRequestError`` naming every invalid field otherwise.

    The JSON is read by ``bounded_json`` (size and depth), then validated as a Python document:
    strict, so JSON's types are checked as ``model_validate_json`` checked them.
    """
    try:
        document = bounded_json.loads(body, max_bytes=bounded_json.REQUEST_BODY_BYTES)
    except JsonInputError as error:
        raise invalid_field("body", str(error)) from None
    try:
        return model.model_validate(document)
    except ValidationError as error:
        invalid = [
            {"name": ".".join(str(part) for part in detail["loc"]) or "body", "reason": detail["msg"]}
            for detail in error.errors(include_url=False, include_input=False)
        ]
        raise BadRequestError(
            "; ".join(f"{item['name']}: {item['reason']}" for item in invalid),
            extensions={"invalid_params": invalid},
        ) from None


def checked_tenant_id(tenant_id: str) -> str:
    if not re.fullmatch(TENANT_ID_PATTERN, tenant_id):
        raise invalid_field("tenant_id", "must be 1-128 letters, digits, '.', '_', ':' or '-'")
    return tenant_id


def invalid_field(name: str, reason: str) -> BadRequestError:
    """A 400 problem shaped like ``parse_body``'s: RFC 9457's ``invalid_params`` extension."""
    invalid = [{"name": name, "reason": reason}]
    return BadRequestError(f"{name}: {reason}", extensions={"invalid_params": invalid})
