"""Rate limits as configured: whose budget a limit applies to, the rules of ``RATE_LIMIT_RULES``,
and each scope's default budget read from its two variables (requests, window).

Values only: which rule applies to a request is decided in ``policies/rules.py``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, TypeGuard

from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings.declarations import Setting

# The name of a scope's default limit (a rule of its own is named in RATE_LIMIT_RULES).
DEFAULT_RULE_NAME: Final = "default"


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
    """A limit of ``requests`` per ``window_seconds`` on a ``scope``'s budget, optionally only for
    a subscription plan, a tenant, a route pattern (policies/path_patterns.py) or a method."""

    name: str
    scope: Scope
    requests: int
    window_seconds: int
    plan: str | None = None
    tenant: str | None = None
    route: str | None = None
    method: str | None = None


@dataclass(frozen=True, slots=True)
class Budget:
    """A scope's default limit, read from its requests and window variables."""

    scope: Scope
    requests: Setting[int]
    window_seconds: Setting[int]

    @property
    def default(self) -> RateLimitRule:
        return RateLimitRule(
            DEFAULT_RULE_NAME, self.scope, self.requests.default, self.window_seconds.default
        )

    @property
    def settings(self) -> tuple[Setting[Any], ...]:
        return (self.requests, self.window_seconds)

    def read(self, environ: Mapping[str, str]) -> RateLimitRule:
        return RateLimitRule(
            DEFAULT_RULE_NAME, self.scope, self.requests.read(environ), self.window_seconds.read(environ)
        )


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
