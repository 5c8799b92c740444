"""WebSocket connections and their topics in Redis (key families in ``clients.redis_keyspace``).

``$connect`` registers a connection with the identity the authorizer verified; ``subscribe`` adds it
to a topic the caller may see; ``$disconnect`` (or a post answering 410 Gone) removes it everywhere.
The client (``clients.factories.sync_redis``) decodes responses.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import RedisError

from bakery_gateway import bounded_json
from bakery_gateway.api.identity import Identity
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import RedisUnavailableError, TenantAccessError
from bakery_gateway.policies.tenancy import select_tenant
from bakery_gateway.realtime.websocket.messages import MessageError, Request
from bakery_gateway.telemetry.observability import REDIS_ERRORS

if TYPE_CHECKING:
    import redis

# A client that subscribes to more than this is refused: topics are a few per page, not thousands.
MAX_SUBSCRIPTIONS = 50
SUBSCRIPTIONS_FIELD = "subscriptions"
IDENTITY_FIELD = "identity"  # the authorizer context as JSON, to rebuild the Identity per message
# When the connection's authorization ends (the token's exp, or the demo session's end, whichever is
# first), and the token's id: what delivery checks before posting (``ended``).
ENDS_AT_FIELD = "ends_at"
JTI_FIELD = "jti"
EXPIRED = "token-expired"
REVOKED = "token-revoked"


class NotAuthenticatedError(Exception):
    """A ``$connect`` without an authenticated authorizer context: a wiring mistake, refused."""


def ends_at(identity: Identity) -> int:
    """When the caller's authorization ends: its token's expiry, or its demo session's end."""
    if identity.demo_expires_at:
        return min(identity.expires_at, identity.demo_expires_at)
    return identity.expires_at


def identity_from_authorizer(authorizer: object) -> Identity:
    """The caller from a WebSocket event's ``requestContext.authorizer``.

    A WebSocket REQUEST authorizer's context may arrive with every value as a string ("true",
    "1767225600", a JSON list as text), flat in ``authorizer`` or under ``lambda``: both are read.
    """
    if not isinstance(authorizer, Mapping):
        raise NotAuthenticatedError("no authorizer context")
    nested = authorizer.get("lambda")
    context: Mapping[str, Any] = nested if isinstance(nested, Mapping) else authorizer
    if context.get("authenticated") not in (True, "true", "True"):
        raise NotAuthenticatedError(str(context.get("reason") or "not authenticated"))
    try:
        return Identity.from_context(context)
    except (KeyError, TypeError, ValueError) as error:
        raise NotAuthenticatedError("the authorizer context is malformed") from error


