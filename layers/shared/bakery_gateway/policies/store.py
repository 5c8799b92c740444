"""A tenant's policy state in Redis, as the policy function reads and changes it.

The proxy reads the same keys in ``policy.lua``; ``clients.redis_keyspace`` names them. Every change reads the
value it replaces under WATCH, then writes the new value and its audit record in one MULTI/EXEC
transaction: the record's ``before`` is exactly what the change replaced, and no change is ever
stored without its record. A change that changes nothing (lifting a flag nobody set) writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError, WatchError

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.policies.audit import Actor, AuditAction, AuditRecord
from bakery_gateway.policies.subscription import Subscription
from bakery_gateway.settings import Scope
from bakery_gateway.telemetry.observability import REDIS_ERRORS

# What one outage can raise: redis-py's own errors, and the socket's.
REDIS_FAILURES = (RedisError, OSError, TimeoutError)
# A change retried this often because another one touched the same key in between gives up (503).
MAX_ATTEMPTS = 5
AUDIT_PAGE_SIZE = 500
OVERRIDE_SCOPES = (Scope.USER, Scope.TENANT)


@dataclass(frozen=True, slots=True)
class ReadOnlyFlag:
    reason: str
    detail: str | None
    set_by: str
    set_at: str  # ISO 8601, UTC

    def to_hash(self) -> dict[str, str]:
        fields = {"reason": self.reason, "detail": self.detail or ""}
        return fields | {"set_by": self.set_by, "set_at": self.set_at}

    @classmethod
    def from_hash(cls, fields: Mapping[str, str]) -> ReadOnlyFlag:
        return cls(
            reason=fields.get("reason", ""),
            detail=fields.get("detail") or None,
            set_by=fields.get("set_by", ""),
            set_at=fields.get("set_at", ""),
        )


@dataclass(frozen=True, slots=True)
class RateLimitOverride:
    requests: int
    window_seconds: int

    def to_field(self) -> str:
        """The hash field value ``policy.lua`` reads: ``requests:window_ms``."""
        return f"{self.requests}:{self.window_seconds * 1000}"

    @classmethod
    def from_field(cls, value: str | None) -> RateLimitOverride | None:
        requests, _, window_ms = (value or "").partition(":")
        if not (requests.isascii() and requests.isdigit() and window_ms.isascii() and window_ms.isdigit()):
            return None  # not one of ours: the proxy's script would not read it either
        return cls(int(requests), int(window_ms) // 1000)


@dataclass(frozen=True, slots=True)
class RateLimitOverrides:
    """A tenant's own limits, replacing the configured ones for its users and for the tenant as a whole."""

    user: RateLimitOverride | None = None
    tenant: RateLimitOverride | None = None

    def to_hash(self) -> dict[str, str]:
        limits = {Scope.USER: self.user, Scope.TENANT: self.tenant}
        return {scope.value: limit.to_field() for scope, limit in limits.items() if limit is not None}

    @classmethod
    def from_hash(cls, fields: Mapping[str, str]) -> RateLimitOverrides:
        return cls(
            user=RateLimitOverride.from_field(fields.get(Scope.USER.value)),
            tenant=RateLimitOverride.from_field(fields.get(Scope.TENANT.value)),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "user": asdict(self.user) if self.user else None,
            "tenant": asdict(self.tenant) if self.tenant else None,
        }


@dataclass(frozen=True, slots=True)
class TenantPolicy:
    tenant_id: str
    read_only: ReadOnlyFlag | None
    subscription: Subscription | None  # as the tenant service last said, while cached
    subscription_override: Subscription | None
    rate_limit_overrides: RateLimitOverrides

    def to_json(self) -> dict[str, Any]:
        return {
            "tenant_id": self.tenant_id,
            "read_only": asdict(self.read_only) if self.read_only else None,
            "subscription": asdict(self.subscription) if self.subscription else None,
            "subscription_override": (
                asdict(self.subscription_override) if self.subscription_override else None
            ),
            "rate_limit_overrides": self.rate_limit_overrides.to_json(),
        }


