"""The local runtime's shared alert feed against a real Redis: one reader per tenant, every follower
gets every entry after its own position, including entries older than the feed."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import redis
import redis.asyncio as aioredis

from bakery_gateway.errors import FeedUnavailableError
from bakery_gateway.realtime.alerts.sse import StreamId
from bakery_gateway.serve.alert_feed import AlertFeeds, TenantFeed
from tests.support.alerts import write_alert
from tests.support.redis_server import RedisEndpoint, free_port


@pytest.fixture
def tenant(redis_client: redis.Redis) -> str:
    return f"feed-{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def async_client(redis_server: RedisEndpoint) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis(
        host=redis_server.host, port=redis_server.port, db=redis_server.db, decode_responses=True
    )
    yield client
    await client.aclose()


async def started(feed: TenantFeed) -> TenantFeed:
    feed.start()
    await feed.after(StreamId(0, 0), 0.5)  # the reader has found where the stream ends
    return feed


async def test_a_follower_gets_an_entry_written_after_the_feed_started(
    async_client: aioredis.Redis, redis_client: redis.Redis, tenant: str
) -> None:
    feed = await started(TenantFeed(async_client, tenant))
    try:
        entry_id = await asyncio.to_thread(write_alert, redis_client, tenant, "oven 3 overheating")
        entries = await feed.after(StreamId(0, 0), 5)
    finally:
        await feed.stop()

    assert [str(stream_id) for stream_id, _ in entries] == [entry_id]
    assert "event: alert" in entries[0][1]
    assert f"id: {entry_id}" in entries[0][1]


async def test_a_follower_waits_when_nothing_is_newer_than_its_position(
    async_client: aioredis.Redis, redis_client: redis.Redis, tenant: str
) -> None:
    entry_id = write_alert(redis_client, tenant)
    feed = await started(TenantFeed(async_client, tenant))
    try:
        entries = await feed.after(StreamId.parse(entry_id), 0.3)
    finally:
        await feed.stop()

    assert entries == []


async def test_a_follower_behind_the_feed_reads_what_it_missed_from_redis(
    async_client: aioredis.Redis, redis_client: redis.Redis, tenant: str
) -> None:
    older = [write_alert(redis_client, tenant, f"before {n}") for n in range(3)]
    feed = await started(TenantFeed(async_client, tenant))
    try:
        entries = await feed.after(StreamId.parse(older[0]), 1)
    finally:
        await feed.stop()

    assert [str(stream_id) for stream_id, _ in entries] == older[1:]


async def test_a_follower_behind_a_full_feed_loses_nothing(
    async_client: aioredis.Redis, redis_client: redis.Redis, tenant: str
) -> None:
    position = write_alert(redis_client, tenant, "seen")
    feed = await started(TenantFeed(async_client, tenant, capacity=2))
    try:
        written = [await asyncio.to_thread(write_alert, redis_client, tenant, f"new {n}") for n in range(5)]
        received: list[str] = []
        cursor = StreamId.parse(position)
        while len(received) < len(written):
            entries = await feed.after(cursor, 5)
            assert entries, "the feed stopped answering"
            received += [str(stream_id) for stream_id, _ in entries]
            cursor = entries[-1][0]
    finally:
        await feed.stop()

    assert received == written


async def test_followers_of_one_tenant_share_one_feed(async_client: aioredis.Redis, tenant: str) -> None:
    feeds = AlertFeeds(lambda: async_client)

    async with feeds.follow(tenant) as first, feeds.follow(tenant) as second:
        shared = first is second and len(feeds) == 1

    assert shared
    assert len(feeds) == 0


async def test_a_feed_without_redis_tells_its_followers() -> None:
    unreachable = aioredis.Redis(port=free_port(), socket_connect_timeout=0.2, socket_timeout=0.2)
    feed = TenantFeed(unreachable, "nobody")
    feed.start()
    try:
        failure = await first_failure(feed)
    finally:
        await feed.stop()
        await unreachable.aclose()

    assert failure is not None


async def first_failure(feed: TenantFeed) -> FeedUnavailableError | None:
    """What a follower is told within 5 s (redis-py retries a refused connection a few times)."""
    for _ in range(50):
        try:
            await feed.after(StreamId(0, 0), 0.1)
        except FeedUnavailableError as error:
            return error
    return None
