"""Logging and metrics shared by every function.

Logs are structured JSON (powertools Logger). Metrics keep the spec's Prometheus names and live in
one registry per process; exporting them (EMF, Pushgateway, ``/metrics``) reads that registry.
"""

from __future__ import annotations

import os
from typing import Final

from aws_lambda_powertools import Logger
from prometheus_client import CollectorRegistry, Counter, Histogram

SERVICE_NAME: Final = "bakery-gateway"

# Never logged, whatever a caller passes in ``extra``.
SECRET_FIELDS: Final = frozenset({"authorization", "token", "cookie", "password", "set-cookie", "x-api-key"})

logger = Logger(service=SERVICE_NAME, level=os.environ.get("LOG_LEVEL", "INFO").upper())

registry = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "gateway_requests_total",
    "Requests answered by the gateway",
    ("method", "path", "status_code"),
    registry=registry,
)
REQUEST_DURATION = Histogram(
    "gateway_request_duration_seconds",
    "Time from request to response, downstream time included",
    ("method", "path"),
    registry=registry,
)
AUTH_ATTEMPTS = Counter(
    "gateway_auth_attempts_total", "Token verifications by outcome", ("status",), registry=registry
)
AUTH_CACHE_HITS = Counter(
    "gateway_auth_cache_hits_total", "Authorizations answered from the claims cache", registry=registry
)
AUTH_CACHE_MISSES = Counter(
    "gateway_auth_cache_misses_total", "Authorizations that had to verify the token", registry=registry
)
REDIS_ERRORS = Counter(
    "gateway_redis_errors_total", "Redis calls that failed or timed out", ("operation",), registry=registry
)
RATE_LIMIT_EXCEEDED = Counter(
    "gateway_rate_limit_exceeded_total", "Requests refused by a rate limit", ("endpoint",), registry=registry
)
POLICY_FALLBACKS = Counter(
    "gateway_policy_fallback_total",
    "Requests whose policies were decided without Redis, by decision",
    ("decision",),
    registry=registry,
)
ALERTS = Counter(
    "gateway_alerts_total",
    "Alerts received by the fanout function, by outcome (accepted, duplicate, refused)",
    ("outcome",),
    registry=registry,
)
NOTIFICATION_FAILURES = Counter(
    "gateway_alert_notification_failures_total",
    "Alerts the notification service could not be told about (the alert itself was stored)",
    registry=registry,
)
WEBSOCKET_DELIVERIES = Counter(
    "gateway_websocket_deliveries_total",
    "Posts to WebSocket connections, by outcome "
    "(delivered, gone, throttled, failed, too_large, not_configured)",
    ("outcome",),
    registry=registry,
)
