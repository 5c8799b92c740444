"""The gateway's settings: read from the environment once, at cold start, into one typed object.

A missing or malformed value raises ``ConfigurationError`` naming the variable, so a bad deploy
fails on its first invocation with a readable message instead of misbehaving later.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from bakery_gateway import constants as names
from bakery_gateway.edge.platform_limits import DEFAULT_MAX_REQUEST_BYTES, MAX_REQUEST_BYTES_CEILING
from bakery_gateway.environment import EnvironmentReader
from bakery_gateway.errors import ConfigurationError
from bakery_gateway.policies.rules import RateLimitRule, Scope, parse_rules

# Asymmetric algorithms only: "none" and HMAC would let anyone holding the public key sign tokens.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
)


@dataclass(frozen=True, slots=True)
class RedisSettings:
    host: str | None
    port: int = 6379
    db: int = 0
    password: str | None = None
    # The secret holding the token, read when the first client is made (bakery_gateway.clients.redis_auth).
    password_secret_id: str | None = None
    tls: bool = False
    timeout_seconds: float = 0.5


@dataclass(frozen=True, slots=True)
class JwtSettings:
    public_key: str | None = None
    public_keys: str | None = None
    ssm_parameter: str | None = None
    secret_id: str | None = None
    algorithms: tuple[str, ...] = ("RS256",)
    issuer: str | None = None
    audience: str | None = None
    leeway_seconds: int = 30


RATE_LIMIT_FALLBACKS = ("memory", "open", "closed")
DOWNSTREAM_HTTP_TRANSPORTS = ("aiohttp", "httpx")
# Routes a tenant needs to pay and recover: open whatever its subscription or read-only state.
DEFAULT_EXEMPT_PATHS = (
    "/api/v1/auth/**",
    "/api/v1/tenants/*/subscription**",
    "/api/v1/tenants/*/billing**",
)


DEFAULT_USER_LIMIT = RateLimitRule("default", Scope.USER, 300, 60)
DEFAULT_TENANT_LIMIT = RateLimitRule("default", Scope.TENANT, 3000, 60)
DEFAULT_IP_LIMIT = RateLimitRule("default", Scope.IP, 300, 60)
DEFAULT_LOGIN_IP_LIMIT = RateLimitRule("default", Scope.LOGIN_IP, 20, 60)
DEFAULT_LOGIN_NAME_LIMIT = RateLimitRule("default", Scope.LOGIN_NAME, 5, 300)
DEFAULT_DEMO_LIMIT = RateLimitRule("default", Scope.DEMO, 120, 60)
DEFAULT_DEMO_CREATION_IP_LIMIT = RateLimitRule("default", Scope.DEMO_CREATION_IP, 10, 3600)
DEFAULT_API_KEY_LIMIT = RateLimitRule("default", Scope.API_KEY, 600, 60)


@dataclass(frozen=True, slots=True)
class PolicySettings:
    user_limit: RateLimitRule = DEFAULT_USER_LIMIT
    tenant_limit: RateLimitRule = DEFAULT_TENANT_LIMIT
    ip_limit: RateLimitRule = DEFAULT_IP_LIMIT
    login_ip_limit: RateLimitRule = DEFAULT_LOGIN_IP_LIMIT
    login_name_limit: RateLimitRule = DEFAULT_LOGIN_NAME_LIMIT
    demo_limit: RateLimitRule = DEFAULT_DEMO_LIMIT
    demo_creation_ip_limit: RateLimitRule = DEFAULT_DEMO_CREATION_IP_LIMIT
    api_key_limit: RateLimitRule = DEFAULT_API_KEY_LIMIT
    rules: tuple[RateLimitRule, ...] = ()
    rate_limit_when_redis_down: str = "memory"
    stale_seconds: int = 60
    exempt_paths: tuple[str, ...] = DEFAULT_EXEMPT_PATHS
    subscription_cache_seconds: int = 300

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


# What a demo must not do: billing and subscription changes, deleting the tenant, inviting users,
# sending email or WhatsApp. "METHODS PATTERN" entries; patterns per policies/path_patterns.py.
DEFAULT_DEMO_BLOCKED_OPERATIONS = (
    "POST,PUT,PATCH,DELETE /api/v1/tenants/*/subscription**",
    "POST,PUT,PATCH,DELETE /api/v1/tenants/*/billing**",
    "DELETE /api/v1/tenants/*",
    "POST /api/v1/tenants/*/invitations**",
    "POST /api/v1/tenants/*/members**",
    "POST /api/v1/notifications**",
    "POST /api/v1/tenants/*/notifications**",
)


@dataclass(frozen=True, slots=True)
class BlockedOperation:
    methods: frozenset[str]  # "*" for every method
    pattern: str

    def matches(self, method: str, path: str) -> bool:
        from bakery_gateway.policies.path_patterns import path_matches

        return ("*" in self.methods or method in self.methods) and path_matches(path, self.pattern)


@dataclass(frozen=True, slots=True)
class DemoSettings:
    blocked_operations: tuple[BlockedOperation, ...] = ()
    # Isolated demo backends by service (DEMO_{SERVICE}_SERVICE_URL), used for demo users' traffic.
    service_urls: Mapping[str, str] = field(default_factory=dict)


def parse_blocked_operations(entries: tuple[str, ...], variable: str) -> tuple[BlockedOperation, ...]:
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


@dataclass(frozen=True, slots=True)
class AlertSettings:
    # Entries kept per tenant stream: how far back a reconnecting client can resume.
    stream_max_length: int = 1000
    # Behind API Gateway (no response streaming) an SSE request waits this long for alerts, then
    # answers; well under the 30 s integration timeout.
    sse_wait_seconds: float = 20.0
    # The ``retry:`` hint: how soon EventSource reconnects (with Last-Event-ID) after an answer.
    sse_retry_milliseconds: int = 1000
    # The local runtime's continuous stream sends a comment this often to keep connections open.
    sse_heartbeat_seconds: float = 15.0


@dataclass(frozen=True, slots=True)
class WebSocketSettings:
    # The @connections endpoint of the WebSocket API; None: delivery is skipped (logged, counted).
    management_url: str | None = None
    # Posts in flight at once when one payload goes to every connection of a topic.
    post_concurrency: int = 64


DEFAULT_NOMINATIM_URL = "https://nominatim.openstreetmap.org"
# Nominatim's usage policy asks for an agent that identifies the application and a contact.
DEFAULT_GEOCODING_USER_AGENT = "bakery-ia-gateway/1.0 (+https://bakery-ia.com; platform@bakery-ia.com)"


@dataclass(frozen=True, slots=True)
class GeocodingSettings:
    nominatim_url: str = DEFAULT_NOMINATIM_URL
    user_agent: str = DEFAULT_GEOCODING_USER_AGENT
    # How long an answer is kept in Redis: repeated lookups never reach Nominatim.
    cache_seconds: int = 24 * 60 * 60
    # The whole exchange with Nominatim (connect, send, read), not each read.
    timeout_seconds: float = 5.0


@dataclass(frozen=True, slots=True)
class HealthSettings:
    # Each service's GET {base}/health, the whole exchange (docs/health.md).
    check_timeout_seconds: float = 2.0
    # How long the aggregate is shared through Redis: a storm makes one round of calls.
    cache_seconds: int = 30


@dataclass(frozen=True, slots=True)
class ApiDocsSettings:
    # How long the aggregated OpenAPI document is kept in Redis (docs/api-docs.md).
    cache_seconds: int = 300
    # Each service's GET {base}/openapi.json, the whole exchange.
    timeout_seconds: float = 3.0


USER_ID_LOG_MODES = ("plain", "pseudonymized")
MIN_LOG_KEY_LENGTH = 16


@dataclass(frozen=True, slots=True)
class ObservabilitySettings:
    """Metrics export and what the logs may say (docs/observability.md)."""

    metrics_namespace: str = "BakeryIA/Gateway"
    pushgateway_url: str | None = None
    pushgateway_interval_seconds: float = 15.0
    # "pseudonymized": user ids in logs are HMAC-SHA256(user_id_log_key, id), never the ids themselves.
    user_id_log_mode: str = "plain"
    user_id_log_key: str | None = field(default=None, repr=False)
    # On AWS the key lives in Secrets Manager (read at cold start); USER_ID_LOG_KEY is for local runs.
    user_id_log_key_secret_id: str | None = None


def _observability_settings(reader: EnvironmentReader) -> ObservabilitySettings:
    mode = reader.choice(names.USER_ID_LOG_MODE, tuple(m.upper() for m in USER_ID_LOG_MODES), "PLAIN").lower()
    key = reader.text(names.USER_ID_LOG_KEY)
    key_secret_id = reader.text(names.USER_ID_LOG_KEY_SECRET_ID)
    if key is not None and key_secret_id is not None:
        raise ConfigurationError(
            f"{names.USER_ID_LOG_KEY}: set it or {names.USER_ID_LOG_KEY_SECRET_ID}, not both"
        )
    if key is not None and len(key) < MIN_LOG_KEY_LENGTH:
        raise ConfigurationError(f"{names.USER_ID_LOG_KEY}: at least {MIN_LOG_KEY_LENGTH} characters")
    if mode == "pseudonymized" and key is None and key_secret_id is None:
        raise ConfigurationError(
            f"{names.USER_ID_LOG_KEY}: a key (or {names.USER_ID_LOG_KEY_SECRET_ID}, the secret holding "
            f"it) is required when {names.USER_ID_LOG_MODE} is pseudonymized"
        )
    return ObservabilitySettings(
        metrics_namespace=reader.text(names.POWERTOOLS_METRICS_NAMESPACE) or "BakeryIA/Gateway",
        pushgateway_url=reader.url(names.PUSHGATEWAY_URL),
        pushgateway_interval_seconds=reader.number(
            names.PUSHGATEWAY_INTERVAL_SECONDS, 15.0, minimum=1.0, maximum=3600.0
        ),
        user_id_log_mode=mode,
        user_id_log_key=key,
        user_id_log_key_secret_id=key_secret_id,
    )


@dataclass(frozen=True, slots=True)
class Settings:
    environment: str = "dev"
    log_level: str = "INFO"
    service_urls: Mapping[str, str] = field(default_factory=dict)
    redis: RedisSettings = field(default_factory=lambda: RedisSettings(host=None))
    jwt: JwtSettings = field(default_factory=JwtSettings)
    rate_limit_requests: int = 300
    rate_limit_window_seconds: int = 60
    cors_origins: tuple[str, ...] = ()
    cors_allow_credentials: bool = True
    # The largest body whose event always fits in a Lambda invocation (platform_limits, docs/limits.md).
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
    downstream_connect_timeout_seconds: float = 2.0
    downstream_read_timeout_seconds: float = 25.0
    downstream_max_connections: int = 100
    # The client's transport under httpx's API (clients.http_client_factory).
    downstream_http_transport: str = "aiohttp"
    # Consecutive failures that open a service's circuit (0: no breaker), and how long it stays open.
    circuit_failure_threshold: int = 5
    circuit_open_seconds: float = 30.0
    policy: PolicySettings = field(default_factory=PolicySettings)
    alerts: AlertSettings = field(default_factory=AlertSettings)
    websocket: WebSocketSettings = field(default_factory=WebSocketSettings)
    health: HealthSettings = field(default_factory=HealthSettings)
    api_docs: ApiDocsSettings = field(default_factory=ApiDocsSettings)
    geocoding: GeocodingSettings = field(default_factory=GeocodingSettings)
    observability: ObservabilitySettings = field(default_factory=ObservabilitySettings)
    demo: DemoSettings = field(
        default_factory=lambda: DemoSettings(
            parse_blocked_operations(DEFAULT_DEMO_BLOCKED_OPERATIONS, names.DEMO_BLOCKED_OPERATIONS)
        )
    )

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Read every setting from ``environ`` (default ``os.environ``)."""
        reader = EnvironmentReader(os.environ if environ is None else environ)
        algorithms = reader.csv(names.JWT_ALGORITHM) or ("RS256",)
        refused = [name for name in algorithms if name not in ALLOWED_ALGORITHMS]
        if refused:
            raise ConfigurationError(
                f"{names.JWT_ALGORITHM}: {', '.join(refused)} not allowed; "
                f"use asymmetric algorithms only ({', '.join(sorted(ALLOWED_ALGORITHMS))})"
            )
        service_urls = {}
        for service in names.SERVICES:
            url = reader.url(names.service_url_variable(service))
            if url:
                service_urls[service] = url
        return cls(
            environment=reader.text(names.ENVIRONMENT) or "dev",
            log_level=reader.choice(names.LOG_LEVEL, ("DEBUG", "INFO", "WARNING", "ERROR"), "INFO"),
            service_urls=service_urls,
            redis=_redis_settings(reader),
            jwt=JwtSettings(
                public_key=reader.text(names.JWT_PUBLIC_KEY),
                public_keys=reader.text(names.JWT_PUBLIC_KEYS),
                ssm_parameter=reader.text(names.JWT_PUBLIC_KEYS_SSM_PARAMETER),
                secret_id=reader.text(names.JWT_PUBLIC_KEYS_SECRET_ID),
                algorithms=algorithms,
                issuer=reader.text(names.JWT_ISSUER),
                audience=reader.text(names.JWT_AUDIENCE),
                leeway_seconds=reader.integer(names.JWT_LEEWAY_SECONDS, 30, minimum=0, maximum=300),
            ),
            rate_limit_requests=reader.integer(names.RATE_LIMIT_REQUESTS, 300, minimum=1),
            rate_limit_window_seconds=reader.integer(names.RATE_LIMIT_WINDOW_SECONDS, 60, minimum=1),
            cors_origins=reader.csv(names.CORS_ORIGINS),
            cors_allow_credentials=reader.boolean(names.CORS_ALLOW_CREDENTIALS, True),
            max_request_bytes=reader.integer(
                names.MAX_REQUEST_BYTES,
                DEFAULT_MAX_REQUEST_BYTES,
                minimum=1,
                maximum=MAX_REQUEST_BYTES_CEILING,
            ),
            downstream_connect_timeout_seconds=reader.number(
                names.DOWNSTREAM_CONNECT_TIMEOUT_SECONDS, 2.0, minimum=0.01
            ),
            downstream_read_timeout_seconds=reader.number(
                names.DOWNSTREAM_READ_TIMEOUT_SECONDS, 25.0, minimum=0.01, maximum=29.0
            ),
            downstream_max_connections=reader.integer(names.DOWNSTREAM_MAX_CONNECTIONS, 100, minimum=1),
            downstream_http_transport=reader.choice(
                names.DOWNSTREAM_HTTP_TRANSPORT,
                tuple(t.upper() for t in DOWNSTREAM_HTTP_TRANSPORTS),
                "AIOHTTP",
            ).lower(),
            circuit_failure_threshold=reader.integer(
                names.CIRCUIT_FAILURE_THRESHOLD, 5, minimum=0, maximum=1000
            ),
            circuit_open_seconds=reader.number(names.CIRCUIT_OPEN_SECONDS, 30.0, minimum=0.1, maximum=3600.0),
            policy=_policy_settings(reader),
            demo=_demo_settings(reader),
            alerts=AlertSettings(
                stream_max_length=reader.integer(
                    names.ALERT_STREAM_MAX_LENGTH, 1000, minimum=1, maximum=1_000_000
                ),
                sse_wait_seconds=reader.number(names.SSE_WAIT_SECONDS, 20.0, minimum=0.1, maximum=28.0),
                sse_retry_milliseconds=reader.integer(
                    names.SSE_RETRY_MILLISECONDS, 1000, minimum=0, maximum=60_000
                ),
                sse_heartbeat_seconds=reader.number(
                    names.SSE_HEARTBEAT_SECONDS, 15.0, minimum=1, maximum=300
                ),
            ),
            health=HealthSettings(
                check_timeout_seconds=reader.number(
                    names.HEALTH_CHECK_TIMEOUT_SECONDS, 2.0, minimum=0.01, maximum=10.0
                ),
                cache_seconds=reader.integer(names.HEALTH_CACHE_SECONDS, 30, minimum=1, maximum=3600),
            ),
            api_docs=ApiDocsSettings(
                cache_seconds=reader.integer(names.API_DOCS_CACHE_SECONDS, 300, minimum=1, maximum=86400),
                timeout_seconds=reader.number(
                    names.API_DOCS_TIMEOUT_SECONDS, 3.0, minimum=0.01, maximum=10.0
                ),
            ),
            websocket=WebSocketSettings(
                management_url=reader.url(names.WEBSOCKET_MANAGEMENT_URL),
                post_concurrency=reader.integer(names.WEBSOCKET_POST_CONCURRENCY, 64, minimum=1, maximum=256),
            ),
            geocoding=GeocodingSettings(
                nominatim_url=reader.url(names.NOMINATIM_URL) or DEFAULT_NOMINATIM_URL,
                user_agent=reader.text(names.GEOCODING_USER_AGENT) or DEFAULT_GEOCODING_USER_AGENT,
                cache_seconds=reader.integer(names.GEOCODING_CACHE_SECONDS, 24 * 60 * 60, minimum=1),
                timeout_seconds=reader.number(
                    names.GEOCODING_TIMEOUT_SECONDS, 5.0, minimum=0.01, maximum=20.0
                ),
            ),
            observability=_observability_settings(reader),
        )


