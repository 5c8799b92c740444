"""Logging and metrics shared by every function.

Logs are structured JSON (powertools Logger). Metrics keep the spec's Prometheus names and live in
one registry per process; exporting them (EMF, Pushgateway, ``/metrics``) reads that registry.
"""

from __future__ import annotations

import logging
import os
from typing import Final

from aws_lambda_powertools import Logger
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics

from bakery_gateway.settings import LOG_LEVEL_SETTING
from bakery_gateway.telemetry.log_format import GatewayLogFormatter

SERVICE_NAME: Final = "bakery-gateway"

# Never logged, whatever a caller passes in ``extra``.
SECRET_FIELDS: Final = frozenset({"authorization", "token", "cookie", "password", "set-cookie", "x-api-key"})

# powertools' formatter, rendering the per-request record without its per-record machinery (log_format).
logger = Logger(
    service=SERVICE_NAME, level=LOG_LEVEL_SETTING.read(os.environ), logger_formatter=GatewayLogFormatter()
)


class _DropSecrets(logging.Filter):
    """Removes every ``SECRET_FIELDS`` key a caller passed in ``extra`` before the record is written."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name in SECRET_FIELDS.intersection(record.__dict__):
            delattr(record, name)
        return True


logger.addFilter(_DropSecrets())

# httpx logs every request's full URL at INFO (a query's token or API key with it) and httpcore every
# header value at DEBUG: whatever level the function runs at, their lines never carry a request.
for _chatty in ("httpx", "httpcore"):
    logging.getLogger(_chatty).setLevel(logging.WARNING)

# No *_created series: Prometheus does not need them, and they would double what is pushed and served.
disable_created_metrics()  # type: ignore[no-untyped-call]
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
    "(delivered, gone, throttled, failed, too_large, not_configured, closed)",
    ("outcome",),
    registry=registry,
)
SERVICE_HEALTH = Gauge(
    "gateway_service_health",
    "1 on a service's current health status",
    ("service_name", "status"),
    registry=registry,
)

# Request and response bodies: 100 B to 10 MB (HTTP API's payload limit).
SIZE_BUCKETS: Final = (100.0, 1_000.0, 10_000.0, 100_000.0, 1_000_000.0, 10_000_000.0)
REQUEST_SIZE = Histogram(
    "gateway_request_size_bytes",
    "Request body sizes",
    ("method", "path"),
    buckets=SIZE_BUCKETS,
    registry=registry,
)
RESPONSE_SIZE = Histogram(
    "gateway_response_size_bytes",
    "Response body sizes",
    ("method", "path"),
    buckets=SIZE_BUCKETS,
    registry=registry,
)
CIRCUIT_STATE = Gauge(
    "gateway_circuit_state",
    "A service's circuit as this container last saw it: 0 closed, 1 half-open, 2 open",
    ("service",),
    registry=registry,
)
DOWNSTREAM_RETRIES = Counter(
    "gateway_downstream_retries_total",
    "Connection failures of idempotent requests, by outcome (retried, budget_exhausted)",
    ("service", "outcome"),
    registry=registry,
)
DOWNSTREAM_DURATION = Histogram(
    "gateway_downstream_duration_seconds",
    "Time a downstream service took to answer, by service (failed calls included)",
    ("service",),
    registry=registry,
)
