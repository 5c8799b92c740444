"""Tenant policy state in Redis (``policies/store.py``): what each change writes, and its audit record."""

from __future__ import annotations

import json

import fakeredis
import pytest

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.policies import store as store_module
from bakery_gateway.policies.audit import Actor, AuditAction
from bakery_gateway.policies.store import RateLimitOverride, RateLimitOverrides, TenantPolicyStore
from bakery_gateway.policies.subscription import NO_SUBSCRIPTION, Subscription
from tests.support.audit_stream import audit_entries

NOW = 1_800_000_000.0
CACHE_SECONDS = 300
ADMIN = Actor("admin-1", "req-1")
ACTIVE = Subscription("active", "professional", 1_900_000_000, 7)


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def redis(server: fakeredis.FakeServer) -> fakeredis.FakeRedis:
    """A synchronous view of the store's Redis, for the test's own reads."""
    return fakeredis.FakeRedis(server=server, decode_responses=True)


@pytest.fixture
def store(server: fakeredis.FakeServer) -> TenantPolicyStore:
    client = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    return TenantPolicyStore(client, subscription_cache_seconds=CACHE_SECONDS, clock=lambda: NOW)


async def test_a_tenant_without_state_reads_as_nothing_set(store: TenantPolicyStore) -> None:
    policy = await store.read("tenant-a")

    assert policy.to_json() == {
        "tenant_id": "tenant-a",
        "read_only": None,
        "subscription": None,
        "subscription_override": None,
        "rate_limit_overrides": {"user": None, "tenant": None},
    }


