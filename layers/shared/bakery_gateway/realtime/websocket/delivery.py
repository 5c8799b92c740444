"""Posting one payload to every connection of a topic, through the ``@connections`` API.

Posts run concurrently (``WEBSOCKET_POST_CONCURRENCY`` at once) on an event loop of the calling
thread, created once and kept, so the management client's pooled connections serve every later
delivery. Deliveries to one topic in one process are serialized (``TopicLocks``): a payload reaches
every connection of the topic before the next payload is posted to any of them.

Before posting, connections whose token has expired or was revoked (logout) since they connected
are sent ``{"type": "closing", "reason": ...}`` and closed (``DELETE``), and forgotten.

A post that answers 410 Gone removes *that* connection — never another one, and never the one whose
message caused the delivery (the mistake of the SAM chat sample). Throttling (429 /
``LimitExceededException``) is retried with exponential backoff and jitter. Every post's outcome is
counted in ``gateway_websocket_deliveries_total{outcome}``. Delivery never raises: whatever it
carries is already stored (the alert stream) or transient (training progress).
"""

from __future__ import annotations

import asyncio
import json
import random
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bakery_gateway.api.platform_limits import WEBSOCKET_MESSAGE_BYTES
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.realtime.websocket.connections import Connections
from bakery_gateway.realtime.websocket.delivery_order import TOPIC_LOCKS, TopicLocks
from bakery_gateway.realtime.websocket.management_api import ManagementApi, PostAnswer
from bakery_gateway.telemetry.observability import WEBSOCKET_DELIVERIES, logger

THROTTLING_CODES = frozenset({"LimitExceededException", "ThrottlingException", "TooManyRequestsException"})
GONE_CODES = frozenset({"GoneException"})
# "closed": the connection's token had expired or was revoked: told why and closed, not posted to.
OUTCOMES = ("delivered", "gone", "throttled", "failed", "too_large", "not_configured", "closed")


@dataclass
class Report:
    topic: str
    outcomes: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: str, count: int = 1) -> None:
        WEBSOCKET_DELIVERIES.labels(outcome=outcome).inc(count)
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + count

    def as_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, **{outcome: self.outcomes.get(outcome, 0) for outcome in OUTCOMES}}


_thread_state = threading.local()


def thread_loop() -> asyncio.AbstractEventLoop:
    """The calling thread's delivery loop, created on its first delivery and then reused (never
    ``asyncio.run`` per call, which would close the pooled connections bound to the loop)."""
    loop: asyncio.AbstractEventLoop | None = getattr(_thread_state, "loop", None)
    if loop is None or loop.is_closed():
        loop = asyncio.new_event_loop()
        _thread_state.loop = loop
    return loop


