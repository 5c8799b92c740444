"""The gateway's settings: read from the environment once, at cold start, into one typed object.

Each setting is declared once, on its field: the variable, the default, the parser and its limits
(``declarations.py``); one reader walks the fields. A missing or malformed value raises
``ConfigurationError`` naming the variable, so a bad deploy fails on its first invocation with a
readable message instead of misbehaving later.

This package imports nothing of the gateway above it (only ``constants``, ``errors`` and the
platform's quotas): the values settings hold (rate-limit rules, blocked operations) are declared
here; what they mean for a request is decided where they are used (``policies/``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from bakery_gateway import constants as names
from bakery_gateway.api.platform_limits import DEFAULT_MAX_REQUEST_BYTES, MAX_REQUEST_BYTES_CEILING
from bakery_gateway.settings.declarations import (
    Number,
    OneOf,
    Setting,
    UrlPerService,
    Whole,
    declarations,
    declared,
    group,
    read_settings,
    setting,
    text,
)
from bakery_gateway.settings.groups import (
    DEFAULT_GEOCODING_USER_AGENT,
    DEFAULT_METRICS_NAMESPACE,
    DEFAULT_NOMINATIM_URL,
    LOG_LEVEL_SETTING,
    MIN_LOG_KEY_LENGTH,
    AlertSettings,
    ApiDocsSettings,
    GeocodingSettings,
    HealthSettings,
    JwtSettings,
    ObservabilitySettings,
    RedisSettings,
    WebSocketSettings,
)
from bakery_gateway.settings.policy import (
    DEFAULT_DEMO_BLOCKED_OPERATIONS,
    BlockedOperation,
    DemoSettings,
    PolicySettings,
    parse_blocked_operations,
)
from bakery_gateway.settings.rate_limits import RateLimitRule, Scope, parse_rules
from bakery_gateway.settings.server import ServerSettings

__all__ = [
    "DEFAULT_DEMO_BLOCKED_OPERATIONS",
    "DEFAULT_GEOCODING_USER_AGENT",
    "DEFAULT_METRICS_NAMESPACE",
    "DEFAULT_NOMINATIM_URL",
    "DOWNSTREAM_HTTP_TRANSPORTS",
    "LOG_LEVEL_SETTING",
    "MIN_LOG_KEY_LENGTH",
    "AlertSettings",
    "ApiDocsSettings",
    "BlockedOperation",
    "DemoSettings",
    "GeocodingSettings",
    "HealthSettings",
    "JwtSettings",
    "ObservabilitySettings",
    "PolicySettings",
    "RateLimitRule",
    "RedisSettings",
    "Scope",
    "ServerSettings",
    "Settings",
    "WebSocketSettings",
    "every_setting",
    "get_settings",
    "parse_blocked_operations",
    "parse_rules",
    "read_settings",
]

DOWNSTREAM_HTTP_TRANSPORTS: Final = ("aiohttp", "httpx")


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str = setting(names.ENVIRONMENT, default="dev", parse=text)
    service_urls: Mapping[str, str] = declared(UrlPerService(names.service_url_variable, names.SERVICES))
    redis: RedisSettings = group(RedisSettings)
    jwt: JwtSettings = group(JwtSettings)
    # The largest body whose event always fits in a Lambda invocation (platform_limits, docs/limits.md).
    max_request_bytes: int = setting(
        names.MAX_REQUEST_BYTES,
        default=DEFAULT_MAX_REQUEST_BYTES,
        parse=Whole(minimum=1, maximum=MAX_REQUEST_BYTES_CEILING),
    )
    downstream_connect_timeout_seconds: float = setting(
        names.DOWNSTREAM_CONNECT_TIMEOUT_SECONDS, default=2.0, parse=Number(minimum=0.01)
    )
    downstream_read_timeout_seconds: float = setting(
        names.DOWNSTREAM_READ_TIMEOUT_SECONDS, default=25.0, parse=Number(minimum=0.01, maximum=29.0)
    )
    downstream_max_connections: int = setting(
        names.DOWNSTREAM_MAX_CONNECTIONS, default=100, parse=Whole(minimum=1)
    )
    # The client's transport under httpx's API (clients.http_client_factory).
    downstream_http_transport: str = setting(
        names.DOWNSTREAM_HTTP_TRANSPORT, default="aiohttp", parse=OneOf(DOWNSTREAM_HTTP_TRANSPORTS)
    )
    # Consecutive failures that open a service's circuit (0: no breaker), and how long it stays open.
    circuit_failure_threshold: int = setting(
        names.CIRCUIT_FAILURE_THRESHOLD, default=5, parse=Whole(minimum=0, maximum=1000)
    )
    circuit_open_seconds: float = setting(
        names.CIRCUIT_OPEN_SECONDS, default=30.0, parse=Number(minimum=0.1, maximum=3600.0)
    )
    policy: PolicySettings = group(PolicySettings)
    alerts: AlertSettings = group(AlertSettings)
    websocket: WebSocketSettings = group(WebSocketSettings)
    health: HealthSettings = group(HealthSettings)
    api_docs: ApiDocsSettings = group(ApiDocsSettings)
    geocoding: GeocodingSettings = group(GeocodingSettings)
    observability: ObservabilitySettings = group(ObservabilitySettings)
    demo: DemoSettings = group(DemoSettings)

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``environ`` (default ``os.environ``)."""
        return read_settings(cls, os.environ if environ is None else environ)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The container's settings, read on first use (cold start) and kept."""
    return Settings.from_environ()


def every_setting() -> tuple[Setting[Any], ...]:
    """Every variable the gateway reads as a setting: ``Settings``', ``ServerSettings``' and the
    logger's level."""
    return (*declarations(Settings), *declarations(ServerSettings), LOG_LEVEL_SETTING)
