"""API keys administered through the policy function (operators only; docs/api-keys.md).

    POST   /api/v1/admin/tenants/{tenant_id}/api-keys            {name, services, expires_at?, roles?}
    GET    /api/v1/admin/tenants/{tenant_id}/api-keys            the tenant's keys (never a secret)
    DELETE /api/v1/admin/tenants/{tenant_id}/api-keys/{key_id}   revoke

The key is in the creation answer once and nowhere else: Redis keeps its SHA-256 only. Each change
is written with its audit record in one MULTI/EXEC, as the tenant policy changes are (``store.py``).
A revocation deletes the record (the authorizer refuses the key on its next invocation) and sets
the revocation marker of the key's principal, which the proxy's policy script reads on every request
in its one round trip: the key is refused at once, even while API Gateway still caches its verdict.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from redis.exceptions import WatchError

from bakery_gateway.authentication import api_keys
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.clients.factories import PerEventLoop
from bakery_gateway.constants import API_KEY_ROLE
from bakery_gateway.errors import RedisUnavailableError, RouteNotFoundError
from bakery_gateway.policies.admin_bodies import invalid_field, parse_body
from bakery_gateway.policies.audit import Actor, AuditAction, AuditRecord, log_change
from bakery_gateway.policies.store import MAX_ATTEMPTS, REDIS_FAILURES

API_KEYS_ROUTE = "/api/v1/admin/tenants/{tenant_id}/api-keys"
KEY_ID_PATTERN = r"^[0-9a-f]{16}$"
ROLE_PATTERN = r"^[a-z][a-z0-9_-]{0,63}$"
MAX_SERVICES = 32
MAX_ROLES = 8

RoleName = Annotated[str, Field(pattern=ROLE_PATTERN)]


class CreateApiKeyBody(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=100)
    services: list[str] = Field(min_length=1, max_length=MAX_SERVICES)
    expires_at: int | str | None = None  # epoch seconds or ISO 8601 with a zone; none: never
    roles: list[RoleName] = Field(default_factory=list, max_length=MAX_ROLES)

    def checked_services(self) -> tuple[str, ...]:
        unknown = sorted(set(self.services) - api_keys.SCOPE_NAMES)
        if unknown:
            known = ", ".join(sorted(api_keys.SCOPE_NAMES))
            raise invalid_field("services", f"unknown service(s) {', '.join(unknown)}; known: {known}")
        return tuple(dict.fromkeys(self.services))

    def checked_roles(self) -> tuple[str, ...]:
        if privileged := sorted(set(self.roles) & api_keys.PRIVILEGED_ROLES):
            raise invalid_field("roles", f"an API key may not hold {', '.join(privileged)}")
        return tuple(dict.fromkeys([API_KEY_ROLE, *self.roles]))

    def checked_expiry(self, now: float) -> int | None:
        if self.expires_at is None:
            return None
        try:
            if isinstance(self.expires_at, int):
                expires_at = self.expires_at
            else:
                moment = datetime.fromisoformat(self.expires_at)
                if moment.tzinfo is None:
                    raise ValueError("no time zone")
                expires_at = int(moment.timestamp())
        except ValueError:
            raise invalid_field("expires_at", "must be epoch seconds or ISO 8601 with a time zone") from None
        if expires_at <= now:
            raise invalid_field("expires_at", "must be in the future")
        return expires_at


class ApiKeyStore:
    """Creation, listing and revocation; ``RedisUnavailableError`` whenever Redis fails."""

    def __init__(self, redis: Any, *, clock: Callable[[], float] = time.time) -> None:
        self._redis = redis
        self._clock = clock

    async def create(
        self,
        tenant_id: str,
        *,
        name: str,
        services: tuple[str, ...],
        roles: tuple[str, ...],
        expires_at: int | None,
        actor: Actor,
    ) -> tuple[str, api_keys.ApiKeyRecord, AuditRecord]:
        """The new key (shown once), its record, and the audit record stored with it."""
        new = api_keys.generate()
        record = api_keys.ApiKeyRecord(
            key_id=new.key_id,
            key_hash=new.key_hash,
            tenant_id=tenant_id,
            services=services,
            roles=roles,
            name=name,
            created_at=int(self._clock()),
            created_by=actor.user_id,
            expires_at=expires_at,
        )
        audit = self._audit(AuditAction.API_KEY_CREATED, tenant_id, actor, None, record.to_json())
        key = redis_keyspace.api_key_key(new.key_id)
        try:
            async with self._redis.pipeline(transaction=True) as transaction:
                transaction.hset(key, mapping=record.to_hash())
                if expires_at is not None:
                    transaction.expireat(key, expires_at)
                transaction.sadd(redis_keyspace.api_key_tenant_key(tenant_id), new.key_id)
                self._append(transaction, audit)
                await transaction.execute()
        except REDIS_FAILURES as error:
            raise RedisUnavailableError(f"API key creation failed: {type(error).__name__}") from error
        return new.key, record, audit

    async def list(self, tenant_id: str) -> list[api_keys.ApiKeyRecord]:
        """The tenant's live keys, oldest first; ids of expired records are pruned from the index."""
        index = redis_keyspace.api_key_tenant_key(tenant_id)
        try:
            key_ids = sorted(await self._redis.smembers(index))
            async with self._redis.pipeline(transaction=False) as pipeline:
                for key_id in key_ids:
                    pipeline.hgetall(redis_keyspace.api_key_key(key_id))
                found = await pipeline.execute() if key_ids else []
            gone = [key_id for key_id, fields in zip(key_ids, found, strict=True) if not fields]
            if gone:
                await self._redis.srem(index, *gone)
        except REDIS_FAILURES as error:
            raise RedisUnavailableError(f"API key listing failed: {type(error).__name__}") from error
        records = [
            api_keys.ApiKeyRecord.from_hash(key_id, fields)
            for key_id, fields in zip(key_ids, found, strict=True)
            if fields
        ]
        return sorted(records, key=lambda record: (record.created_at, record.key_id))

    async def revoke(self, tenant_id: str, key_id: str, actor: Actor) -> AuditRecord | None:
        """Revoke a key of ``tenant_id``; None when it has no such key (revoked, expired, another's)."""
        key = redis_keyspace.api_key_key(key_id)
        try:
            async with self._redis.pipeline(transaction=True) as transaction:
                for _ in range(MAX_ATTEMPTS):
                    try:
                        await transaction.watch(key)
                        fields = await transaction.hgetall(key)
                        if not fields or fields.get("tenant_id") != tenant_id:
                            await transaction.unwatch()
                            return None
                        record = api_keys.ApiKeyRecord.from_hash(key_id, fields)
                        audit = self._audit(
                            AuditAction.API_KEY_REVOKED, tenant_id, actor, record.to_json(), None
                        )
                        transaction.multi()
                        transaction.delete(key)
                        transaction.srem(redis_keyspace.api_key_tenant_key(tenant_id), key_id)
                        transaction.set(
                            redis_keyspace.revoked_key(api_keys.principal(key_id)),
                            "1",
                            ex=redis_keyspace.API_KEY_REVOCATION_TTL_SECONDS,
                        )
                        self._append(transaction, audit)
                        await transaction.execute()
                        return audit
                    except WatchError:
                        continue
        except REDIS_FAILURES as error:
            raise RedisUnavailableError(f"API key revocation failed: {type(error).__name__}") from error
        raise RedisUnavailableError(f"{key} kept changing under concurrent writes")

    def _audit(
        self, action: AuditAction, tenant_id: str, actor: Actor, before: Any, after: Any
    ) -> AuditRecord:
        now = datetime.fromtimestamp(self._clock(), UTC).isoformat(timespec="milliseconds")
        return AuditRecord(action, tenant_id, actor, now, before, after)

    @staticmethod
    def _append(transaction: Any, audit: AuditRecord) -> None:
        transaction.xadd(
            redis_keyspace.AUDIT_STREAM,
            audit.to_stream_fields(),
            maxlen=redis_keyspace.AUDIT_MAX_ENTRIES,
            approximate=True,
        )