class Connections:
    def __init__(self, client: redis.Redis, *, clock: Callable[[], float] = time.time) -> None:
        self._client = client
        self._clock = clock

    def register(self, connection_id: str, identity: Identity) -> None:
        key = redis_keyspace.ws_connection_key(connection_id)
        record: dict[Any, str] = {
            "user_id": identity.user_id,
            "tenant_id": identity.tenant_id or "",
            "tenant_ids": json.dumps(list(identity.tenant_ids)),
            SUBSCRIPTIONS_FIELD: "[]",
            "connected_at": str(int(self._clock())),
            IDENTITY_FIELD: json.dumps(identity.to_context()),
            ENDS_AT_FIELD: str(ends_at(identity)),
            JTI_FIELD: identity.jti,
        }
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(key, mapping=record)
                pipe.expire(key, redis_keyspace.WS_CONNECTION_TTL_SECONDS)
                pipe.execute()
        except RedisError as error:
            raise _unavailable("ws_register", error) from error

    def subscribe(self, connection_id: str, request: Request) -> str:
        """Add the connection to the request's topic; the full topic name. ``MessageError`` when refused."""
        identity = self._identity(connection_id)
        topic = topic_for(identity, request)
        self._change(connection_id, topic, add=True)
        return topic

    def unsubscribe(self, connection_id: str, request: Request) -> str:
        topic = topic_for(self._identity(connection_id), request)
        self._change(connection_id, topic, add=False)
        return topic

    def remove(self, connection_id: str) -> None:
        """Forget the connection and take it out of every topic it joined (``$disconnect``, 410 Gone)."""
        key = redis_keyspace.ws_connection_key(connection_id)
        try:
            topics = _topics(self._client.hget(key, SUBSCRIPTIONS_FIELD))
            with self._client.pipeline(transaction=True) as pipe:
                for topic in topics:
                    pipe.srem(redis_keyspace.ws_subscribers_key(topic), connection_id)
                pipe.delete(key)
                pipe.execute()
        except RedisError as error:
            raise _unavailable("ws_remove", error) from error

    def drop_subscriber(self, topic: str, connection_id: str) -> None:
        """Take a connection out of one topic (a member whose record already expired)."""
        try:
            self._client.srem(redis_keyspace.ws_subscribers_key(topic), connection_id)
        except RedisError as error:
            raise _unavailable("ws_remove", error) from error

    def subscribers(self, topic: str) -> set[str]:
        try:
            members = self._client.smembers(redis_keyspace.ws_subscribers_key(topic))
        except RedisError as error:
            raise _unavailable("ws_subscribers", error) from error
        return {_text(member) for member in members}

    def ended(self, connection_ids: Sequence[str]) -> dict[str, str]:
        """The connections among ``connection_ids`` whose authorization has ended since they
        connected, with why (``token-expired``, ``token-revoked``): two pipelined round trips for
        any number of connections. A connection without a record is not judged here (a post to it
        answers 410)."""
        now = self._clock()
        try:
            with self._client.pipeline(transaction=False) as pipe:
                for connection_id in connection_ids:
                    pipe.hmget(redis_keyspace.ws_connection_key(connection_id), ENDS_AT_FIELD, JTI_FIELD)
                records = pipe.execute()
            reasons: dict[str, str] = {}
            to_check: list[tuple[str, str]] = []
            for connection_id, (ends, jti) in zip(connection_ids, records, strict=True):
                if ends is not None and int(_text(ends)) <= now:
                    reasons[connection_id] = EXPIRED
                elif jti is not None:
                    to_check.append((connection_id, _text(jti)))
            if to_check:
                with self._client.pipeline(transaction=False) as pipe:
                    for _, jti in to_check:
                        pipe.exists(redis_keyspace.revoked_key(jti))
                    revoked = pipe.execute()
                reasons.update(
                    {cid: REVOKED for (cid, _), gone in zip(to_check, revoked, strict=True) if gone}
                )
        except RedisError as error:
            raise _unavailable("ws_lookup", error) from error
        return reasons

    def _identity(self, connection_id: str) -> Identity:
        """The connection's caller; ``MessageError`` when the connection is unknown, or its token
        has expired or was revoked since it connected (the client reconnects with a fresh one)."""
        key = redis_keyspace.ws_connection_key(connection_id)
        try:
            identity = _stored_identity(self._client.hget(key, IDENTITY_FIELD))
            revoked = identity is not None and self._client.exists(redis_keyspace.revoked_key(identity.jti))
        except RedisError as error:
            raise _unavailable("ws_lookup", error) from error
        if identity is None:
            raise MessageError("not-connected", "this connection is unknown or expired; reconnect")
        if ends_at(identity) <= self._clock():
            raise MessageError(EXPIRED, "the token of this connection has expired; reconnect")
        if revoked:
            raise MessageError(REVOKED, "the token of this connection was revoked; reconnect")
        return identity

    def _change(self, connection_id: str, topic: str, *, add: bool) -> None:
        key = redis_keyspace.ws_connection_key(connection_id)
        subscribers = redis_keyspace.ws_subscribers_key(topic)

        def update(pipe: Any) -> None:
            topics = _topics(pipe.hget(key, SUBSCRIPTIONS_FIELD))
            if add and topic not in topics and len(topics) >= MAX_SUBSCRIPTIONS:
                raise MessageError("too-many-subscriptions", f"at most {MAX_SUBSCRIPTIONS} per connection")
            if add:
                changed = topics if topic in topics else [*topics, topic]
            else:
                changed = [name for name in topics if name != topic]
            pipe.multi()
            pipe.hset(key, SUBSCRIPTIONS_FIELD, json.dumps(changed))
            if add:
                pipe.sadd(subscribers, connection_id)
                pipe.expire(subscribers, redis_keyspace.WS_CONNECTION_TTL_SECONDS)
            else:
                pipe.srem(subscribers, connection_id)

        try:
            self._client.transaction(update, key)
        except RedisError as error:
            raise _unavailable("ws_subscribe", error) from error


def topic_for(identity: Identity, request: Request) -> str:
    """The full topic of an (un)subscribe request, for a tenant the caller may act on."""
    try:
        tenant_id = select_tenant(identity, request.tenant_id, None)
    except TenantAccessError:
        raise MessageError("forbidden", "this account may not act on that tenant") from None
    if tenant_id is None:
        raise MessageError("bad-request", "the token names no active tenant: give a tenant_id")
    if request.topic == "training":
        return redis_keyspace.training_topic(tenant_id, request.job_id or "")
    return redis_keyspace.alerts_topic(tenant_id)


def _stored_identity(raw: object) -> Identity | None:
    """The identity a connection was registered with; None (unknown: reconnect) when unreadable."""
    if raw is None:
        return None
    try:
        return Identity.from_context(
            bounded_json.loads(_text(raw), max_bytes=bounded_json.STORED_RECORD_BYTES)
        )
    except (KeyError, TypeError, ValueError):
        return None


def _topics(raw: object) -> list[str]:
    try:
        decoded = (
            bounded_json.loads(_text(raw), max_bytes=bounded_json.STORED_RECORD_BYTES)
            if raw is not None
            else []
        )
    except ValueError:
        return []
    return [str(topic) for topic in decoded] if isinstance(decoded, list) else []


def _text(value: object) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _unavailable(operation: str, error: RedisError) -> RedisUnavailableError:
    REDIS_ERRORS.labels(operation=operation).inc()
    return RedisUnavailableError(f"WebSocket connection state unavailable ({operation})")
