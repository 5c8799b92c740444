"""Delivery to a topic's connections through a fake @connections API (outcomes, retries, ordering)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import fakeredis
import pytest

from bakery_gateway.api.identity import Identity
from bakery_gateway.api.platform_limits import WEBSOCKET_MESSAGE_BYTES
from bakery_gateway.realtime.websocket.connections import Connections
from bakery_gateway.realtime.websocket.delivery import Delivery
from bakery_gateway.realtime.websocket.delivery_order import TopicLocks
from bakery_gateway.realtime.websocket.management_api import NO_ANSWER, PostAnswer
from bakery_gateway.realtime.websocket.messages import Request
from tests.conftest import MetricReader
from tests.support.websocket import FakeManagementApi, client_error, gone, throttled

NEVER_EXPIRES = 4102444800  # 2100-01-01: tokens here outlive the test

USER = Identity("user-1", "tenant-a", ("tenant-a",), ("owner",), "jti-1", 0, NEVER_EXPIRES)
TOPIC = "alerts:tenant-a"
PAYLOAD = {"type": "alert", "topic": TOPIC, "alert": {"alert_id": "a-1"}}


class FakeSleep:
    """Records the backoff delays instead of waiting them."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture
def connections() -> Connections:
    registry = Connections(fakeredis.FakeRedis(decode_responses=True))
    for number in range(1, 4):
        subscribe(registry, f"conn-{number}")
    return registry


def subscribe(registry: Connections, connection_id: str) -> None:
    registry.register(connection_id, USER)
    registry.subscribe(connection_id, Request("subscribe", "alerts"))


def delivery(connections: Connections, api: FakeManagementApi | None, **options: object) -> Delivery:
    return Delivery(connections, api, sleep=FakeSleep(), locks=TopicLocks(), **options)  # type: ignore[arg-type]


def test_every_subscriber_gets_the_payload_as_json(connections: Connections) -> None:
    api = FakeManagementApi()

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert sorted(connection for connection, _ in api.posts) == ["conn-1", "conn-2", "conn-3"]
    assert {json.loads(data)["alert"]["alert_id"] for _, data in api.posts} == {"a-1"}
    assert report.as_dict()["delivered"] == 3


def test_posts_run_concurrently_up_to_the_limit(connections: Connections) -> None:
    for number in range(4, 9):
        subscribe(connections, f"conn-{number}")
    api = FakeManagementApi(delay_seconds=0.05)

    delivery(connections, api, concurrency=4).deliver(TOPIC, PAYLOAD)

    assert api.max_in_flight == 4


def test_slow_posts_take_the_time_of_their_rounds_not_their_sum() -> None:
    registry = Connections(fakeredis.FakeRedis(decode_responses=True))
    for number in range(300):
        subscribe(registry, f"conn-{number}")
    api = FakeManagementApi(delay_seconds=0.02)

    started = time.monotonic()
    report = delivery(registry, api, concurrency=100).deliver(TOPIC, PAYLOAD)

    # 3 rounds of 20 ms at 100 in flight; one after another it would take 6 s.
    assert (report.outcomes, time.monotonic() - started < 2) == ({"delivered": 300}, True)


def test_deliveries_from_one_thread_reuse_its_event_loop(connections: Connections) -> None:
    loops: set[int] = set()

    class LoopRecorder(FakeManagementApi):
        async def post(self, connection_id: str, data: bytes) -> PostAnswer:
            loops.add(id(asyncio.get_running_loop()))
            return await super().post(connection_id, data)

    sender = delivery(connections, LoopRecorder())
    sender.deliver(TOPIC, PAYLOAD)
    sender.deliver(TOPIC, PAYLOAD)

    assert len(loops) == 1


def test_a_gone_connection_is_removed_and_only_that_one(connections: Connections) -> None:
    api = FakeManagementApi({"conn-2": [gone()]})

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert connections.subscribers(TOPIC) == {"conn-1", "conn-3"}
    assert (report.outcomes["gone"], report.outcomes["delivered"]) == (1, 2)


def test_gone_is_recognised_by_its_error_type_alone(connections: Connections) -> None:
    api = FakeManagementApi({"conn-2": [client_error("GoneException", 400)]})

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert (report.outcomes["gone"], connections.subscribers(TOPIC)) == (1, {"conn-1", "conn-3"})


def test_a_gone_connection_leaves_every_topic_it_joined(connections: Connections) -> None:
    connections.subscribe("conn-2", Request("subscribe", "training", job_id="job-7"))

    delivery(connections, FakeManagementApi({"conn-2": [gone()]})).deliver(TOPIC, PAYLOAD)

    assert connections.subscribers("training:tenant-a:job-7") == set()


