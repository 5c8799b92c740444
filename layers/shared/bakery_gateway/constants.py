"""Every name the gateway shares with the outside world: environment variables, headers, services."""

from typing import Final

# --- Environment variables -------------------------------------------------------------------
ENVIRONMENT: Final = "ENVIRONMENT"
LOG_LEVEL: Final = "LOG_LEVEL"
SERVICE_URL_SUFFIX: Final = "_SERVICE_URL"

REDIS_HOST: Final = "REDIS_HOST"
REDIS_PORT: Final = "REDIS_PORT"
REDIS_DB: Final = "REDIS_DB"
REDIS_PASSWORD: Final = "REDIS_PASSWORD"
# A Secrets Manager secret holding the AUTH token (on AWS; REDIS_PASSWORD is for local runs).
REDIS_PASSWORD_SECRET_ID: Final = "REDIS_PASSWORD_SECRET_ID"
REDIS_TLS: Final = "REDIS_TLS"
REDIS_TIMEOUT_SECONDS: Final = "REDIS_TIMEOUT_SECONDS"

JWT_PUBLIC_KEY: Final = "JWT_PUBLIC_KEY"
JWT_PUBLIC_KEYS: Final = "JWT_PUBLIC_KEYS"
JWT_PUBLIC_KEYS_SSM_PARAMETER: Final = "JWT_PUBLIC_KEYS_SSM_PARAMETER"
JWT_PUBLIC_KEYS_SECRET_ID: Final = "JWT_PUBLIC_KEYS_SECRET_ID"
JWT_ALGORITHM: Final = "JWT_ALGORITHM"
JWT_ISSUER: Final = "JWT_ISSUER"
JWT_AUDIENCE: Final = "JWT_AUDIENCE"
JWT_LEEWAY_SECONDS: Final = "JWT_LEEWAY_SECONDS"

RATE_LIMIT_REQUESTS: Final = "RATE_LIMIT_REQUESTS"
RATE_LIMIT_WINDOW_SECONDS: Final = "RATE_LIMIT_WINDOW_SECONDS"
RATE_LIMIT_TENANT_REQUESTS: Final = "RATE_LIMIT_TENANT_REQUESTS"
RATE_LIMIT_TENANT_WINDOW_SECONDS: Final = "RATE_LIMIT_TENANT_WINDOW_SECONDS"
LOGIN_RATE_LIMIT_IP_REQUESTS: Final = "LOGIN_RATE_LIMIT_IP_REQUESTS"
LOGIN_RATE_LIMIT_IP_WINDOW_SECONDS: Final = "LOGIN_RATE_LIMIT_IP_WINDOW_SECONDS"
LOGIN_RATE_LIMIT_NAME_REQUESTS: Final = "LOGIN_RATE_LIMIT_NAME_REQUESTS"
LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS: Final = "LOGIN_RATE_LIMIT_NAME_WINDOW_SECONDS"
RATE_LIMIT_RULES: Final = "RATE_LIMIT_RULES"
RATE_LIMIT_WHEN_REDIS_DOWN: Final = "RATE_LIMIT_WHEN_REDIS_DOWN"
POLICY_STALE_SECONDS: Final = "POLICY_STALE_SECONDS"
POLICY_EXEMPT_PATHS: Final = "POLICY_EXEMPT_PATHS"
SUBSCRIPTION_CACHE_SECONDS: Final = "SUBSCRIPTION_CACHE_SECONDS"
DEMO_RATE_LIMIT_REQUESTS: Final = "DEMO_RATE_LIMIT_REQUESTS"
# Each API key's own budget (docs/api-keys.md).
API_KEY_RATE_LIMIT_REQUESTS: Final = "API_KEY_RATE_LIMIT_REQUESTS"
API_KEY_RATE_LIMIT_WINDOW_SECONDS: Final = "API_KEY_RATE_LIMIT_WINDOW_SECONDS"
DEMO_RATE_LIMIT_WINDOW_SECONDS: Final = "DEMO_RATE_LIMIT_WINDOW_SECONDS"
DEMO_SESSION_RATE_LIMIT_IP_REQUESTS: Final = "DEMO_SESSION_RATE_LIMIT_IP_REQUESTS"
DEMO_SESSION_RATE_LIMIT_IP_WINDOW_SECONDS: Final = "DEMO_SESSION_RATE_LIMIT_IP_WINDOW_SECONDS"
DEMO_BLOCKED_OPERATIONS: Final = "DEMO_BLOCKED_OPERATIONS"
ALERT_STREAM_MAX_LENGTH: Final = "ALERT_STREAM_MAX_LENGTH"
SSE_WAIT_SECONDS: Final = "SSE_WAIT_SECONDS"
SSE_RETRY_MILLISECONDS: Final = "SSE_RETRY_MILLISECONDS"
SSE_HEARTBEAT_SECONDS: Final = "SSE_HEARTBEAT_SECONDS"
# The WebSocket API's @connections endpoint (https://{api}.execute-api.{region}.amazonaws.com/{stage}),
# set on the fanout function only, from the template's own WebSocket API (not a parameter).
WEBSOCKET_MANAGEMENT_URL: Final = "WEBSOCKET_MANAGEMENT_URL"
WEBSOCKET_POST_CONCURRENCY: Final = "WEBSOCKET_POST_CONCURRENCY"
# POST /api/v1/geocode (docs/geocoding.md): the Nominatim instance and its usage policy's needs.
NOMINATIM_URL: Final = "NOMINATIM_URL"
GEOCODING_USER_AGENT: Final = "GEOCODING_USER_AGENT"
GEOCODING_CACHE_SECONDS: Final = "GEOCODING_CACHE_SECONDS"
GEOCODING_TIMEOUT_SECONDS: Final = "GEOCODING_TIMEOUT_SECONDS"
# GET /api/v1/health (docs/health.md) and the aggregated OpenAPI document (docs/api-docs.md).
HEALTH_CHECK_TIMEOUT_SECONDS: Final = "HEALTH_CHECK_TIMEOUT_SECONDS"
HEALTH_CACHE_SECONDS: Final = "HEALTH_CACHE_SECONDS"
API_DOCS_CACHE_SECONDS: Final = "API_DOCS_CACHE_SECONDS"
API_DOCS_TIMEOUT_SECONDS: Final = "API_DOCS_TIMEOUT_SECONDS"
CORS_ORIGINS: Final = "CORS_ORIGINS"
CORS_ALLOW_CREDENTIALS: Final = "CORS_ALLOW_CREDENTIALS"

