"""The groups of ``Settings`` besides the policies': Redis, tokens, alerts, WebSocket delivery,
geocoding, health, API docs and observability. Each field declares its variable, default and limits."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from bakery_gateway import constants as names
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.settings.declarations import (
    Number,
    OneOf,
    Setting,
    Text,
    Whole,
    boolean,
    setting,
    text,
    url,
)


@dataclass(frozen=True, slots=True)
class RedisSettings:
    host: str | None = setting(names.REDIS_HOST, default=None, parse=text)
    port: int = setting(names.REDIS_PORT, default=6379, parse=Whole(minimum=1, maximum=65535))
    db: int = setting(names.REDIS_DB, default=0, parse=Whole(minimum=0, maximum=15))
    password: str | None = setting(names.REDIS_PASSWORD, default=None, parse=text)
    # The secret holding the token, read when the first client is made (bakery_gateway.clients.redis_auth).
    password_secret_id: str | None = setting(names.REDIS_PASSWORD_SECRET_ID, default=None, parse=text)
    tls: bool = setting(names.REDIS_TLS, default=False, parse=boolean)
    timeout_seconds: float = setting(names.REDIS_TIMEOUT_SECONDS, default=0.5, parse=Number(minimum=0.01))

    def validate(self) -> None:
        if self.password and self.password_secret_id:
            raise ConfigurationError(
                f"{names.REDIS_PASSWORD} and {names.REDIS_PASSWORD_SECRET_ID}: set one (the secret, on AWS)"
            )


# Asymmetric algorithms only: "none" and HMAC would let anyone holding the public key sign tokens.
ALLOWED_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)


def _algorithms(value: str, variable: str) -> tuple[str, ...] | None:
    algorithms = tuple(part.strip() for part in value.split(",") if part.strip())
    refused = [name for name in algorithms if name not in ALLOWED_ALGORITHMS]
    if refused:
        raise ConfigurationError(
            f"{variable}: {', '.join(refused)} not allowed; "
            f"use asymmetric algorithms only ({', '.join(sorted(ALLOWED_ALGORITHMS))})"
        )
    return algorithms or None


@dataclass(frozen=True, slots=True)
class JwtSettings:
    public_key: str | None = setting(names.JWT_PUBLIC_KEY, default=None, parse=text)
    public_keys: str | None = setting(names.JWT_PUBLIC_KEYS, default=None, parse=text)
    ssm_parameter: str | None = setting(names.JWT_PUBLIC_KEYS_SSM_PARAMETER, default=None, parse=text)
    secret_id: str | None = setting(names.JWT_PUBLIC_KEYS_SECRET_ID, default=None, parse=text)
    algorithms: tuple[str, ...] = setting(names.JWT_ALGORITHM, default=("RS256",), parse=_algorithms)
    issuer: str | None = setting(names.JWT_ISSUER, default=None, parse=text)
    audience: str | None = setting(names.JWT_AUDIENCE, default=None, parse=text)
    leeway_seconds: int = setting(names.JWT_LEEWAY_SECONDS, default=30, parse=Whole(minimum=0, maximum=300))


@dataclass(frozen=True, slots=True)
class AlertSettings:
    # Entries kept per tenant stream: how far back a reconnecting client can resume.
    stream_max_length: int = setting(
        names.ALERT_STREAM_MAX_LENGTH, default=1000, parse=Whole(minimum=1, maximum=1_000_000)
    )
    # Behind API Gateway (no response streaming) an SSE request waits this long for alerts, then
    # answers; well under the 30 s integration timeout.
    sse_wait_seconds: float = setting(
        names.SSE_WAIT_SECONDS, default=20.0, parse=Number(minimum=0.1, maximum=28.0)
    )
    # The ``retry:`` hint: how soon EventSource reconnects (with Last-Event-ID) after an answer.
    sse_retry_milliseconds: int = setting(
        names.SSE_RETRY_MILLISECONDS, default=1000, parse=Whole(minimum=0, maximum=60_000)
    )
    # The local runtime's continuous stream sends a comment this often to keep connections open.
    sse_heartbeat_seconds: float = setting(
        names.SSE_HEARTBEAT_SECONDS, default=15.0, parse=Number(minimum=1, maximum=300)
    )


@dataclass(frozen=True, slots=True)
class WebSocketSettings:
    # The @connections endpoint of the WebSocket API; None: delivery is skipped (logged, counted).
    management_url: str | None = setting(names.WEBSOCKET_MANAGEMENT_URL, default=None, parse=url)
    # Posts in flight at once when one payload goes to every connection of a topic.
    post_concurrency: int = setting(
        names.WEBSOCKET_POST_CONCURRENCY, default=64, parse=Whole(minimum=1, maximum=256)
    )


DEFAULT_NOMINATIM_URL: Final = "https://nominatim.openstreetmap.org"
# Nominatim's usage policy asks for an agent that identifies the application and a contact.
DEFAULT_GEOCODING_USER_AGENT: Final = "bakery-ia-gateway/1.0 (+https://bakery-ia.com; platform@bakery-ia.com)"


@dataclass(frozen=True, slots=True)
class GeocodingSettings:
    nominatim_url: str = setting(names.NOMINATIM_URL, default=DEFAULT_NOMINATIM_URL, parse=url)
    user_agent: str = setting(names.GEOCODING_USER_AGENT, default=DEFAULT_GEOCODING_USER_AGENT, parse=text)
    # How long an answer is kept in Redis: repeated lookups never reach Nominatim.
    cache_seconds: int = setting(names.GEOCODING_CACHE_SECONDS, default=24 * 60 * 60, parse=Whole(minimum=1))
    # The whole exchange with Nominatim (connect, send, read), not each read.
    timeout_seconds: float = setting(
        names.GEOCODING_TIMEOUT_SECONDS, default=5.0, parse=Number(minimum=0.01, maximum=20.0)
    )


@dataclass(frozen=True, slots=True)
class HealthSettings:
    # Each service's GET {base}/health, the whole exchange (docs/health.md).
    check_timeout_seconds: float = setting(
        names.HEALTH_CHECK_TIMEOUT_SECONDS, default=2.0, parse=Number(minimum=0.01, maximum=10.0)
    )
    # How long the aggregate is shared through Redis: a storm makes one round of calls.
    cache_seconds: int = setting(names.HEALTH_CACHE_SECONDS, default=30, parse=Whole(minimum=1, maximum=3600))


@dataclass(frozen=True, slots=True)
class ApiDocsSettings:
    # How long the aggregated OpenAPI document is kept in Redis (docs/api-docs.md).
    cache_seconds: int = setting(
        names.API_DOCS_CACHE_SECONDS, default=300, parse=Whole(minimum=1, maximum=86400)
    )
    # Each service's GET {base}/openapi.json, the whole exchange.
    timeout_seconds: float = setting(
        names.API_DOCS_TIMEOUT_SECONDS, default=3.0, parse=Number(minimum=0.01, maximum=10.0)
    )


# The logger's level, read when the logger is made (telemetry/observability.py, at import: before
# any settings object exists), not a field of ``Settings``.
LOG_LEVEL_SETTING: Final = Setting(names.LOG_LEVEL, "INFO", OneOf(("DEBUG", "INFO", "WARNING", "ERROR")))
DEFAULT_METRICS_NAMESPACE: Final = "BakeryIA/Gateway"
USER_ID_LOG_MODES: Final = ("plain", "pseudonymized")
MIN_LOG_KEY_LENGTH: Final = 16


@dataclass(frozen=True, slots=True)
class ObservabilitySettings:
    """Metrics export and what the logs may say (docs/observability.md)."""

    metrics_namespace: str = setting(
        names.POWERTOOLS_METRICS_NAMESPACE, default=DEFAULT_METRICS_NAMESPACE, parse=text
    )
    pushgateway_url: str | None = setting(names.PUSHGATEWAY_URL, default=None, parse=url)
    pushgateway_interval_seconds: float = setting(
        names.PUSHGATEWAY_INTERVAL_SECONDS, default=15.0, parse=Number(minimum=1.0, maximum=3600.0)
    )
    # "pseudonymized": user ids in logs are HMAC-SHA256(user_id_log_key, id), never the ids themselves.
    user_id_log_mode: str = setting(names.USER_ID_LOG_MODE, default="plain", parse=OneOf(USER_ID_LOG_MODES))
    user_id_log_key: str | None = setting(
        names.USER_ID_LOG_KEY, default=None, parse=Text(minimum_length=MIN_LOG_KEY_LENGTH), repr=False
    )
    # On AWS the key lives in Secrets Manager (read at cold start); USER_ID_LOG_KEY is for local runs.
    user_id_log_key_secret_id: str | None = setting(names.USER_ID_LOG_KEY_SECRET_ID, default=None, parse=text)

    def validate(self) -> None:
        key, secret_id = self.user_id_log_key, self.user_id_log_key_secret_id
        if key is not None and secret_id is not None:
            raise ConfigurationError(
                f"{names.USER_ID_LOG_KEY}: set it or {names.USER_ID_LOG_KEY_SECRET_ID}, not both"
            )
        if self.user_id_log_mode == "pseudonymized" and key is None and secret_id is None:
            raise ConfigurationError(
                f"{names.USER_ID_LOG_KEY}: a key (or {names.USER_ID_LOG_KEY_SECRET_ID}, the secret "
                f"holding it) is required when {names.USER_ID_LOG_MODE} is pseudonymized"
            )