def install_api_key_routes(
    app: FastAPI,
    *,
    authorized: Callable[[Request], Awaitable[Actor]],
    tenant: Callable[[Request, str], str],
    redis_clients: PerEventLoop[Any],
    clock: Callable[[], float] = time.time,
) -> None:
    """The three routes, on the policy function's app; ``authorized`` admits operators only."""

    def store() -> ApiKeyStore:
        return ApiKeyStore(redis_clients.get(), clock=clock)

    @app.post(API_KEYS_ROUTE, status_code=201)
    async def create_api_key(request: Request, tenant_id: str, response: Response) -> dict[str, Any]:
        actor = await authorized(request)
        tenant_id = tenant(request, tenant_id)
        body = parse_body(CreateApiKeyBody, await request.body())
        key, record, audit = await store().create(
            tenant_id,
            name=body.name,
            services=body.checked_services(),
            roles=body.checked_roles(),
            expires_at=body.checked_expiry(clock()),
            actor=actor,
        )
        log_change(audit)
        # The one answer that holds the secret: no cache may keep it.
        response.headers["cache-control"] = "no-store"
        return {"key": key, **record.to_json()}

    @app.get(API_KEYS_ROUTE)
    async def list_api_keys(request: Request, tenant_id: str) -> dict[str, Any]:
        await authorized(request)
        tenant_id = tenant(request, tenant_id)
        records = await store().list(tenant_id)
        return {"tenant_id": tenant_id, "api_keys": [record.to_json() for record in records]}

    @app.delete(API_KEYS_ROUTE + "/{key_id}", status_code=204)
    async def revoke_api_key(request: Request, tenant_id: str, key_id: str) -> Response:
        actor = await authorized(request)
        tenant_id = tenant(request, tenant_id)
        if not re.fullmatch(KEY_ID_PATTERN, key_id):
            raise invalid_field("key_id", "must be the 16 hex digits of a key's id")
        audit = await store().revoke(tenant_id, key_id, actor)
        if audit is None:
            raise RouteNotFoundError(f"tenant {tenant_id} has no API key {key_id}")
        log_change(audit)
        return Response(status_code=204)
