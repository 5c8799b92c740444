"""One reader per tenant's alert stream, shared by every open SSE stream of a server process.

A thousand browsers following one tenant must not mean a thousand blocking reads, nor a thousand
handler invocations per alert: the runtime keeps one ``XREAD BLOCK`` loop per followed tenant, holds
the newest entries (already rendered as ``event: alert`` blocks by the proxy's own ``sse``
functions) and wakes the streams waiting on it. A stream whose position is older than what the feed
holds reads the gap from Redis itself (``XRANGE``), so nothing between its position and the feed is
lost. Redis failing ends the waiting streams (``FeedUnavailableError``): EventSource reconnects with
``Last-Event-ID``, and the proxy answers that request (503 while Redis is down).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import FeedUnavailableError
from bakery_gateway.realtime.alerts.sse import (
    ALERT_EVENT,
    MAX_ALERTS_PER_ANSWER,
    STREAM_START,
    StreamId,
    event_block,
)

log = logging.getLogger("bakery_gateway.serve")

# How long one XREAD blocks: short enough that a stopped feed's reader ends promptly.
BLOCK_MILLISECONDS = 5000
# Entries kept in memory per tenant: streams behind by more read the rest from Redis.
CAPACITY = 2000
RETRY_SECONDS = 1.0
STOP_SECONDS = 1.0
Entry = tuple[StreamId, str]  # (stream id, the rendered event block)


def render_entries(raw: Sequence[tuple[str, Mapping[str, str]]]) -> list[Entry]:
    """``XREAD``/``XRANGE`` entries as event blocks, exactly as the proxy renders them; entries not
    written per the contract are passed over, as the proxy does."""
    rendered = []
    for entry_id, fields in raw:
        alert = fields.get(redis_keyspace.ALERT_STREAM_FIELD)
        if alert is not None:
            stream_id = StreamId.parse(entry_id)
            rendered.append((stream_id, event_block(ALERT_EVENT, alert, stream_id)))
    return rendered


class TenantFeed:
    """The newest entries of one tenant's stream, and a way to wait for more. Created in the
    event loop that serves its followers."""

    def __init__(self, client: Any, tenant_id: str, *, capacity: int = CAPACITY) -> None:
        self._client = client
        self._key = redis_keyspace.alert_stream_key(tenant_id)
        self._capacity = capacity
        self._entries: list[Entry] = []
        self._ids: list[StreamId] = []
        # Every entry newer than this is in ``_entries``; None until the reader knows where it starts.
        self._covered_after: StreamId | None = None
        self._waiting: set[asyncio.Future[None]] = set()
        self._failure: Exception | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopped = False
        self.followers = 0

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._read())

    async def stop(self) -> None:
        """Ends the reader. redis-py can swallow a cancellation that lands while it takes a
        connection from its pool: the reader then also sees ``_stopped`` after its current read."""
        self._stopped = True
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=STOP_SECONDS)

    async def after(
        self, position: StreamId, wait_seconds: float, *, interrupt: asyncio.Future[Any] | None = None
    ) -> list[Entry]:
        """The entries after ``position``, waiting up to ``wait_seconds`` for one; [] when none came
        or ``interrupt`` completed first. ``FeedUnavailableError`` while Redis fails.

        Waiting costs no task: the feed wakes each waiting follower's own future."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait_seconds
        while True:
            if self._failure is not None:
                raise FeedUnavailableError(str(self._failure))
            if self._covered_after is not None:
                if position < self._covered_after:
                    return await self._read_behind(position)
                newer = self._entries[bisect.bisect_right(self._ids, position) :]
                if newer:
                    return newer
            remaining = deadline - loop.time()
            if remaining <= 0 or (interrupt is not None and interrupt.done()):
                return []
            # A future of its own: a thousand callbacks on one shared future would make every wake
            # O(n) per follower (asyncio.wait removes its callback by a linear scan).
            woken = loop.create_future()
            self._waiting.add(woken)
            waited: set[asyncio.Future[Any]] = {woken} if interrupt is None else {woken, interrupt}
            try:
                await asyncio.wait(waited, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                self._waiting.discard(woken)

    async def _read_behind(self, position: StreamId) -> list[Entry]:
        """A stream older than the feed catches up from Redis, up to the feed's own start."""
        try:
            raw = await self._client.xrange(
                self._key, min=f"({position}", max="+", count=MAX_ALERTS_PER_ANSWER
            )
        except Exception as error:
            raise FeedUnavailableError(str(error)) from error
        entries = render_entries(raw)
        # Trimmed from Redis meanwhile: what the feed holds is what is left.
        return entries or self._entries[:MAX_ALERTS_PER_ANSWER]

    async def _read(self) -> None:
        last: StreamId | None = None
        while not self._stopped:
            try:
                if last is None:
                    newest = await self._client.xrevrange(self._key, count=1)
                    last = StreamId.parse(newest[0][0]) if newest else StreamId.parse(STREAM_START)
                    self._covered_after = last
                    self._notify()
                answer = await self._client.xread(
                    {self._key: str(last)}, count=MAX_ALERTS_PER_ANSWER, block=BLOCK_MILLISECONDS
                )
            except asyncio.CancelledError:
                raise
            except Exception as error:  # redis-py's errors, OSError, timeouts: all mean "not now"
                log.warning("alert feed for %s failing: %s", self._key, error)
                self._failure, last, self._covered_after = error, None, None
                self._notify()
                await asyncio.sleep(RETRY_SECONDS)
                continue
            self._failure = None
            entries = render_entries([entry for _, stream in _streams(answer) for entry in stream])
            if entries:
                last = entries[-1][0]
                self._append(entries)
                self._notify()

    def _append(self, entries: list[Entry]) -> None:
        self._entries.extend(entries)
        self._ids.extend(entry_id for entry_id, _ in entries)
        excess = len(self._entries) - self._capacity
        if excess > 0:
            self._covered_after = self._ids[excess - 1]
            del self._entries[:excess], self._ids[:excess]

    def _notify(self) -> None:
        waiting, self._waiting = self._waiting, set()
        for woken in waiting:
            if not woken.done():
                woken.set_result(None)


def _streams(answer: Any) -> list[tuple[Any, list[tuple[str, Mapping[str, str]]]]]:
    if not answer:
        return []
    return list(answer.items() if isinstance(answer, Mapping) else answer)


class AlertFeeds:
    """The feeds of the tenants being followed, started on the first follower, stopped after the last."""

    def __init__(self, client_factory: Callable[[], Any]) -> None:
        self._client_factory = client_factory
        self._client: Any = None
        self._feeds: dict[str, TenantFeed] = {}

    @contextlib.asynccontextmanager
    async def follow(self, tenant_id: str) -> AsyncIterator[TenantFeed]:
        feed = self._feeds.get(tenant_id)
        if feed is None:
            if self._client is None:
                self._client = self._client_factory()
            feed = self._feeds[tenant_id] = TenantFeed(self._client, tenant_id)
            feed.start()
        feed.followers += 1
        try:
            yield feed
        finally:
            feed.followers -= 1
            if feed.followers == 0 and self._feeds.get(tenant_id) is feed:
                del self._feeds[tenant_id]
                await feed.stop()

    def __len__(self) -> int:
        return len(self._feeds)
