"""The built-in sample demo-session service: demo sessions made as the real service makes them.

``POST /api/v1/demo/sessions`` with ``{"account_type": "professional"|"enterprise"}`` (and an
optional ``ttl_seconds``, default 30 minutes) writes the session record where the gateway reads it
(``bakery_gateway.api.demo``'s contract, in the runtime's Redis, the key expiring with the
session),
mints a demo access token with the development key pair, and answers ``201``.
``GET /api/v1/demo/accounts`` lists the two account types. ``GET /health``, which the gateway's
``GET /api/v1/health`` calls on every service, is healthy while the runtime's Redis answers.

When the runtime verifies tokens with configured keys it cannot sign one its gateway trusts:
creation then answers ``503``. Errors are RFC 9457 problems, as the gateway's own.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from bakery_gateway import bounded_json
from bakery_gateway.api.demo import DemoAccountType, DemoSession, require_demo_account_type
from bakery_gateway.api.problems import problem_body
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.constants import PROBLEM_CONTENT_TYPE, SERVICE_HEALTH_PATH
from bakery_gateway.errors import BadRequestError, GatewayError, MethodNotAllowedError, RouteNotFoundError
from bakery_gateway.settings import RedisSettings, read_settings
from bakery_local.dev_tokens import DevKeyPair

SESSIONS_PATH = "/api/v1/demo/sessions"
ACCOUNTS_PATH = "/api/v1/demo/accounts"
DEFAULT_TTL_SECONDS = 30 * 60
MAX_TTL_SECONDS = 24 * 60 * 60
ENTERPRISE_OUTLETS = 3
DEMO_ROLES = ("owner",)
ACCOUNT_DESCRIPTIONS: Mapping[DemoAccountType, str] = {
    DemoAccountType.PROFESSIONAL: "One bakery: a single tenant with its sales, production and stock.",
    DemoAccountType.ENTERPRISE: (
        f"A central bakery and its {ENTERPRISE_OUTLETS} outlets: a parent tenant and one tenant per outlet."
    ),
}


class DemoSessionsUnavailableError(GatewayError):
    status = 503
    problem_type = "demo-sessions-unavailable"
    title = "Demo sessions unavailable"


@dataclass(frozen=True)
class Answer:
    status: int
    document: Mapping[str, Any]
    content_type: str = "application/json"


def new_session(account_type: DemoAccountType, session_id: str, expires_at: int) -> DemoSession:
    """The session's tenants: ``demo-<id>-bakery``, and for enterprise its outlets."""
    parent = f"demo-{session_id}-bakery"
    outlets = (
        tuple(f"demo-{session_id}-outlet-{number}" for number in range(1, ENTERPRISE_OUTLETS + 1))
        if account_type is DemoAccountType.ENTERPRISE
        else ()
    )
    return DemoSession(session_id, account_type, parent, outlets, expires_at)


def mint_demo_token(keys: DevKeyPair, session: DemoSession, now: int) -> str:
    """An access token for the session's user, active on the parent, valid as long as the session."""
    return keys.mint(
        user_id=f"demo-user-{session.session_id}",
        tenant_id=session.parent_tenant_id,
        tenant_ids=session.tenant_ids,
        roles=DEMO_ROLES,
        ttl_seconds=session.expires_at - now,
        now=now,
        extra_claims={
            "is_demo": True,
            "demo_session_id": session.session_id,
            "demo_account_type": session.account_type.value,
        },
    )


def redis_from_environ(environ: Mapping[str, str] = os.environ) -> aioredis.Redis:
    """A client of the Redis the runtime's handlers use, read as they read it (``RedisSettings``);
    without ``REDIS_HOST``, the one on this machine."""
    settings = read_settings(RedisSettings, environ)
    return aioredis.Redis(
        host=settings.host or "127.0.0.1",
        port=settings.port,
        db=settings.db,
        password=settings.password,
        ssl=settings.tls,
        decode_responses=True,
    )


