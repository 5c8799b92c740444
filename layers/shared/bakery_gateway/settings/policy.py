"""The tenant policies' settings (rate limits, subscription, exemptions) and demo mode's
(guard rails, demo backends): docs/policies.md, docs/demo.md."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Final

from bakery_gateway import constants as names
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings.declarations import OneOf, Setting, UrlPerService, Whole, csv, declared, setting
from bakery_gateway.settings.rate_limits import Budget, RateLimitRule, Scope, parse_rules


def _budget(scope: Scope, requests: str, default_requests: int, window: str, default_window: int) -> Budget:
    """``scope``'s default limit from its two variables: at least one request, in at least 1 s."""
    return Budget(
        scope,
        Setting(requests, default_requests, Whole(minimum=1)),
        Setting(window, default_window, Whole(minimum=1)),
    )


# One user's budget; an address's, on routes without a token, is the same two variables.
_USER_BUDGET: Final = _budget(Scope.USER, names.RATE_LIMIT_REQUESTS, 300, names.RATE_LIMIT_WINDOW_SECONDS, 60)
RATE_LIMIT_FALLBACKS: Final = ("memory", "open", "closed")
# Routes a tenant needs to pay and recover: open whatever its subscription or read-only state.
DEFAULT_EXEMPT_PATHS: Final = (
    "/api/v1/auth/**",
    "/api/v1/tenants/*/subscription**",
    "/api/v1/tenants/*/billing**",
)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    user_limit: RateLimitRule = declared(_USER_BUDGET)
    tenant_limit: RateLimitRule = declared(
        _budget(
            Scope.TENANT, names.RATE_LIMIT_TENANT_REQUESTS, 3000, names.RATE_LIMIT_TENANT_WINDOW_SECONDS, 60
        )
    )
    ip_limit: RateLimitRule = declared(replace(_USER_BUDGET, scope=Scope.IP))
    login_ip_limit: RateLimitRule = declared(
        _budget(
            Scope.LOGIN_IP,
            names.LOGIN_RATE_LIMIT_IP_REQUESTS,
            20,
            names.LOGIN_RATE_LIMIT_IP_WINDOW_SECONDS,
            60,
        )
    )
    login_name_limit: RateLimitRule = declared(
        _budget(
            Scope.LOGIN_NAME,
            names.LOGIN_RATE_LIMIT_NAME_REQUESTS,
            5,
            names.LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS,
            300,
        )
    )
    demo_limit: RateLimitRule = declared(
        _budget(Scope.DEMO, names.DEMO_RATE_LIMIT_REQUESTS, 120, names.DEMO_RATE_LIMIT_WINDOW_SECONDS, 60)
    )
    demo_creation_ip_limit: RateLimitRule = declared(
        _budget(
            Scope.DEMO_CREATION_IP,
            names.DEMO_SESSION_RATE_LIMIT_IP_REQUESTS,
            10,
            names.DEMO_SESSION_RATE_LIMIT_IP_WINDOW_SECONDS,
            3600,
        )
    )
    api_key_limit: RateLimitRule = declared(
        _budget(
            Scope.API_KEY, names.API_KEY_RATE_LIMIT_REQUESTS, 600, names.API_KEY_RATE_LIMIT_WINDOW_SECONDS, 60
        )
    )
    rules: tuple[RateLimitRule, ...] = setting(names.RATE_LIMIT_RULES, default=(), parse=parse_rules)
    rate_limit_when_redis_down: str = setting(
        names.RATE_LIMIT_WHEN_REDIS_DOWN, default="memory", parse=OneOf(RATE_LIMIT_FALLBACKS)
    )
    stale_seconds: int = setting(names.POLICY_STALE_SECONDS, default=60, parse=Whole(minimum=0, maximum=3600))
    exempt_paths: tuple[str, ...] = setting(
        names.POLICY_EXEMPT_PATHS, default=DEFAULT_EXEMPT_PATHS, parse=csv
    )
    subscription_cache_seconds: int = setting(
        names.SUBSCRIPTION_CACHE_SECONDS, default=300, parse=Whole(minimum=1)
    )

    def default_for(self, scope: Scope) -> RateLimitRule:
        return {
            Scope.USER: self.user_limit,
            Scope.TENANT: self.tenant_limit,
            Scope.IP: self.ip_limit,
            Scope.LOGIN_IP: self.login_ip_limit,
            Scope.LOGIN_NAME: self.login_name_limit,
            Scope.DEMO: self.demo_limit,
            Scope.DEMO_CREATION_IP: self.demo_creation_ip_limit,
            Scope.API_KEY: self.api_key_limit,
        }[scope]


@dataclass(frozen=True, slots=True)
class BlockedOperation:
    """Requests a demo session may not make: these methods ("*": every one) on paths matching
    ``pattern`` (policies/path_patterns.py)."""

    methods: frozenset[str]
    pattern: str


def parse_blocked_operations(entries: tuple[str, ...], variable: str) -> tuple[BlockedOperation, ...]:
    """ "METHODS /path/pattern" entries; a malformed one names ``variable`` and its position."""
    operations = []
    for position, entry in enumerate(entries):
        methods, _, pattern = entry.strip().partition(" ")
        if not pattern.strip().startswith("/") or not methods:
            raise ConfigurationError(f"{variable}[{position}]: {entry!r} is not 'METHODS /path/pattern'")
        operations.append(
            BlockedOperation(
                frozenset(method.strip().upper() for method in methods.split(",")), pattern.strip()
            )
        )
    return tuple(operations)


def _blocked_operations(text: str, variable: str) -> tuple[BlockedOperation, ...]:
    # The entries hold commas themselves: they are separated by ";" or new lines.
    entries = tuple(part.strip() for part in text.replace("\n", ";").split(";") if part.strip())
    return parse_blocked_operations(entries, variable)


# What a demo must not do: billing and subscription changes, deleting the tenant, inviting users,
# sending email or WhatsApp.
DEFAULT_DEMO_BLOCKED_OPERATIONS: Final = (
    "POST,PUT,PATCH,DELETE /api/v1/tenants/*/subscription**",
    "POST,PUT,PATCH,DELETE /api/v1/tenants/*/billing**",
    "DELETE /api/v1/tenants/*",
    "POST /api/v1/tenants/*/invitations**",
    "POST /api/v1/tenants/*/members**",
    "POST /api/v1/notifications**",
    "POST /api/v1/tenants/*/notifications**",
)


@dataclass(frozen=True, slots=True)
class DemoSettings:
    blocked_operations: tuple[BlockedOperation, ...] = setting(
        names.DEMO_BLOCKED_OPERATIONS,
        default=parse_blocked_operations(DEFAULT_DEMO_BLOCKED_OPERATIONS, names.DEMO_BLOCKED_OPERATIONS),
        parse=_blocked_operations,
    )
    # Isolated demo backends by service (DEMO_{SERVICE}_SERVICE_URL), used for demo users' traffic;
    # the demo-session service has none.
    service_urls: Mapping[str, str] = declared(
        UrlPerService(
            names.demo_service_url_variable,
            tuple(service for service in names.SERVICES if service != names.DEMO_SERVICE),
        )
    )