def _redis_settings(reader: EnvironmentReader) -> RedisSettings:
    password = reader.text(names.REDIS_PASSWORD)
    secret_id = reader.text(names.REDIS_PASSWORD_SECRET_ID)
    if password and secret_id:
        raise ConfigurationError(
            f"{names.REDIS_PASSWORD} and {names.REDIS_PASSWORD_SECRET_ID}: set one (the secret, on AWS)"
        )
    return RedisSettings(
        host=reader.text(names.REDIS_HOST),
        port=reader.integer(names.REDIS_PORT, 6379, minimum=1, maximum=65535),
        db=reader.integer(names.REDIS_DB, 0, minimum=0, maximum=15),
        password=password,
        password_secret_id=secret_id,
        tls=reader.boolean(names.REDIS_TLS, False),
        timeout_seconds=reader.number(names.REDIS_TIMEOUT_SECONDS, 0.5, minimum=0.01),
    )


def _demo_settings(reader: EnvironmentReader) -> DemoSettings:
    # The blocked operations hold commas themselves: entries are separated by ";" or new lines.
    text = reader.text(names.DEMO_BLOCKED_OPERATIONS)
    entries = (
        tuple(part.strip() for part in text.replace("\n", ";").split(";") if part.strip())
        if text
        else DEFAULT_DEMO_BLOCKED_OPERATIONS
    )
    service_urls = {}
    for service in names.SERVICES:
        if service == names.DEMO_SERVICE:
            continue
        url = reader.url(names.demo_service_url_variable(service))
        if url:
            service_urls[service] = url
    return DemoSettings(
        blocked_operations=parse_blocked_operations(entries, names.DEMO_BLOCKED_OPERATIONS),
        service_urls=service_urls,
    )