async def test_the_read_only_flag_is_the_hash_the_proxy_reads(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    await store.set_read_only("tenant-a", "billing_hold", "invoice 42 unpaid", ADMIN)

    assert redis.hgetall(redis_keyspace.read_only_key("tenant-a")) == {
        "reason": "billing_hold",
        "detail": "invoice 42 unpaid",
        "set_by": "admin-1",
        "set_at": "2027-01-15T08:00:00.000+00:00",
    }


async def test_a_change_appends_its_audit_record_with_before_and_after(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    await store.set_read_only("tenant-a", "maintenance", None, ADMIN)

    (entry,) = audit_entries(redis)
    assert entry["action"] == AuditAction.READ_ONLY_SET
    assert (entry["tenant_id"], entry["actor"], entry["request_id"]) == ("tenant-a", "admin-1", "req-1")
    assert entry["at"] == "2027-01-15T08:00:00.000+00:00"
    assert json.loads(entry["before"]) is None
    assert json.loads(entry["after"])["reason"] == "maintenance"


async def test_the_audit_record_holds_the_state_the_change_replaced(store: TenantPolicyStore) -> None:
    await store.set_read_only("tenant-a", "maintenance", None, ADMIN)

    record = await store.lift_read_only("tenant-a", ADMIN)

    assert record is not None
    assert record.before["reason"] == "maintenance"
    assert record.after is None


async def test_lifting_a_flag_nobody_set_writes_nothing(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    assert await store.lift_read_only("tenant-a", ADMIN) is None
    assert audit_entries(redis) == []


async def test_rate_limit_overrides_are_stored_as_requests_and_window_in_milliseconds(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    overrides = RateLimitOverrides(user=RateLimitOverride(10, 60), tenant=RateLimitOverride(500, 3600))

    await store.set_rate_limit_overrides("tenant-a", overrides, ADMIN)

    assert redis.hgetall(redis_keyspace.rate_limit_overrides_key("tenant-a")) == {
        "user": "10:60000",
        "tenant": "500:3600000",
    }
    assert (await store.read("tenant-a")).rate_limit_overrides == overrides


async def test_setting_rate_limits_replaces_the_whole_set(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    await store.set_rate_limit_overrides(
        "tenant-a", RateLimitOverrides(tenant=RateLimitOverride(5, 1)), ADMIN
    )

    await store.set_rate_limit_overrides("tenant-a", RateLimitOverrides(user=RateLimitOverride(1, 60)), ADMIN)

    assert redis.hgetall(redis_keyspace.rate_limit_overrides_key("tenant-a")) == {"user": "1:60000"}


async def test_the_subscription_override_has_no_expiry(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    await store.set_subscription_override("tenant-a", ACTIVE, ADMIN)

    key = redis_keyspace.subscription_override_key("tenant-a")
    assert redis.hgetall(key) == ACTIVE.to_hash()
    assert redis.ttl(key) == -1


async def test_a_pushed_subscription_is_cached_for_the_configured_time(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    await store.cache_subscription("tenant-a", ACTIVE, ADMIN)

    key = redis_keyspace.subscription_key("tenant-a")
    assert redis.hgetall(key) == ACTIVE.to_hash()
    assert CACHE_SECONDS - 2 <= redis.ttl(key) <= CACHE_SECONDS


async def test_a_pushed_absence_of_subscription_is_cached_briefly_as_a_look_up_would_be(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    await store.cache_subscription("tenant-a", Subscription(NO_SUBSCRIPTION, "", 0, 0), ADMIN)

    assert (
        redis.ttl(redis_keyspace.subscription_key("tenant-a"))
        <= redis_keyspace.SUBSCRIPTION_UNKNOWN_TTL_SECONDS
    )


async def test_pushing_the_same_subscription_again_renews_the_cache_without_an_audit_record(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    await store.cache_subscription("tenant-a", ACTIVE, ADMIN)
    redis.expire(redis_keyspace.subscription_key("tenant-a"), 5)

    assert await store.cache_subscription("tenant-a", ACTIVE, ADMIN) is None
    assert redis.ttl(redis_keyspace.subscription_key("tenant-a")) > 5
    assert len(audit_entries(redis)) == 1


async def test_invalidating_drops_the_cached_subscription(
    store: TenantPolicyStore, redis: fakeredis.FakeRedis
) -> None:
    await store.cache_subscription("tenant-a", ACTIVE, ADMIN)

    await store.invalidate_subscription("tenant-a", ADMIN)

    assert redis.exists(redis_keyspace.subscription_key("tenant-a")) == 0


async def test_the_audit_trail_is_the_tenants_own_newest_first(store: TenantPolicyStore) -> None:
    await store.set_read_only("tenant-a", "maintenance", None, ADMIN)
    await store.set_read_only("tenant-b", "maintenance", None, ADMIN)
    await store.lift_read_only("tenant-a", ADMIN)

    trail = await store.audit_trail("tenant-a", 10)

    assert [record.action for record in trail] == [AuditAction.READ_ONLY_LIFTED, AuditAction.READ_ONLY_SET]
    assert all(record.entry_id for record in trail)


async def test_the_audit_trail_reads_past_other_tenants_records_page_by_page(
    store: TenantPolicyStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "AUDIT_PAGE_SIZE", 2)
    await store.set_read_only("tenant-a", "maintenance", None, ADMIN)
    for index in range(5):
        await store.set_read_only(f"tenant-{index}", "maintenance", None, ADMIN)

    trail = await store.audit_trail("tenant-a", 10)

    assert [record.tenant_id for record in trail] == ["tenant-a"]


async def test_the_audit_trail_stops_at_the_limit(store: TenantPolicyStore) -> None:
    for reason in ("maintenance", "billing_hold", "administrative"):
        await store.set_read_only("tenant-a", reason, None, ADMIN)

    trail = await store.audit_trail("tenant-a", 2)

    assert [record.after["reason"] for record in trail] == ["administrative", "billing_hold"]


async def test_a_redis_outage_is_reported_as_redis_unavailable(server: fakeredis.FakeServer) -> None:
    server.connected = False
    store = TenantPolicyStore(
        fakeredis.FakeAsyncRedis(server=server, decode_responses=True), subscription_cache_seconds=60
    )

    with pytest.raises(RedisUnavailableError):
        await store.read("tenant-a")
    with pytest.raises(RedisUnavailableError):
        await store.set_read_only("tenant-a", "maintenance", None, ADMIN)
    with pytest.raises(RedisUnavailableError):
        await store.audit_trail("tenant-a", 5)


async def test_a_change_raced_by_another_reads_again_and_records_what_it_really_replaced(
    server: fakeredis.FakeServer, redis: fakeredis.FakeRedis
) -> None:
    rival_writes: list[int] = []

    def clock() -> float:
        # Called while the change holds its WATCH: another writer gets in first, once.
        if armed and not rival_writes:
            rival_writes.append(
                redis.hset(redis_keyspace.read_only_key("tenant-a"), "reason", "billing_hold")
            )
        return NOW

    client = fakeredis.FakeAsyncRedis(server=server, decode_responses=True)
    store = TenantPolicyStore(client, subscription_cache_seconds=CACHE_SECONDS, clock=clock)
    armed = False
    await store.set_read_only("tenant-a", "maintenance", None, ADMIN)
    armed = True

    record = await store.lift_read_only("tenant-a", ADMIN)

    assert rival_writes
    assert record is not None
    assert record.before["reason"] == "billing_hold"
    assert redis.exists(redis_keyspace.read_only_key("tenant-a")) == 0