@dataclass(frozen=True, slots=True)
class _KeyFamily:
    """One kind of tenant policy state: its key, and the JSON view of a stored hash (for audits)."""

    key: Callable[[str], str]
    view: Callable[[Mapping[str, str]], Any]


_READ_ONLY = _KeyFamily(redis_keyspace.read_only_key, lambda fields: asdict(ReadOnlyFlag.from_hash(fields)))
_SUBSCRIPTION = _KeyFamily(
    redis_keyspace.subscription_key, lambda fields: asdict(Subscription.from_hash(fields))
)
_SUBSCRIPTION_OVERRIDE = _KeyFamily(
    redis_keyspace.subscription_override_key, lambda fields: asdict(Subscription.from_hash(fields))
)
_RATE_LIMITS = _KeyFamily(
    redis_keyspace.rate_limit_overrides_key, lambda fields: RateLimitOverrides.from_hash(fields).to_json()
)


class TenantPolicyStore:
    """Reads and audited changes of tenant policy state; ``RedisUnavailableError`` when Redis fails.

    ``redis`` is a ``redis.asyncio.Redis`` (or fakeredis's) created with ``decode_responses=True``.
    """

    def __init__(
        self, redis: Any, *, subscription_cache_seconds: int, clock: Callable[[], float] = time.time
    ) -> None:
        self._redis = redis
        self._subscription_cache_seconds = subscription_cache_seconds
        self._clock = clock

    async def read(self, tenant_id: str) -> TenantPolicy:
        families = (_READ_ONLY, _SUBSCRIPTION, _SUBSCRIPTION_OVERRIDE, _RATE_LIMITS)
        try:
            async with self._redis.pipeline(transaction=False) as pipeline:
                for family in families:
                    pipeline.hgetall(family.key(tenant_id))
                read_only, cached, override, limits = await pipeline.execute()
        except REDIS_FAILURES as error:
            raise _unavailable("read", error) from error
        return TenantPolicy(
            tenant_id=tenant_id,
            read_only=ReadOnlyFlag.from_hash(read_only) if read_only else None,
            subscription=Subscription.from_hash(cached) if cached else None,
            subscription_override=Subscription.from_hash(override) if override else None,
            rate_limit_overrides=RateLimitOverrides.from_hash(limits),
        )

    async def set_read_only(
        self, tenant_id: str, reason: str, detail: str | None, actor: Actor
    ) -> AuditRecord | None:
        flag = ReadOnlyFlag(reason, detail, set_by=actor.user_id, set_at=self._now())
        return await self._replace(_READ_ONLY, tenant_id, flag.to_hash(), AuditAction.READ_ONLY_SET, actor)

    async def lift_read_only(self, tenant_id: str, actor: Actor) -> AuditRecord | None:
        return await self._replace(_READ_ONLY, tenant_id, None, AuditAction.READ_ONLY_LIFTED, actor)

    async def set_subscription_override(
        self, tenant_id: str, subscription: Subscription, actor: Actor
    ) -> AuditRecord | None:
        action = AuditAction.SUBSCRIPTION_OVERRIDE_SET
        return await self._replace(_SUBSCRIPTION_OVERRIDE, tenant_id, subscription.to_hash(), action, actor)

    async def remove_subscription_override(self, tenant_id: str, actor: Actor) -> AuditRecord | None:
        action = AuditAction.SUBSCRIPTION_OVERRIDE_REMOVED
        return await self._replace(_SUBSCRIPTION_OVERRIDE, tenant_id, None, action, actor)

    async def set_rate_limit_overrides(
        self, tenant_id: str, overrides: RateLimitOverrides, actor: Actor
    ) -> AuditRecord | None:
        action = AuditAction.RATE_LIMITS_SET
        return await self._replace(_RATE_LIMITS, tenant_id, overrides.to_hash(), action, actor)

    async def remove_rate_limit_overrides(self, tenant_id: str, actor: Actor) -> AuditRecord | None:
        return await self._replace(_RATE_LIMITS, tenant_id, None, AuditAction.RATE_LIMITS_REMOVED, actor)

    async def cache_subscription(
        self, tenant_id: str, subscription: Subscription, actor: Actor
    ) -> AuditRecord | None:
        """The tenant service's word, cached as the proxy caches its own look-ups (same TTLs)."""
        ttl = redis_keyspace.subscription_ttl(subscription.status, self._subscription_cache_seconds)
        action = AuditAction.SUBSCRIPTION_PUSHED
        return await self._replace(_SUBSCRIPTION, tenant_id, subscription.to_hash(), action, actor, ttl=ttl)

    async def invalidate_subscription(self, tenant_id: str, actor: Actor) -> AuditRecord | None:
        """Forget the cached record: the proxy asks the tenant service on the tenant's next request."""
        action = AuditAction.SUBSCRIPTION_INVALIDATED
        return await self._replace(_SUBSCRIPTION, tenant_id, None, action, actor)

    async def audit_trail(self, tenant_id: str, limit: int) -> list[AuditRecord]:
        """The tenant's latest ``limit`` records, newest first (one stream holds every tenant's)."""
        records: list[AuditRecord] = []
        newest = "+"
        try:
            while len(records) < limit:
                page = await self._redis.xrevrange(
                    redis_keyspace.AUDIT_STREAM, max=newest, min="-", count=AUDIT_PAGE_SIZE
                )
                records += [
                    AuditRecord.from_stream_entry(entry_id, fields)
                    for entry_id, fields in page
                    if fields.get("tenant_id") == tenant_id
                ]
                if len(page) < AUDIT_PAGE_SIZE:
                    break
                newest = "(" + page[-1][0]  # exclusive: older than the last entry read
        except REDIS_FAILURES as error:
            raise _unavailable("audit_read", error) from error
        return records[:limit]

    async def _replace(
        self,
        family: _KeyFamily,
        tenant_id: str,
        fields: Mapping[str, str] | None,
        action: AuditAction,
        actor: Actor,
        *,
        ttl: int | None = None,
    ) -> AuditRecord | None:
        """Replace one key's hash (None: delete it) and append the audit record, in one transaction.

        Returns the record, or None when the state was already so (a TTL is still renewed).
        """
        key = family.key(tenant_id)
        after = family.view(fields) if fields else None
        try:
            async with self._redis.pipeline(transaction=True) as transaction:
                for _ in range(MAX_ATTEMPTS):
                    try:
                        await transaction.watch(key)
                        stored = await transaction.hgetall(key)
                        before = family.view(stored) if stored else None
                        if before == after and not (fields and ttl):
                            await transaction.unwatch()
                            return None
                        record = None
                        if before != after:
                            record = AuditRecord(action, tenant_id, actor, self._now(), before, after)
                        transaction.multi()
                        transaction.delete(key)
                        if fields:
                            transaction.hset(key, mapping=dict(fields))
                            if ttl:
                                transaction.expire(key, ttl)
                        if record is not None:
                            transaction.xadd(
                                redis_keyspace.AUDIT_STREAM,
                                record.to_stream_fields(),
                                maxlen=redis_keyspace.AUDIT_MAX_ENTRIES,
                                approximate=True,
                            )
                        await transaction.execute()
                        return record
                    except WatchError:
                        continue  # another change got in between: read again
        except REDIS_FAILURES as error:
            raise _unavailable("policy_change", error) from error
        REDIS_ERRORS.labels("policy_change").inc()
        raise RedisUnavailableError(f"{key} kept changing under concurrent writes")

    def _now(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds")


def _unavailable(operation: str, error: Exception) -> RedisUnavailableError:
    REDIS_ERRORS.labels(operation).inc()
    return RedisUnavailableError(f"tenant policy {operation} failed: {type(error).__name__}")
