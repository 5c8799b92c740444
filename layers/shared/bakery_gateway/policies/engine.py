"""The policy engine: one Redis round trip per request, then the decision, in the spec's order.

Order of refusals: a revoked token (401), a rate limit (429), the subscription (402), read-only
mode (403). Tenant access (403) is decided before, without Redis, by ``tenancy.select_tenant``; a
request refused there (or earlier: 401, 404, 400, 413) still spends its caller's budget through
``count_refusal``, in the one round trip it makes.

Revocation never fails open: a token id this container saw revoked, or revoked itself, stays
refused until its token expires, with or without Redis; without Redis, any other write with a
credential is refused (503), since a revocation made elsewhere cannot be ruled out. A logout
revokes in the same round trip, whatever the budgets say (docs/policies.md).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import ResponseError

from bakery_gateway.api.identity import Identity
from bakery_gateway.api.routes import DEMO_SESSIONS_PATH
from bakery_gateway.authentication.revocation import Revocation
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.constants import RATE_LIMIT_HEADER, RATE_LIMIT_POLICY_HEADER, SUBSCRIPTION_GRACE_HEADER
from bakery_gateway.errors import (
    ApiKeyRevokedError,
    DemoOperationForbiddenError,
    DemoSessionExpiredError,
    GatewayError,
    RateLimitedError,
    ReadOnlyTenantError,
    StateUnavailableError,
    SubscriptionRequiredError,
    TokenRevokedError,
)
from bakery_gateway.policies import subscription as subscriptions
from bakery_gateway.policies.circuit_breaker import UNKNOWN, CircuitBreakers, CircuitView
from bakery_gateway.policies.fallback import KnownRevocations, LastKnown, LocalRateLimiter
from bakery_gateway.policies.path_patterns import operation_matches, path_matches
from bakery_gateway.policies.rules import BucketSpec, select_bucket
from bakery_gateway.policies.script import (
    LAST_KNOWN,
    BucketState,
    PolicyKeys,
    PolicyScript,
    PolicySnapshot,
    ScriptingRedis,
)
from bakery_gateway.settings import Scope, Settings
from bakery_gateway.telemetry.observability import POLICY_FALLBACKS, RATE_LIMIT_EXCEEDED, REDIS_ERRORS, logger

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
OUTAGE_LOG_INTERVAL_SECONDS = 60
Headers = list[tuple[str, str]]


@dataclass(frozen=True, slots=True)
class PolicyRequest:
    identity: Identity | None
    tenant_id: str | None
    method: str
    path: str  # decoded and normalised (routing.Route.normalized_path): what every rule matches
    route_key: str
    route_template: str
    source_ip: str
    request_id: str
    login_attempt: bool = False  # a login or registration, however its path is spelled
    login_names: tuple[str, ...] = ()  # the accounts it names, normalised (policies/login_attempts.py)
    service: str | None = None  # the downstream service the request goes to: its circuit is checked
    # A logout's: the caller's token is revoked in this request's round trip, whatever its budgets.
    revocation: Revocation | None = None


@dataclass(frozen=True, slots=True)
class Admission:
    """A request the policies let through: its response headers, and its service's circuit."""

    headers: Headers
    circuit: CircuitView


