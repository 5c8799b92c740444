"""Accepting an alert: once per alert id, then stored and published together or not at all.

The contract with the readers (SSE, WebSocket delivery) is in ``clients.redis_keyspace``: the tenant's stream,
whose entries have one field holding the alert as JSON, and the tenant's pub/sub channel carrying
the same JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.realtime.alerts.model import Alert
from bakery_gateway.telemetry.observability import REDIS_ERRORS

if TYPE_CHECKING:
    import redis


@dataclass(frozen=True, slots=True)
class Accepted:
    alert_id: str
    stream_id: str | None  # None for a duplicate: the alert was stored by an earlier delivery
    duplicate: bool = False


def accept(client: redis.Redis, alert: Alert, max_length: int, *, publish: bool = True) -> Accepted:
    """Store ``alert`` in its tenant's stream (trimmed to about ``max_length``) and publish it.

    ``publish=False`` is for an alert that arrived on the channel itself (``subscriber``): its
    listeners have it already.

    The seen key (SET NX) makes a retried delivery a no-op. XADD and PUBLISH run in one MULTI/EXEC;
    when that fails the seen key is released, so the retry that the caller's error causes stores it.
    """
    seen = redis_keyspace.alert_seen_key(alert.alert_id)
    document = alert.to_json()
    try:
        if not client.set(seen, "1", nx=True, ex=redis_keyspace.ALERT_SEEN_TTL_SECONDS):
            return Accepted(alert.alert_id, None, duplicate=True)
    except RedisError as error:
        REDIS_ERRORS.labels(operation="alert_seen").inc()
        raise RedisUnavailableError("could not check the alert id") from error
    try:
        with client.pipeline(transaction=True) as pipe:
            pipe.xadd(
                redis_keyspace.alert_stream_key(alert.tenant_id),
                {redis_keyspace.ALERT_STREAM_FIELD: document},
                maxlen=max_length,
                approximate=True,
            )
            if publish:
                pipe.publish(redis_keyspace.alert_channel(alert.tenant_id), document)
            stream_id = pipe.execute()[0]
    except RedisError as error:
        REDIS_ERRORS.labels(operation="alert_store").inc()
        _release(client, seen)
        raise RedisUnavailableError("could not store the alert") from error
    return Accepted(alert.alert_id, stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id))


def _release(client: redis.Redis, seen: str) -> None:
    try:
        client.delete(seen)
    except RedisError:
        # Redis is gone: the seen key may outlive the failure, and a retry within its TTL is then
        # taken for a duplicate. The error already raised tells the producer to look.
        REDIS_ERRORS.labels(operation="alert_seen_release").inc()