class Delivery:
    """``deliver`` is synchronous (the fanout handler, the subscriber's thread); it must not be
    called from a thread that is running an event loop."""

    def __init__(
        self,
        connections: Connections,
        api: ManagementApi | None,
        *,
        concurrency: int = 64,
        max_attempts: int = 4,
        backoff_seconds: float = 0.05,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        locks: TopicLocks = TOPIC_LOCKS,
    ) -> None:
        self._connections = connections
        self._api = api
        self._concurrency = concurrency
        self._max_attempts = max_attempts
        self._backoff_seconds = backoff_seconds
        self._sleep = sleep
        self._locks = locks

    def deliver(self, topic: str, payload: Mapping[str, Any]) -> Report:
        """Post ``payload`` (as JSON) to every connection subscribed to ``topic``; after every post of
        an earlier ``deliver`` to the same topic has completed."""
        with self._locks.hold(topic):
            return self._deliver(topic, payload)

    def _deliver(self, topic: str, payload: Mapping[str, Any]) -> Report:
        report = Report(topic)
        try:
            connection_ids = sorted(self._connections.subscribers(topic))
        except RedisUnavailableError as error:
            logger.warning("WebSocket subscribers unavailable", extra={"topic": topic, "reason": str(error)})
            return report
        if not connection_ids:
            return report
        if self._api is None:
            logger.warning(
                "WEBSOCKET_MANAGEMENT_URL not set: WebSocket delivery skipped", extra={"topic": topic}
            )
            report.add("not_configured", len(connection_ids))
            return report
        data = json.dumps(payload, separators=(",", ":")).encode()
        if len(data) > WEBSOCKET_MESSAGE_BYTES:  # API Gateway's: more is refused
            logger.warning("payload over 128 KB: not posted", extra={"topic": topic, "bytes": len(data)})
            report.add("too_large", len(connection_ids))
            return report
        ended = self._ended(connection_ids)
        live = [connection_id for connection_id in connection_ids if connection_id not in ended]
        loop = thread_loop()
        if ended:
            loop.run_until_complete(self._close_all(self._api, ended))
            for connection_id in ended:
                report.add("closed")
                self._forget(topic, connection_id)
        outcomes = loop.run_until_complete(self._post_all(self._api, live, data))
        for connection_id, outcome in zip(live, outcomes, strict=True):
            report.add(outcome)
            if outcome == "gone":
                self._forget(topic, connection_id)
        return report

    def _ended(self, connection_ids: Sequence[str]) -> dict[str, str]:
        """Connections whose token expired or was revoked since they connected. Redis failing here
        delays that judgement to the next delivery; the payload still goes out."""
        try:
            return self._connections.ended(connection_ids)
        except RedisUnavailableError as error:
            logger.warning("WebSocket token check unavailable", extra={"reason": str(error)})
            return {}

    async def _close_all(self, api: ManagementApi, ended: Mapping[str, str]) -> None:
        """Tell each ended connection why, then close it (``DELETE @connections``), as a logout or an
        expired token would be refused on any HTTP request."""
        limit = asyncio.Semaphore(self._concurrency)

        async def close(connection_id: str, reason: str) -> None:
            notice = json.dumps({"type": "closing", "reason": reason}, separators=(",", ":")).encode()
            async with limit:
                try:
                    await api.post(connection_id, notice)
                    await api.delete(connection_id)
                except Exception as error:  # closing is best effort: the record goes anyway
                    logger.warning("WebSocket close failed", extra={"reason": str(error)})

        await asyncio.gather(*(close(connection_id, reason) for connection_id, reason in ended.items()))

    async def _post_all(self, api: ManagementApi, connection_ids: Sequence[str], data: bytes) -> list[str]:
        limit = asyncio.Semaphore(self._concurrency)

        async def post(connection_id: str) -> str:
            async with limit:
                return await self._post(api, connection_id, data)

        return list(await asyncio.gather(*(post(connection_id) for connection_id in connection_ids)))

    async def _post(self, api: ManagementApi, connection_id: str, data: bytes) -> str:
        for attempt in range(self._max_attempts):
            try:
                answer = await api.post(connection_id, data)
            except Exception as error:  # no credentials or region, a bug: that post fails, others go on
                logger.warning(
                    "WebSocket post failed", extra={"code": type(error).__name__, "reason": str(error)}
                )
                return "failed"
            outcome = outcome_of(answer)
            if outcome != "throttled":
                if outcome == "failed":
                    logger.warning(
                        "WebSocket post failed", extra={"code": answer.error_type, "status": answer.status}
                    )
                return outcome
            if attempt + 1 < self._max_attempts:
                delay = self._backoff_seconds * 2**attempt
                await self._sleep(delay + random.uniform(0, delay))  # noqa: S311 - jitter, not a secret
        return "throttled"

    def _forget(self, topic: str, connection_id: str) -> None:
        """The stale connection, and only it, out of every topic (its record may be gone already)."""
        try:
            self._connections.remove(connection_id)
            self._connections.drop_subscriber(topic, connection_id)
        except RedisUnavailableError as error:
            logger.warning("stale WebSocket connection not removed", extra={"reason": str(error)})


def outcome_of(answer: PostAnswer) -> str:
    """``delivered``, ``gone``, ``throttled`` (worth a retry) or ``failed``."""
    if 200 <= answer.status < 300:
        return "delivered"
    if answer.status == 410 or answer.error_type in GONE_CODES:
        return "gone"
    if answer.status == 429 or answer.error_type in THROTTLING_CODES:
        return "throttled"
    return "failed"