class PolicyEngine:
    def __init__(
        self,
        settings: Settings,
        *,
        redis_clients: PerEventLoop[Any],
        http_clients: PerEventLoop[Any],
        script_clients: PerEventLoop[ScriptingRedis] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``script_clients`` run the policy script (the proxy's are ``pipelined_redis``'s); by
        default, ``redis_clients``."""
        self._settings = settings
        self._policy = settings.policy
        scripting = script_clients or redis_clients
        self._scripts = PerEventLoop(lambda: PolicyScript(scripting.get()))
        self._redis_clients = redis_clients
        self._http_clients = http_clients
        self._clock = clock
        self._local_limiter = LocalRateLimiter()
        self._revoked = KnownRevocations(clock=clock)
        self._leeway_seconds = settings.jwt.leeway_seconds
        self._subscriptions: LastKnown[dict[str, str] | None] = LastKnown(self._policy.stale_seconds)
        self._outage_logged_at = 0.0
        self.circuits = CircuitBreakers(settings, redis_clients=redis_clients)

    async def enforce(self, request: PolicyRequest) -> Headers:
        """The headers the response gets; raises the problem error of the first policy that refuses."""
        return (await self.admit(request)).headers

    async def admit(self, request: PolicyRequest) -> Admission:
        """``enforce``, and the circuit of ``request.service`` read in the same round trip."""
        identity = request.identity
        if identity is not None and identity.is_demo:
            self._refuse_blocked_demo_operation(request)
        buckets = self.buckets(request)
        keys = PolicyKeys(
            identity.jti if identity else None,
            request.tenant_id,
            identity.demo_session_id if identity else None,
            request.service if self.circuits.enabled else None,
            request.revocation,
        )
        try:
            snapshot = await self._scripts.get().run(keys, buckets, self.circuits.probe_lease_ms)
        except ResponseError:
            # Redis answered, but the script failed: a bug, not an outage. Say so every time, and
            # keep serving from the fallback rather than refusing the tenant's traffic.
            REDIS_ERRORS.labels("policy_script").inc()
            logger.exception("policy script failed", extra={"tenant_id": request.tenant_id})
            snapshot = self._without_redis(request, buckets)
        except Exception as error:  # redis-py raises several unrelated types for one outage
            REDIS_ERRORS.labels("policy").inc()
            self._log_outage(error)
            snapshot = self._without_redis(request, buckets)
        else:
            snapshot = self._remember(request, snapshot)
        headers = rate_limit_headers(snapshot.buckets)
        try:
            grace = await self._decide(request, snapshot)
        except GatewayError as refusal:
            # Clients pace themselves by these fields on refusals too.
            refusal.headers.update(headers)
            raise
        if grace is not None:
            headers.append((SUBSCRIPTION_GRACE_HEADER, str(grace)))
        return Admission(headers, snapshot.circuit)

    async def _decide(self, request: PolicyRequest, snapshot: PolicySnapshot) -> int | None:
        """Refuse in the spec's order; the grace days left when the tenant is paying late."""
        if snapshot.revoked:
            if request.identity is not None and request.identity.is_api_key:
                raise ApiKeyRevokedError("API key revoked")
            raise TokenRevokedError("token revoked")
        if request.identity is not None and request.identity.is_demo and not snapshot.demo_session_alive:
            raise DemoSessionExpiredError("demo session ended")
        # A logout passes a drained budget: it has revoked the token, and the auth service must
        # hear of it too. It cannot be used to spend more: the token is refused from now on.
        if not snapshot.rate_allowed and request.revocation is None:
            raise _rate_limited(request, snapshot.buckets)
        if request.service is not None:
            self.circuits.admit(request.service, snapshot.circuit)
        if not request.tenant_id or self._exempt(request):
            return None
        is_demo = request.identity is not None and request.identity.is_demo
        # Demo tenants have no subscription: the demo session's own lifetime bounds them.
        grace = None if is_demo else await self._check_subscription(request, snapshot)
        if snapshot.read_only and request.method not in SAFE_METHODS:
            reason = snapshot.read_only.get("reason", "")
            raise ReadOnlyTenantError(
                f"the tenant is read-only ({reason}): changes are refused until the hold is lifted",
                extensions={"reason": reason},
            )
        return grace

    async def count_refusal(self, request: PolicyRequest) -> Headers:
        """A request refused before the policies (401, 403 tenant, 404, 400, 413) spends its budget
        all the same, so that probing paths, tokens or other tenants is not free: the caller's own
        budget (user, API key or demo session), or the address's without an identity. One script
        run, as any request; revocation and tenant state are not read (the request is refused
        anyway). The ``RateLimit`` fields the refusal carries; ``RateLimitedError`` once the budget
        is spent. Without Redis, the container's limiter (``memory``) or nothing decides: the
        refusal stands either way."""
        buckets = self.buckets(request)
        keys = PolicyKeys(None, None)
        try:
            snapshot = await self._scripts.get().run(keys, buckets, 0)
            allowed, states = snapshot.rate_allowed, snapshot.buckets
        except Exception as error:  # redis-py raises several unrelated types for one outage
            REDIS_ERRORS.labels("policy").inc()
            self._log_outage(error)
            if self._policy.rate_limit_when_redis_down == "memory":
                allowed, states = self._local_limiter.check(buckets, None)
            else:
                allowed, states = True, ()
        headers = rate_limit_headers(states)
        if not allowed:
            refusal = _rate_limited(request, states)
            refusal.headers.update(headers)
            raise refusal
        return headers

    def buckets(self, request: PolicyRequest) -> list[BucketSpec]:
        """The rate-limit budgets this request draws on."""

        def bucket(scope: Scope, subject: str) -> BucketSpec:
            return select_bucket(
                scope,
                subject,
                self._policy.rules,
                self._policy.default_for(scope),
                tenant_id=request.tenant_id,
                path=request.path,
                method=request.method,
            )

        identity = request.identity
        if identity is not None and identity.demo_session_id:
            buckets = [bucket(Scope.DEMO, identity.demo_session_id)]
        elif identity is not None:
            # A key's own budget instead of a user's; the tenant's budget still bounds all its traffic.
            if identity.api_key_id:
                buckets = [bucket(Scope.API_KEY, identity.api_key_id)]
            else:
                buckets = [bucket(Scope.USER, identity.user_id)]
            if request.tenant_id:
                buckets.append(bucket(Scope.TENANT, request.tenant_id))
        else:
            buckets = [bucket(Scope.IP, request.source_ip)]
            if request.method == "POST" and request.path == DEMO_SESSIONS_PATH:
                buckets.append(bucket(Scope.DEMO_CREATION_IP, request.source_ip))
        # With a token or without: a login through any route is a login attempt.
        if request.login_attempt:
            buckets.append(bucket(Scope.LOGIN_IP, request.source_ip))
            buckets.extend(bucket(Scope.LOGIN_NAME, name) for name in request.login_names)
        return buckets

    def _refuse_blocked_demo_operation(self, request: PolicyRequest) -> None:
        for operation in self._settings.demo.blocked_operations:
            if operation_matches(operation, request.method, request.path):
                raise DemoOperationForbiddenError(
                    f"{request.method} {request.path} is not available in a demo session",
                    extensions={"operation": f"{'/'.join(sorted(operation.methods))} {operation.pattern}"},
                )

    def _exempt(self, request: PolicyRequest) -> bool:
        return any(path_matches(request.path, pattern) for pattern in self._policy.exempt_paths)

    async def _check_subscription(self, request: PolicyRequest, snapshot: PolicySnapshot) -> int | None:
        """The grace days left (None when paid up); 402 when the tenant may not use the platform."""
        tenant_id = request.tenant_id or ""
        record: subscriptions.Subscription | None = None
        if snapshot.subscription is not None:
            record = subscriptions.Subscription.from_hash(snapshot.subscription)
        elif snapshot.subscription_source != LAST_KNOWN:
            # (Without Redis, a container that remembers no subscription skips the check: asking the
            # tenant service on every request of an outage, and caching into a dead Redis, only adds
            # latency.)
            record = await self._look_up_subscription(request, tenant_id)
        if record is None:
            return None
        verdict = subscriptions.judge(record, self._clock())
        if not verdict.allowed:
            raise SubscriptionRequiredError(
                f"{verdict.reason}; billing routes stay open",
                extensions={"subscription_status": record.status},
            )
        return verdict.grace_days_remaining

    async def _look_up_subscription(
        self, request: PolicyRequest, tenant_id: str
    ) -> subscriptions.Subscription | None:
        """Ask the tenant service on a cache miss and cache the answer; None (reads only) if it cannot say."""
        tenant_service = self._settings.service_urls.get("tenants")
        try:
            if tenant_service is None:
                raise subscriptions.SubscriptionLookupError("TENANT_SERVICE_URL is not configured")
            record = await subscriptions.fetch(
                self._http_clients.get(),
                tenant_service,
                tenant_id,
                request_id=request.request_id,
                deadline_seconds=self._settings.downstream_connect_timeout_seconds + 3,
            )
        except subscriptions.SubscriptionLookupError as error:
            logger.warning("subscription unknown", extra={"tenant_id": tenant_id, "reason": str(error)})
            if request.method in SAFE_METHODS:
                return None
            raise StateUnavailableError(
                "the tenant's subscription cannot be confirmed; retry shortly", headers={"Retry-After": "5"}
            ) from None
        await self._cache_subscription(tenant_id, record)
        return record

    async def _cache_subscription(self, tenant_id: str, record: subscriptions.Subscription) -> None:
        ttl = redis_keyspace.subscription_ttl(record.status, self._policy.subscription_cache_seconds)
        key = redis_keyspace.subscription_key(tenant_id)
        try:
            async with self._redis_clients.get().pipeline(transaction=True) as pipeline:
                pipeline.delete(key).hset(key, mapping=record.to_hash()).expire(key, ttl)
                await pipeline.execute()
        except Exception:
            REDIS_ERRORS.labels("subscription_cache").inc()

    def _remember(self, request: PolicyRequest, snapshot: PolicySnapshot) -> PolicySnapshot:
        """Keep what Redis said for when it cannot answer; the snapshot as this container decides it."""
        identity = request.identity
        if identity is not None:
            known_revoked = self._revoked.revoked(identity.jti)
            if snapshot.revoked or request.revocation is not None:
                self._revoked.remember(identity.jti, identity.expires_at + self._leeway_seconds)
            if known_revoked and not snapshot.revoked:
                # Redis lost a revocation this container saw or made (restarted without its data):
                # what the container knows wins. (A logout writes it back in its own round trip.)
                snapshot = dataclasses.replace(snapshot, revoked=True)
        if request.tenant_id:
            self._subscriptions.remember(request.tenant_id, snapshot.subscription)
        return snapshot

    def _without_redis(self, request: PolicyRequest, buckets: list[BucketSpec]) -> PolicySnapshot:
        """Decide from what this container knows: a revocation it saw or made refuses; a write with a
        credential is refused (a revocation made elsewhere cannot be ruled out); reads pass, judged on
        the tenant's last known subscription."""
        identity, tenant_id = request.identity, request.tenant_id
        revoked = identity is not None and self._revoked.revoked(identity.jti)
        if identity is not None and not revoked and request.method not in SAFE_METHODS:
            POLICY_FALLBACKS.labels("refused_write").inc()
            detail = (
                "logout could not be recorded; retry shortly"
                if request.revocation is not None
                else "the gateway cannot confirm this credential is still valid; retry shortly"
            )
            raise StateUnavailableError(detail, headers={"Retry-After": "5"})
        tenant_known, subscription = self._subscriptions.recall(tenant_id) if tenant_id else (False, None)
        POLICY_FALLBACKS.labels("last_known" if tenant_known or revoked else "allowed_read").inc()
        plan = (subscription or {}).get("plan")
        mode = self._policy.rate_limit_when_redis_down
        states: tuple[BucketState, ...]
        if revoked or mode == "open":
            allowed, states = True, ()  # (a revoked token is refused before any budget)
        elif mode == "closed":
            raise StateUnavailableError(
                "rate limits cannot be checked; retry shortly", headers={"Retry-After": "5"}
            )
        else:
            allowed, states = self._local_limiter.check(buckets, plan)
        return PolicySnapshot(
            revoked=revoked,
            # Without a remembered subscription there is nothing to judge: skip the check.
            subscription=subscription,
            subscription_source=LAST_KNOWN,
            read_only=None,  # only writes are refused for it, and no write gets here with a tenant
            demo_session_alive=True,  # unknown: the authorizer checked it, expiry is checked per request
            rate_allowed=allowed,
            buckets=states,
            circuit=UNKNOWN,  # the breakers fail open without Redis
        )

    def _log_outage(self, error: Exception) -> None:
        """Once per interval, not once per request: an outage must not flood the logs."""
        now = time.monotonic()
        if now - self._outage_logged_at >= OUTAGE_LOG_INTERVAL_SECONDS:
            self._outage_logged_at = now
            logger.error(
                "Redis unavailable: policies run on this container's last known values",
                extra={
                    "error": type(error).__name__,
                    "rate_limit_mode": self._policy.rate_limit_when_redis_down,
                    "circuit_breakers": "fail open",
                },
            )


def _rate_limited(request: PolicyRequest, buckets: tuple[BucketState, ...]) -> RateLimitedError:
    RATE_LIMIT_EXCEEDED.labels(request.route_template).inc()
    retry_after = max((bucket.retry_after_ms for bucket in buckets), default=1000)
    return RateLimitedError(
        "too many requests; retry after the time in Retry-After",
        headers={"Retry-After": str(max(1, math.ceil(retry_after / 1000)))},
    )


def rate_limit_headers(buckets: tuple[BucketState, ...]) -> Headers:
    """IETF ``RateLimit-Policy`` and ``RateLimit`` fields, one list item per bucket."""
    if not buckets:
        return []
    policy = ", ".join(f'"{b.scope.value}";q={b.limit};w={b.window_ms // 1000}' for b in buckets)
    state = ", ".join(f'"{b.scope.value}";r={b.remaining};t={math.ceil(b.reset_ms / 1000)}' for b in buckets)
    return [(RATE_LIMIT_POLICY_HEADER, policy), (RATE_LIMIT_HEADER, state)]
