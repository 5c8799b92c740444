"""Delivery to a topic's connections through a fake @connections client (moto never answers 410)."""

from __future__ import annotations

import json

import fakeredis
import pytest

from bakery_gateway.identity import Identity
from bakery_gateway.websocket.connections import Connections
from bakery_gateway.websocket.delivery import MAX_MESSAGE_BYTES, Delivery, region_of
from bakery_gateway.websocket.messages import Request
from tests.conftest import MetricReader
from tests.support.websocket import FakeManagementApi, client_error, gone, throttled

USER = Identity("user-1", "tenant-a", ("tenant-a",), ("owner",), "jti-1", 0, 1)
TOPIC = "alerts:tenant-a"
PAYLOAD = {"type": "alert", "topic": TOPIC, "alert": {"alert_id": "a-1"}}


@pytest.fixture
def connections() -> Connections:
    registry = Connections(fakeredis.FakeRedis(decode_responses=True))
    for number in range(1, 4):
        registry.register(f"conn-{number}", USER)
        registry.subscribe(f"conn-{number}", Request("subscribe", "alerts"))
    return registry


def delivery(connections: Connections, api: FakeManagementApi | None, **options: object) -> Delivery:
    sleeps: list[float] = []
    return Delivery(connections, api, sleep=sleeps.append, **options)  # type: ignore[arg-type]


def test_every_subscriber_gets_the_payload_as_json(connections: Connections) -> None:
    api = FakeManagementApi()

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert sorted(connection for connection, _ in api.posts) == ["conn-1", "conn-2", "conn-3"]
    assert {json.loads(data)["alert"]["alert_id"] for _, data in api.posts} == {"a-1"}
    assert report.as_dict()["delivered"] == 3


def test_posts_run_concurrently_up_to_the_limit(connections: Connections) -> None:
    for number in range(4, 9):
        connections.register(f"conn-{number}", USER)
        connections.subscribe(f"conn-{number}", Request("subscribe", "alerts"))
    api = FakeManagementApi(delay_seconds=0.05)

    delivery(connections, api, concurrency=4).deliver(TOPIC, PAYLOAD)

    assert api.max_in_flight == 4


def test_a_gone_connection_is_removed_and_only_that_one(connections: Connections) -> None:
    api = FakeManagementApi({"conn-2": [gone()]})

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert connections.subscribers(TOPIC) == {"conn-1", "conn-3"}
    assert (report.outcomes["gone"], report.outcomes["delivered"]) == (1, 2)


def test_a_gone_connection_leaves_every_topic_it_joined(connections: Connections) -> None:
    connections.subscribe("conn-2", Request("subscribe", "training", job_id="job-7"))

    delivery(connections, FakeManagementApi({"conn-2": [gone()]})).deliver(TOPIC, PAYLOAD)

    assert connections.subscribers("training:tenant-a:job-7") == set()


def test_a_throttled_post_is_retried_until_it_goes_through(connections: Connections) -> None:
    api = FakeManagementApi({"conn-1": [throttled(), throttled()]})

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert api.attempts["conn-1"] == 3
    assert report.outcomes == {"delivered": 3}


def test_retries_back_off_exponentially(connections: Connections) -> None:
    sleeps: list[float] = []
    api = FakeManagementApi({"conn-1": [throttled(), throttled(), throttled()]})

    Delivery(connections, api, backoff_seconds=0.1, sleep=sleeps.append).deliver(TOPIC, PAYLOAD)

    assert [0.1 <= sleeps[0] <= 0.2, 0.2 <= sleeps[1] <= 0.4, 0.4 <= sleeps[2] <= 0.8] == [True] * 3


def test_a_post_throttled_on_every_attempt_is_given_up_and_kept(connections: Connections) -> None:
    api = FakeManagementApi({"conn-1": [throttled()] * 4})

    report = delivery(connections, api, max_attempts=4).deliver(TOPIC, PAYLOAD)

    assert (api.attempts["conn-1"], report.outcomes["throttled"]) == (4, 1)
    assert "conn-1" in connections.subscribers(TOPIC)


def test_another_error_fails_that_post_without_retry_or_removal(connections: Connections) -> None:
    api = FakeManagementApi({"conn-1": [client_error("ForbiddenException", 403)]})

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert (api.attempts["conn-1"], report.outcomes["failed"]) == (1, 1)
    assert "conn-1" in connections.subscribers(TOPIC)


def test_without_a_management_url_nothing_is_posted_and_it_is_counted(
    connections: Connections, metric: MetricReader
) -> None:
    before = metric("gateway_websocket_deliveries_total", outcome="not_configured")

    report = delivery(connections, None).deliver(TOPIC, PAYLOAD)

    assert report.outcomes == {"not_configured": 3}
    assert metric("gateway_websocket_deliveries_total", outcome="not_configured") == before + 3


def test_a_payload_over_128_kb_is_not_posted(connections: Connections) -> None:
    api = FakeManagementApi()

    report = delivery(connections, api).deliver(TOPIC, {"blob": "x" * MAX_MESSAGE_BYTES})

    assert (api.posts, report.outcomes) == ([], {"too_large": 3})


def test_a_topic_without_subscribers_posts_nothing(connections: Connections) -> None:
    api = FakeManagementApi()

    report = delivery(connections, api).deliver("alerts:tenant-z", PAYLOAD)

    assert (api.posts, report.outcomes) == ([], {})


def test_every_outcome_is_counted(connections: Connections, metric: MetricReader) -> None:
    before = {
        outcome: metric("gateway_websocket_deliveries_total", outcome=outcome)
        for outcome in ("delivered", "gone")
    }

    delivery(connections, FakeManagementApi({"conn-3": [gone()]})).deliver(TOPIC, PAYLOAD)

    assert metric("gateway_websocket_deliveries_total", outcome="delivered") == before["delivered"] + 2
    assert metric("gateway_websocket_deliveries_total", outcome="gone") == before["gone"] + 1


def test_redis_down_delivers_nothing_and_does_not_raise() -> None:
    server = fakeredis.FakeServer()
    server.connected = False
    api = FakeManagementApi()

    report = Delivery(Connections(fakeredis.FakeRedis(server=server)), api).deliver(TOPIC, PAYLOAD)

    assert (api.posts, report.outcomes) == ([], {})


@pytest.mark.parametrize(
    ("url", "region"),
    [
        ("https://w1s2k3t4u5.execute-api.eu-west-1.amazonaws.com/live", "eu-west-1"),
        ("http://127.0.0.1:8000/live", None),
    ],
)
def test_the_region_is_read_from_an_api_gateway_url(url: str, region: str | None) -> None:
    assert region_of(url) == region