def _policy_settings(reader: EnvironmentReader) -> PolicySettings:
    def limit(default: RateLimitRule, requests: str, window: str) -> RateLimitRule:
        return RateLimitRule(
            default.name,
            default.scope,
            reader.integer(requests, default.requests, minimum=1),
            reader.integer(window, default.window_seconds, minimum=1),
        )

    return PolicySettings(
        user_limit=limit(DEFAULT_USER_LIMIT, names.RATE_LIMIT_REQUESTS, names.RATE_LIMIT_WINDOW_SECONDS),
        tenant_limit=limit(
            DEFAULT_TENANT_LIMIT, names.RATE_LIMIT_TENANT_REQUESTS, names.RATE_LIMIT_TENANT_WINDOW_SECONDS
        ),
        ip_limit=limit(DEFAULT_IP_LIMIT, names.RATE_LIMIT_REQUESTS, names.RATE_LIMIT_WINDOW_SECONDS),
        login_ip_limit=limit(
            DEFAULT_LOGIN_IP_LIMIT,
            names.LOGIN_RATE_LIMIT_IP_REQUESTS,
            names.LOGIN_RATE_LIMIT_IP_WINDOW_SECONDS,
        ),
        login_name_limit=limit(
            DEFAULT_LOGIN_NAME_LIMIT,
            names.LOGIN_RATE_LIMIT_NAME_REQUESTS,
            names.LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS,
        ),
        demo_limit=limit(
            DEFAULT_DEMO_LIMIT, names.DEMO_RATE_LIMIT_REQUESTS, names.DEMO_RATE_LIMIT_WINDOW_SECONDS
        ),
        demo_creation_ip_limit=limit(
            DEFAULT_DEMO_CREATION_IP_LIMIT,
            names.DEMO_SESSION_RATE_LIMIT_IP_REQUESTS,
            names.DEMO_SESSION_RATE_LIMIT_IP_WINDOW_SECONDS,
        ),
        api_key_limit=limit(
            DEFAULT_API_KEY_LIMIT, names.API_KEY_RATE_LIMIT_REQUESTS, names.API_KEY_RATE_LIMIT_WINDOW_SECONDS
        ),
        rules=parse_rules(reader.text(names.RATE_LIMIT_RULES), names.RATE_LIMIT_RULES),
        rate_limit_when_redis_down=reader.choice(
            names.RATE_LIMIT_WHEN_REDIS_DOWN, tuple(name.upper() for name in RATE_LIMIT_FALLBACKS), "MEMORY"
        ).lower(),
        stale_seconds=reader.integer(names.POLICY_STALE_SECONDS, 60, minimum=0, maximum=3600),
        exempt_paths=reader.csv(names.POLICY_EXEMPT_PATHS) or DEFAULT_EXEMPT_PATHS,
        subscription_cache_seconds=reader.integer(names.SUBSCRIPTION_CACHE_SECONDS, 300, minimum=1),
    )


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """What a client may hold of one ``bakery-gateway serve`` worker process (docs/standalone.md).

    Not part of ``Settings``: no Lambda function reads them (API Gateway holds the clients there).
    """

    # From a connection's accept, or a request's first byte, until its head (request line and
    # headers) is complete; then until its body is complete.
    header_timeout_seconds: float = 10.0
    body_timeout_seconds: float = 60.0
    # The request line and headers together.
    max_header_bytes: int = 16 * 1024
    # Open client connections, idle keep-alive ones included.
    max_connections: int = 1000

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> ServerSettings:
        reader = EnvironmentReader(os.environ if environ is None else environ)
        default = cls()
        return cls(
            header_timeout_seconds=reader.number(
                names.SERVE_HEADER_TIMEOUT_SECONDS, default.header_timeout_seconds, minimum=0.1, maximum=300.0
            ),
            body_timeout_seconds=reader.number(
                names.SERVE_BODY_TIMEOUT_SECONDS, default.body_timeout_seconds, minimum=0.1, maximum=3600.0
            ),
            max_header_bytes=reader.integer(
                names.SERVE_MAX_HEADER_BYTES, default.max_header_bytes, minimum=1024, maximum=1024 * 1024
            ),
            max_connections=reader.integer(
                names.SERVE_MAX_CONNECTIONS, default.max_connections, minimum=1, maximum=1_000_000
            ),
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The container's settings, read on first use (cold start) and kept."""
    return Settings.from_environ()