@pytest.mark.parametrize("code", ["LimitExceededException", "ThrottlingException"])
def test_a_throttled_post_is_retried_until_it_goes_through(connections: Connections, code: str) -> None:
    api = FakeManagementApi({"conn-1": [throttled(), client_error(code, 400)]})

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert api.attempts["conn-1"] == 3
    assert report.outcomes == {"delivered": 3}


def test_retries_back_off_exponentially_with_jitter(connections: Connections) -> None:
    sleep = FakeSleep()
    api = FakeManagementApi({"conn-1": [throttled(), throttled(), throttled()]})

    Delivery(connections, api, backoff_seconds=0.1, sleep=sleep, locks=TopicLocks()).deliver(TOPIC, PAYLOAD)

    assert [0.1 <= sleep.delays[0] <= 0.2, 0.2 <= sleep.delays[1] <= 0.4, 0.4 <= sleep.delays[2] <= 0.8] == [
        True
    ] * 3


def test_a_post_throttled_on_every_attempt_is_given_up_and_kept(connections: Connections) -> None:
    api = FakeManagementApi({"conn-1": [throttled()] * 4})

    report = delivery(connections, api, max_attempts=4).deliver(TOPIC, PAYLOAD)

    assert (api.attempts["conn-1"], report.outcomes["throttled"]) == (4, 1)
    assert "conn-1" in connections.subscribers(TOPIC)


@pytest.mark.parametrize(
    "answer",
    [
        client_error("ForbiddenException", 403),
        client_error("InternalServerErrorException", 500),
        PostAnswer(NO_ANSWER, "ConnectTimeout"),
        RuntimeError("no AWS credentials"),
    ],
    ids=["403", "500", "no answer", "client error"],
)
def test_another_error_fails_that_post_without_retry_or_removal(
    connections: Connections, answer: PostAnswer | Exception
) -> None:
    api = FakeManagementApi({"conn-1": [answer]})

    report = delivery(connections, api).deliver(TOPIC, PAYLOAD)

    assert (api.attempts["conn-1"], report.outcomes) == (1, {"failed": 1, "delivered": 2})
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

    report = delivery(connections, api).deliver(TOPIC, {"blob": "x" * WEBSOCKET_MESSAGE_BYTES})

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

    report = delivery(Connections(fakeredis.FakeRedis(server=server)), api).deliver(TOPIC, PAYLOAD)

    assert (api.posts, report.outcomes) == ([], {})


def alert(number: int) -> dict[str, object]:
    return {"type": "alert", "topic": TOPIC, "stream_id": f"{number}-0"}


def test_a_later_alert_reaches_each_connection_only_after_the_earlier_one(connections: Connections) -> None:
    # Alert 1's posts are slow, alert 2's fast: unserialized, alert 2 would overtake it on conn-2 and conn-3.
    api = FakeManagementApi(delay_seconds=lambda data: 0.05 if b'"1-0"' in data else 0.0)
    first_posted = threading.Event()

    class Signalling(FakeManagementApi):
        async def post(self, connection_id: str, data: bytes) -> PostAnswer:
            first_posted.set()
            return await api.post(connection_id, data)

    locks = TopicLocks()  # two Delivery objects (fanout function, subscriber) share the process's locks
    first = Delivery(connections, Signalling(), concurrency=1, locks=locks)
    second = Delivery(connections, Signalling(), concurrency=1, locks=locks)
    earlier = threading.Thread(target=first.deliver, args=(TOPIC, alert(1)))
    earlier.start()
    assert first_posted.wait(5)
    later = threading.Thread(target=second.deliver, args=(TOPIC, alert(2)))
    later.start()
    earlier.join(5)
    later.join(5)

    received: dict[str, list[str]] = {}
    for connection_id, data in api.posts:
        received.setdefault(connection_id, []).append(json.loads(data)["stream_id"])
    assert received == {f"conn-{number}": ["1-0", "2-0"] for number in range(1, 4)}


def test_deliveries_to_different_topics_do_not_wait_for_each_other() -> None:
    locks = TopicLocks()
    entered = threading.Event()

    def hold_other_topic() -> None:
        with locks.hold("alerts:tenant-b"):
            entered.wait(5)

    holder = threading.Thread(target=hold_other_topic)
    holder.start()
    with locks.hold(TOPIC):
        entered.set()
    holder.join(5)

    assert not holder.is_alive()


def test_a_topic_lock_is_dropped_once_no_delivery_holds_it() -> None:
    locks = TopicLocks()

    with locks.hold("training:tenant-a:job-1"):
        held = len(locks)

    assert (held, len(locks)) == (1, 0)