MAX_REQUEST_BYTES: Final = "MAX_REQUEST_BYTES"
DOWNSTREAM_CONNECT_TIMEOUT_SECONDS: Final = "DOWNSTREAM_CONNECT_TIMEOUT_SECONDS"
DOWNSTREAM_READ_TIMEOUT_SECONDS: Final = "DOWNSTREAM_READ_TIMEOUT_SECONDS"
DOWNSTREAM_MAX_CONNECTIONS: Final = "DOWNSTREAM_MAX_CONNECTIONS"
# What carries the downstream client's requests: "aiohttp" (its pool) or "httpx" (httpcore's).
DOWNSTREAM_HTTP_TRANSPORT: Final = "DOWNSTREAM_HTTP_TRANSPORT"
# Circuit breakers per downstream service (docs/resilience.md).
CIRCUIT_FAILURE_THRESHOLD: Final = "CIRCUIT_FAILURE_THRESHOLD"
CIRCUIT_OPEN_SECONDS: Final = "CIRCUIT_OPEN_SECONDS"
# `bakery-gateway serve` only (docs/standalone.md): what a client may hold of one worker process.
SERVE_HEADER_TIMEOUT_SECONDS: Final = "SERVE_HEADER_TIMEOUT_SECONDS"
SERVE_BODY_TIMEOUT_SECONDS: Final = "SERVE_BODY_TIMEOUT_SECONDS"
SERVE_MAX_HEADER_BYTES: Final = "SERVE_MAX_HEADER_BYTES"
SERVE_MAX_CONNECTIONS: Final = "SERVE_MAX_CONNECTIONS"
SERVE_VARIABLES: Final = (
    SERVE_HEADER_TIMEOUT_SECONDS,
    SERVE_BODY_TIMEOUT_SECONDS,
    SERVE_MAX_HEADER_BYTES,
    SERVE_MAX_CONNECTIONS,
)

