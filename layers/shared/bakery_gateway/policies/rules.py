"""Rate-limit rules: the defaults, the configured rules, and which rule applies to a request.

A rule names a scope (whose budget it limits) and optionally what it matches: a subscription plan,
a tenant, a route pattern, a method. The most specific matching rule wins (most matchers set; the
earlier rule on a tie). A rule with a route pattern gets a budget of its own; plan and tenant rules
only change the numbers of the budget they fall in.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeGuard

from bakery_gateway.errors import ConfigurationError
from bakery_gateway.policies.path_patterns import path_matches


class Scope(StrEnum):
    """Whose budget a bucket limits."""

    USER = "user"  # one authenticated user
    TENANT = "tenant"  # every user of one tenant together
    IP = "ip"  # one source address, on routes without a token
    LOGIN_IP = "login-ip"  # login and registration attempts from one address
    LOGIN_NAME = "login-name"  # login and registration attempts for one account name
    DEMO = "demo"  # one demo session (instead of the user and tenant budgets)
    DEMO_CREATION_IP = "demo-creation-ip"  # demo sessions created from one address
    API_KEY = "api-key"  # one API key (instead of the user budget; the tenant's still applies)


@dataclass(frozen=True, slots=True)
class RateLimitRule:
    name: str
    scope: Scope
    requests: int
    window_seconds: int
    plan: str | None = None
    tenant: str | None = None
    route: str | None = None  # a path pattern (policies/path_patterns.py): * one segment, ** any
    method: str | None = None

    @property
    def specificity(self) -> int:
        return sum(matcher is not None for matcher in (self.plan, self.tenant, self.route, self.method))

    def matches(self, *, tenant_id: str | None, path: str, method: str) -> bool:
        """Whether the request-side matchers fit; the plan is checked in Redis, where it lives."""
        return (
            (self.tenant is None or self.tenant == tenant_id)
            and (self.route is None or path_matches(path, self.route))
            and (self.method is None or self.method == method)
        )


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
        if rule.scope == scope and rule.matches(tenant_id=tenant_id, path=path, method=method)
    ]
    # Stable sort: among equally specific rules the earlier one wins, as configured.
    matching.sort(key=lambda rule: -rule.specificity)
    route_rules = [rule for rule in matching if rule.route is not None]
    group = route_rules[0].name if route_rules else "all"
    candidates = [Candidate(rule.plan, rule.requests, rule.window_seconds) for rule in matching]
    candidates.append(Candidate(None, default.requests, default.window_seconds))
    return BucketSpec(scope=scope, subject=subject, group=group, candidates=tuple(candidates))


def parse_rules(text: str | None, variable: str) -> tuple[RateLimitRule, ...]:
    """Rules from a JSON list; every mistake names ``variable`` and the rule's position."""
    if not text:
        return ()
    try:
        document = json.loads(text)
    except ValueError:
        raise ConfigurationError(f"{variable}: not JSON") from None
    if not isinstance(document, list):
        raise ConfigurationError(f"{variable}: must be a JSON list of rules")
    return tuple(_parse_rule(entry, f"{variable}[{position}]") for position, entry in enumerate(document))


def _parse_rule(entry: object, where: str) -> RateLimitRule:
    if not isinstance(entry, dict):
        raise ConfigurationError(f"{where}: a rule must be a JSON object")
    known = {"name", "scope", "requests", "window_seconds", "plan", "tenant", "route", "method"}
    if unknown := set(entry) - known:
        raise ConfigurationError(f"{where}: unknown field(s) {', '.join(sorted(unknown))}")
    try:
        scope = Scope(entry.get("scope", "user"))
    except ValueError:
        raise ConfigurationError(f"{where}: scope must be one of {', '.join(Scope)}") from None
    requests, window = entry.get("requests"), entry.get("window_seconds")
    if not _whole_number(requests) or requests < 1 or not _whole_number(window) or window < 1:
        raise ConfigurationError(f"{where}: requests and window_seconds must be whole numbers above 0")
    name = entry.get("name")
    if not isinstance(name, str) or not name or ":" in name:
        raise ConfigurationError(f"{where}: name must be a non-empty string without ':'")
    optional = {field: entry.get(field) for field in ("plan", "tenant", "route", "method")}
    if any(value is not None and not isinstance(value, str) for value in optional.values()):
        raise ConfigurationError(f"{where}: plan, tenant, route and method must be strings")
    if any(character in (optional["plan"] or "") for character in ",|"):
        raise ConfigurationError(f"{where}: plan must not contain ',' or '|'")
    method = optional["method"]
    return RateLimitRule(
        name=name,
        scope=scope,
        requests=requests,
        window_seconds=window,
        plan=optional["plan"],
        tenant=optional["tenant"],
        route=optional["route"],
        method=method.upper() if method else None,
    )


def _whole_number(value: object) -> TypeGuard[int]:
    # bool is an int in Python: true must not pass for 1.
    return isinstance(value, int) and not isinstance(value, bool)