class DemoSessions:
    """The service's routes. ``keys`` is None when the runtime trusts configured keys, not the dev pair."""

    def __init__(
        self,
        keys: DevKeyPair | None,
        redis_factory: Callable[[], aioredis.Redis] = redis_from_environ,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._keys = keys
        self._redis_factory = redis_factory
        self._redis: aioredis.Redis | None = None  # made on first use, on the serving event loop
        self._clock = clock

    async def answer(self, method: str, path: str, body: bytes, request_id: str) -> Answer:
        try:
            return await self._route(method, path, body)
        except GatewayError as error:
            return Answer(error.status, problem_body(error, request_id), PROBLEM_CONTENT_TYPE)

    async def _route(self, method: str, path: str, body: bytes) -> Answer:
        routes = {SESSIONS_PATH: "POST", ACCOUNTS_PATH: "GET", SERVICE_HEALTH_PATH: "GET"}
        if path not in routes:
            raise RouteNotFoundError(f"the demo-session service has no {path}")
        if method != routes[path]:
            raise MethodNotAllowedError(f"{path} answers {routes[path]} only")
        if path == ACCOUNTS_PATH:
            return Answer(200, accounts_document())
        if path == SERVICE_HEALTH_PATH:
            return await self.health()
        return Answer(201, await self.create(body))

    async def health(self) -> Answer:
        """Healthy while the runtime's Redis, where sessions are written, answers."""
        try:
            await self._client().ping()
        except RedisError:
            return Answer(503, {"status": "unhealthy", "redis": "disconnected"})
        return Answer(200, {"status": "healthy"})

    async def create(self, body: bytes) -> dict[str, Any]:
        """Create a session from the request body; raises the ``GatewayError`` to answer with."""
        account_type, ttl_seconds = parse_creation(body)
        if self._keys is None:
            raise DemoSessionsUnavailableError(
                "the local runtime verifies tokens with configured JWT keys, so its sample demo-session "
                "service cannot sign a token the gateway trusts; unset JWT_PUBLIC_KEY(S) to use it"
            )
        now = int(self._clock())
        session = new_session(account_type, secrets.token_hex(6), now + ttl_seconds)
        await self._store(session)
        return {
            "session_id": session.session_id,
            "account_type": session.account_type.value,
            "token": mint_demo_token(self._keys, session, now),
            "parent_tenant_id": session.parent_tenant_id,
            "child_tenant_ids": list(session.child_tenant_ids),
            "tenant_ids": list(session.tenant_ids),
            "expires_at": session.expires_at,
        }

    def _client(self) -> aioredis.Redis:
        if self._redis is None:
            self._redis = self._redis_factory()
        return self._redis

    async def _store(self, session: DemoSession) -> None:
        key = redis_keyspace.demo_session_key(session.session_id)
        fields: Mapping[Any, Any] = session.to_hash()  # redis-py's key type is invariant
        try:
            async with self._client().pipeline(transaction=True) as pipeline:
                pipeline.hset(key, mapping=fields)
                pipeline.expireat(key, session.expires_at)
                await pipeline.execute()
        except RedisError as error:
            raise DemoSessionsUnavailableError("the demo session could not be recorded in Redis") from error


def parse_creation(body: bytes) -> tuple[DemoAccountType, int]:
    """The account type and lifetime a creation request asks for."""
    try:
        document = bounded_json.loads(body or b"{}", max_bytes=bounded_json.REQUEST_BODY_BYTES)
    except ValueError:
        document = None
    if not isinstance(document, dict):
        raise BadRequestError('the body must be a JSON object such as {"account_type": "enterprise"}')
    account_type = require_demo_account_type(document.get("account_type"), "account_type")
    ttl = document.get("ttl_seconds", DEFAULT_TTL_SECONDS)
    if isinstance(ttl, bool) or not isinstance(ttl, int) or not 1 <= ttl <= MAX_TTL_SECONDS:
        raise BadRequestError(f"ttl_seconds must be a whole number of seconds from 1 to {MAX_TTL_SECONDS}")
    return account_type, ttl


def accounts_document() -> dict[str, Any]:
    return {
        "account_types": [
            {"account_type": account_type.value, "description": description}
            for account_type, description in ACCOUNT_DESCRIPTIONS.items()
        ]
    }
