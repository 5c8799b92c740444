"""Every Redis key family the gateway uses, with its TTL: the one place that names them."""

from __future__ import annotations

import hashlib

# Validated claims, keyed by a hash of the token (the token itself is never stored).
CLAIMS_CACHE_PREFIX = "gw:auth:claims:"
CLAIMS_CACHE_MAX_TTL_SECONDS = 15 * 60

# Revoked token ids (logout), kept until the token would have expired anyway.
REVOKED_PREFIX = "gw:auth:revoked:"


def token_fingerprint(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def claims_cache_key(token: str) -> str:
    return CLAIMS_CACHE_PREFIX + token_fingerprint(token)


def claims_cache_ttl(expires_at: int, now: float) -> int:
    """Cache claims no longer than 15 minutes and never past the token's own expiry."""
    return max(0, min(CLAIMS_CACHE_MAX_TTL_SECONDS, int(expires_at - now)))


def revoked_key(jti: str) -> str:
    return REVOKED_PREFIX + jti


def revocation_ttl(expires_at: int, now: float, leeway_seconds: int) -> int:
    """Keep a revocation until the token is past its expiry and the verifier's leeway."""
    return max(1, int(expires_at - now) + leeway_seconds + 1)


# --- Tenant policies (policy/) ---------------------------------------------------------------
# A tenant's subscription as the tenant service last told it (hash), for SUBSCRIPTION_CACHE_SECONDS.
SUBSCRIPTION_PREFIX = "gw:tenant:subscription:"
# The tenant service's answer "no such subscription", kept briefly so a storm does not ask again.
SUBSCRIPTION_UNKNOWN_TTL_SECONDS = 60
NO_SUBSCRIPTION_STATUS = "none"
# An operator's override of a tenant's subscription (hash, no TTL): wins over the cached one.
SUBSCRIPTION_OVERRIDE_PREFIX = "gw:tenant:subscription-override:"
# A tenant's read-only flag (hash: reason, set_by, set_at), until lifted.
READ_ONLY_PREFIX = "gw:tenant:read-only:"
# A tenant's rate-limit overrides (hash: scope -> "requests:window_ms"), until removed.
RATE_LIMIT_OVERRIDES_PREFIX = "gw:tenant:rate-limits:"
# One rate-limit bucket's theoretical arrival time (GCRA); expires when the bucket is full again.
RATE_LIMIT_PREFIX = "gw:rl:"
# The audit trail of policy changes (stream), capped at about AUDIT_MAX_ENTRIES.
AUDIT_STREAM = "gw:audit:policy"
AUDIT_MAX_ENTRIES = 10_000
# Placeholder for a key a request has no use for (no token, no tenant): never written.
UNUSED_KEY = "gw:unused"


def subscription_key(tenant_id: str) -> str:
    return SUBSCRIPTION_PREFIX + tenant_id


def subscription_ttl(status: str, cache_seconds: int) -> int:
    """How long a subscription record is cached: "none" briefly, any real answer ``cache_seconds``."""
    return SUBSCRIPTION_UNKNOWN_TTL_SECONDS if status == NO_SUBSCRIPTION_STATUS else cache_seconds


def subscription_override_key(tenant_id: str) -> str:
    return SUBSCRIPTION_OVERRIDE_PREFIX + tenant_id


def read_only_key(tenant_id: str) -> str:
    return READ_ONLY_PREFIX + tenant_id


def rate_limit_overrides_key(tenant_id: str) -> str:
    return RATE_LIMIT_OVERRIDES_PREFIX + tenant_id


def rate_limit_key(suffix: str) -> str:
    return RATE_LIMIT_PREFIX + suffix


# --- Demo sessions (written by the demo-session service; see api/demo.py) ----------------
DEMO_SESSION_PREFIX = "gw:demo:session:"


def demo_session_key(session_id: str) -> str:
    return DEMO_SESSION_PREFIX + session_id


# --- Alerts (fanout function writes, SSE and WebSocket delivery read) --------------------------
# A tenant's alerts, in order (stream; entry field "alert" holds the alert as JSON), capped at
# about ALERT_STREAM_MAX_LENGTH entries: the retention a reconnecting client can resume from.
ALERT_STREAM_PREFIX = "gw:alerts:tenant:"
ALERT_STREAM_FIELD = "alert"
# The spec's pub/sub channel, published on for every accepted alert (and listened to, for
# publishers that only PUBLISH there).
ALERT_CHANNEL_PREFIX = "alerts:tenant:"
# An alert id already accepted, so a retried event is stored and delivered once.
ALERT_SEEN_PREFIX = "gw:alerts:seen:"
ALERT_SEEN_TTL_SECONDS = 24 * 60 * 60


def alert_stream_key(tenant_id: str) -> str:
    return ALERT_STREAM_PREFIX + tenant_id


def alert_channel(tenant_id: str) -> str:
    return ALERT_CHANNEL_PREFIX + tenant_id


def alert_seen_key(alert_id: str) -> str:
    return ALERT_SEEN_PREFIX + alert_id


# --- WebSocket connections (the WebSocket API's handlers write, the fanout function reads) ------
# One connection (hash: user_id, tenant_id, tenant_ids JSON, subscriptions JSON list of topics,
# connected_at), expiring with API Gateway's 2 hour connection limit.
WS_CONNECTION_PREFIX = "gw:ws:connection:"
WS_CONNECTION_TTL_SECONDS = 2 * 60 * 60
# The connections subscribed to a topic (set of connection ids). Topics: "alerts:{tenant_id}" and
# "training:{tenant_id}:{job_id}". Stale members are removed when a post answers 410 Gone.
WS_SUBSCRIBERS_PREFIX = "gw:ws:subscribers:"


def ws_connection_key(connection_id: str) -> str:
    return WS_CONNECTION_PREFIX + connection_id


def ws_subscribers_key(topic: str) -> str:
    return WS_SUBSCRIBERS_PREFIX + topic


def alerts_topic(tenant_id: str) -> str:
    return f"alerts:{tenant_id}"


def training_topic(tenant_id: str, job_id: str) -> str:
    return f"training:{tenant_id}:{job_id}"


# --- Geocoding (POST /api/v1/geocode; docs/geocoding.md) ----------------------------------------
# Nominatim's one request per second, shared by every container: whoever SETs this key (NX) may
# call. Its value says why it is held: a request in flight (for at most the call's timeout plus
# GEOCODE_INTERVAL_MILLISECONDS, should its container die), then a cool-down of
# GEOCODE_INTERVAL_MILLISECONDS from the moment Nominatim answered, or Nominatim's back-off after a
# 429. The next request therefore reaches Nominatim at least a second after the previous one did.
GEOCODE_SLOT_KEY = "gw:geocode:slot"
GEOCODE_SLOT_IN_FLIGHT = b"in-flight"
GEOCODE_SLOT_COOL_DOWN = b"cool-down"
GEOCODE_SLOT_BACK_OFF = b"back-off"
GEOCODE_INTERVAL_MILLISECONDS = 1000
# One query's shaped results (JSON list), keyed by a hash of the normalised query, for
# GEOCODING_CACHE_SECONDS.
GEOCODE_RESULT_PREFIX = "gw:geocode:result:"


def geocode_result_key(fingerprint: str) -> str:
    return GEOCODE_RESULT_PREFIX + fingerprint


# --- Health (GET /api/v1/health; docs/health.md) --------------------------------------------------
# The last aggregate report (JSON with its check time): fresh for HEALTH_CACHE_SECONDS, kept ten
# times that so a container whose check round is slow can still answer with it (``cache: stale``).
HEALTH_REPORT_KEY = "gw:health:report"
# Taken (SET NX PX) by the one container that calls the services for a round; compare-and-delete.
HEALTH_LOCK_KEY = "gw:health:lock"
HEALTH_REPORT_KEPT_PERIODS = 10


def health_report_ttl(cache_seconds: float) -> int:
    return max(1, int(cache_seconds * HEALTH_REPORT_KEPT_PERIODS))


# --- API documentation (GET /api/v1/openapi.json; docs/api-docs.md) -------------------------------
# The aggregated OpenAPI document (JSON), for API_DOCS_CACHE_SECONDS.
API_DOCS_KEY = "gw:docs:openapi"


# --- Circuit breakers (policies/circuit_breaker.py; docs/resilience.md) ----------------------------------
# One hash per downstream service, shared by every container: failures (the current run),
# opened_until and probe_until (epoch ms). Gone when closed with no failures.
CIRCUIT_PREFIX = "gw:circuit:"


def circuit_key(service: str) -> str:
    return CIRCUIT_PREFIX + service


# --- API keys (authentication/api_keys.py; docs/api-keys.md) ---------------------------------------
# One key's record (hash: key_hash = SHA-256 of the key, tenant_id, services, roles, name, created_at,
# created_by, expires_at), by its public id; expires with the key. The key itself is never stored.
API_KEY_PREFIX = "gw:apikey:"
# The ids of a tenant's keys (set), for listing; ids whose record is gone are skipped and pruned.
API_KEY_TENANT_PREFIX = "gw:apikey-tenant:"
# A revoked key's marker is the revocation key of its principal (``revoked_key("api-key:<id>")``):
# the proxy's policy script already reads that key on every request. It must outlive API Gateway's
# cached verdict, at most 3600 s (the HTTP API's maximum authorizer TTL), plus a margin.
API_KEY_REVOCATION_TTL_SECONDS = 3600 + 60


def api_key_key(key_id: str) -> str:
    return API_KEY_PREFIX + key_id


def api_key_tenant_key(tenant_id: str) -> str:
    return API_KEY_TENANT_PREFIX + tenant_id
