"""``store.accept`` against fakeredis: once per alert id, XADD and PUBLISH in one MULTI/EXEC."""

from __future__ import annotations

import json
from typing import Any, cast

import fakeredis
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import RedisUnavailableError
from bakery_gateway.realtime.alerts.model import Alert
from bakery_gateway.realtime.alerts.store import accept


class RecordingRedis(fakeredis.FakeRedis):
    """fakeredis that records each pipeline it executes: (transaction?, [command names])."""

    executed: list[tuple[bool, list[tuple[Any, ...]]]]

    def pipeline(self, transaction: bool = True, shard_hint: Any = None) -> Any:
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        original = pipe.execute
        log = self.executed

        def execute(*args: Any, **kwargs: Any) -> Any:
            log.append((transaction, [tuple(map(_text, command[0])) for command in pipe.command_stack]))
            return original(*args, **kwargs)

        pipe.execute = execute  # type: ignore[method-assign]
        return pipe


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else str(value)


@pytest.fixture
def client() -> RecordingRedis:
    fake = RecordingRedis(server=fakeredis.FakeServer(), decode_responses=True)
    fake.executed = []
    return fake


def entries(client: RecordingRedis) -> list[tuple[str, dict[str, str]]]:
    return cast(list[tuple[str, dict[str, str]]], client.xrange(redis_keyspace.alert_stream_key("tenant-a")))


def alert(alert_id: str = "alert-1", tenant_id: str = "tenant-a") -> Alert:
    return Alert.from_mapping(
        {
            "alert_id": alert_id,
            "tenant_id": tenant_id,
            "severity": "high",
            "message": "Flour is low",
            "timestamp": "2024-03-09T16:00:00Z",
        }
    )


def test_an_accepted_alert_is_in_its_tenants_stream_under_the_one_field(client: RecordingRedis) -> None:
    result = accept(client, alert(), 1000)

    ((entry_id, fields),) = entries(client)
    assert entry_id == result.stream_id
    assert set(fields) == {redis_keyspace.ALERT_STREAM_FIELD}
    assert json.loads(fields[redis_keyspace.ALERT_STREAM_FIELD])["alert_id"] == "alert-1"


def test_an_accepted_alert_is_published_on_its_tenants_channel(client: RecordingRedis) -> None:
    pubsub = client.pubsub(ignore_subscribe_messages=True)  # type: ignore[no-untyped-call]
    pubsub.subscribe(redis_keyspace.alert_channel("tenant-a"))

    accept(client, alert(), 1000)

    messages = [pubsub.get_message(timeout=0.1) for _ in range(3)]
    (message,) = [message for message in messages if message is not None]
    assert json.loads(message["data"]) == alert().to_dict()


def test_the_same_alert_id_twice_is_stored_once_and_reported_duplicate(client: RecordingRedis) -> None:
    accept(client, alert(), 1000)

    second = accept(client, alert(), 1000)

    assert (second.duplicate, second.stream_id) == (True, None)
    assert client.xlen(redis_keyspace.alert_stream_key("tenant-a")) == 1


def test_the_seen_key_expires_after_the_dedupe_window(client: RecordingRedis) -> None:
    accept(client, alert(), 1000)

    assert client.ttl(redis_keyspace.alert_seen_key("alert-1")) == redis_keyspace.ALERT_SEEN_TTL_SECONDS


def test_xadd_and_publish_go_in_one_multi_exec(client: RecordingRedis) -> None:
    accept(client, alert(), 1000)

    ((transaction, commands),) = client.executed
    assert transaction is True
    assert [command[0] for command in commands] == ["XADD", "PUBLISH"]


def test_the_stream_is_capped_with_an_approximate_maxlen(client: RecordingRedis) -> None:
    accept(client, alert(), 42)

    xadd = client.executed[0][1][0]
    assert xadd[2:5] == ("MAXLEN", "~", "42")


def test_a_redis_failure_while_storing_raises_and_releases_the_seen_key(
    client: RecordingRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("gone")

    monkeypatch.setattr(fakeredis.FakeRedis, "pipeline", broken)

    with pytest.raises(RedisUnavailableError):
        accept(client, alert(), 1000)
    assert client.exists(redis_keyspace.alert_seen_key("alert-1")) == 0


def test_a_redis_failure_before_anything_is_written_raises(
    client: RecordingRedis, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RedisConnectionError("gone")

    monkeypatch.setattr(client, "set", broken)

    with pytest.raises(RedisUnavailableError):
        accept(client, alert(), 1000)
    assert client.xlen(redis_keyspace.alert_stream_key("tenant-a")) == 0