# Observability (docs/observability.md). The namespace is powertools' own variable; EMF is written on
# Lambda only (AWS_LAMBDA_FUNCTION_NAME set) unless powertools' POWERTOOLS_METRICS_DISABLED says no.
POWERTOOLS_METRICS_NAMESPACE: Final = "POWERTOOLS_METRICS_NAMESPACE"
PUSHGATEWAY_URL: Final = "PUSHGATEWAY_URL"
PUSHGATEWAY_INTERVAL_SECONDS: Final = "PUSHGATEWAY_INTERVAL_SECONDS"
USER_ID_LOG_MODE: Final = "USER_ID_LOG_MODE"
USER_ID_LOG_KEY: Final = "USER_ID_LOG_KEY"
USER_ID_LOG_KEY_SECRET_ID: Final = "USER_ID_LOG_KEY_SECRET_ID"
# Set by the template from its Tracing parameter (an !If, not a parameter of its own).
TRACE_DISABLED_VARIABLE: Final = "POWERTOOLS_TRACE_DISABLED"
METRICS_DISABLED_VARIABLE: Final = "POWERTOOLS_METRICS_DISABLED"
LAMBDA_FUNCTION_NAME_VARIABLE: Final = "AWS_LAMBDA_FUNCTION_NAME"
LAMBDA_LOG_STREAM_VARIABLE: Final = "AWS_LAMBDA_LOG_STREAM_NAME"

# --- Services ----------------------------------------------------------------------------------
# The path segment after /api/v1/ and the prefix of its {SERVICE}_SERVICE_URL variable.
SERVICES: Final[tuple[str, ...]] = (
    "auth",
    "sales",
    "forecasting",
    "training",
    "inventory",
    "production",
    "recipes",
    "orders",
    "suppliers",
    "procurement",
    "pos",
    "external",
    "notifications",
    "ai-insights",
    "orchestrator",
    "tenants",
    "demo",  # the demo-session service: public routes a visitor uses before having a token
)

# The variable names of the spec, which do not all follow the path segment.
SERVICE_URL_VARIABLES: Final[dict[str, str]] = {
    "notifications": "NOTIFICATION_SERVICE_URL",
    "tenants": "TENANT_SERVICE_URL",
    "ai-insights": "AI_INSIGHTS_SERVICE_URL",
    "demo": "DEMO_SESSION_SERVICE_URL",
}
DEMO_SERVICE = "demo"
# What every service answers for GET /api/v1/health's check: {base}/health (docs/health.md).
SERVICE_HEALTH_PATH: Final = "/health"


def service_url_variable(service: str) -> str:
    """Name of the environment variable that holds a service's base URL."""
    return SERVICE_URL_VARIABLES.get(service) or service.upper().replace("-", "_") + SERVICE_URL_SUFFIX


def demo_service_url_variable(service: str) -> str:
    """Name of the variable that sends demo traffic for ``service`` to an isolated demo backend."""
    return "DEMO_" + service_url_variable(service)


# --- Headers -----------------------------------------------------------------------------------
REQUEST_ID_HEADER: Final = "x-request-id"
USER_ID_HEADER: Final = "x-user-id"
TENANT_ID_HEADER: Final = "x-tenant-id"
USER_ROLES_HEADER: Final = "x-user-roles"
DEMO_SESSION_HEADER: Final = "x-demo-session-id"
DEMO_ACCOUNT_TYPE_HEADER: Final = "x-demo-account-type"
# A machine client's API key (docs/api-keys.md): a gateway credential, never forwarded.
API_KEY_HEADER: Final = "x-api-key"

# Headers that only the gateway may set: a client's copy is dropped before forwarding.
IDENTITY_HEADERS: Final = frozenset(
    {USER_ID_HEADER, TENANT_ID_HEADER, USER_ROLES_HEADER, DEMO_SESSION_HEADER, DEMO_ACCOUNT_TYPE_HEADER}
)

# Header families only the gateway speaks for: every X-Demo-* and X-Forwarded-* a client sends is
# dropped, whatever follows the prefix (the gateway adds its own X-Forwarded-For, -Proto and -Host).
GATEWAY_HEADER_PREFIXES: Final = ("x-demo-", "x-forwarded-")

# RFC 9110 section 7.6.1: connection-specific fields never forwarded by an intermediary.
HOP_BY_HOP_HEADERS: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

SUBSCRIPTION_GRACE_HEADER: Final = "x-subscription-grace-days-remaining"
RATE_LIMIT_HEADER: Final = "ratelimit"
RATE_LIMIT_POLICY_HEADER: Final = "ratelimit-policy"

PROBLEM_CONTENT_TYPE: Final = "application/problem+json"

# --- Roles (the token's ``roles`` claim) ----------------------------------------------------------
PLATFORM_ADMIN_ROLE: Final = "platform_admin"  # operators: tenant policy administration
TENANT_SERVICE_ROLE: Final = "tenant-service"  # the tenant service's own token: subscription pushes
API_KEY_ROLE: Final = "integration"  # every API key's caller (POS systems, integrations)
