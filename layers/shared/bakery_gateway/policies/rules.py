"""Which rate-limit rule applies to a request, and so which budget it draws on.

A rule (``settings.RateLimitRule``, read from ``RATE_LIMIT_RULES``) names a scope (whose budget it
limits) and optionally what it matches: a subscription plan, a tenant, a route pattern, a method.
The most specific matching rule wins (most matchers set; the earlier rule on a tie). A rule with a
route pattern gets a budget of its own; plan and tenant rules only change the numbers of the budget
they fall in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from bakery_gateway.policies.path_patterns import path_matches
from bakery_gateway.settings import RateLimitRule, Scope


@dataclass(frozen=True, slots=True)
class Candidate:
    """One limit a bucket may get: used when the tenant's plan is ``plan`` (None: any plan)."""

    plan: str | None
    requests: int
    window_seconds: int


@dataclass(frozen=True, slots=True)
class BucketSpec:
    """One budget a request draws on, with its candidate limits, most specific first."""

    scope: Scope
    subject: str  # the user id, tenant id, address or account name
    group: str  # "all", or the name of the route rule that gives it a budget of its own
    candidates: tuple[Candidate, ...]

    @property
    def key_suffix(self) -> str:
        return f"{self.scope.value}:{self.group}:{self.subject}"


def select_bucket(
    scope: Scope,
    subject: str,
    rules: Sequence[RateLimitRule],
    default: RateLimitRule,
    *,
    tenant_id: str | None,
    path: str,
    method: str,
) -> BucketSpec:
    """The bucket of ``scope`` for this request: its budget group and its candidate limits."""
    matching = [
        rule
        for rule in rules
        if rule.scope == scope and _applies(rule, tenant_id=tenant_id, path=path, method=method)
    ]
    # Stable sort: among equally specific rules the earlier one wins, as configured.
    matching.sort(key=lambda rule: -_specificity(rule))
    route_rules = [rule for rule in matching if rule.route is not None]
    group = route_rules[0].name if route_rules else "all"
    candidates = [Candidate(rule.plan, rule.requests, rule.window_seconds) for rule in matching]
    candidates.append(Candidate(None, default.requests, default.window_seconds))
    return BucketSpec(scope=scope, subject=subject, group=group, candidates=tuple(candidates))


def _applies(rule: RateLimitRule, *, tenant_id: str | None, path: str, method: str) -> bool:
    """Whether the request-side matchers fit; the plan is checked in Redis, where it lives."""
    return (
        (rule.tenant is None or rule.tenant == tenant_id)
        and (rule.route is None or path_matches(path, rule.route))
        and (rule.method is None or rule.method == method)
    )


def _specificity(rule: RateLimitRule) -> int:
    return sum(matcher is not None for matcher in (rule.plan, rule.tenant, rule.route, rule.method))
