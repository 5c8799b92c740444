"""``GET /api/v1/alerts/stream`` through the real proxy handler and a real Redis (behind API Gateway:
one buffered answer per request, resumed by Last-Event-ID)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import redis

from bakery_local.dev_tokens import DevKeyPair
from tests.integration.conftest import GatewayStarter
from tests.support.alerts import alerts_of, parse_events, write_alert
from tests.support.lambda_gateway import LambdaGateway, ProxyResponse, assert_problem

STREAM = "/api/v1/alerts/stream"
WAIT_SECONDS = 0.3


@pytest.fixture
def gateway(start_gateway: GatewayStarter) -> LambdaGateway:
    gateway = start_gateway(SSE_WAIT_SECONDS=str(WAIT_SECONDS), SSE_RETRY_MILLISECONDS="1500")
    # The proxy builds its own routes on the first request for one: not inside a timed stream.
    assert gateway.request("GET", "/health").status == 200
    return gateway


@pytest.fixture
def token(dev_keys: DevKeyPair) -> str:
    return dev_keys.mint(user_id="user-1", tenant_id="tenant-a", tenant_ids=["tenant-a", "tenant-b"])


def stream(
    gateway: LambdaGateway,
    token: str,
    last_id: str | None = None,
    *,
    query: str | None = None,
    tenant: str | None = None,
) -> ProxyResponse:
    headers = {"Last-Event-ID": last_id} if last_id is not None else {}
    if tenant is not None:
        headers["X-Tenant-ID"] = tenant
    return gateway.request("GET", STREAM, token=token, headers=headers, query=query)


def body_of(response: ProxyResponse) -> str:
    assert response.status == 200, response.raw
    return response.body.decode()


@pytest.fixture
def later_writer(redis_client: redis.Redis) -> Iterator[list[threading.Timer]]:
    """Timers that write alerts while a request waits; joined at the end of the test."""
    timers: list[threading.Timer] = []
    yield timers
    for timer in timers:
        timer.join()


def test_alerts_after_the_last_event_id_arrive_in_order(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    seen = write_alert(redis_client, "tenant-a", "seen")
    first = write_alert(redis_client, "tenant-a", "first")
    second = write_alert(redis_client, "tenant-a", "second")

    events = parse_events(body_of(stream(gateway, token, seen)))

    assert alerts_of(events) == [(first, "first"), (second, "second")]


def test_the_last_event_id_may_come_as_a_query_parameter(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    seen = write_alert(redis_client, "tenant-a", "seen")
    after = write_alert(redis_client, "tenant-a", "after")

    events = parse_events(body_of(stream(gateway, token, query=f"lastEventId={seen}")))

    assert alerts_of(events) == [(after, "after")]


def test_an_alert_is_the_whole_json_written_to_the_stream(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    write_alert(redis_client, "tenant-a", "oven 3")

    (alert,) = [event for event in parse_events(body_of(stream(gateway, token, "0-0"))) if event.id]

    assert alert.event == "alert"
    assert {"alert_id", "tenant_id", "severity", "message", "timestamp", "type"} <= set(alert.json())


def test_the_answer_starts_with_the_retry_hint(gateway: LambdaGateway, token: str) -> None:
    events = parse_events(body_of(stream(gateway, token)))

    assert events[0].retry == "1500"


def test_the_answer_is_an_uncached_event_stream(gateway: LambdaGateway, token: str) -> None:
    response = stream(gateway, token)

    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-accel-buffering"] == "no"


def test_the_request_passes_the_policies(gateway: LambdaGateway, token: str) -> None:
    assert "ratelimit" in stream(gateway, token).headers


def test_without_alerts_the_answer_is_200_with_a_comment_not_204(gateway: LambdaGateway, token: str) -> None:
    events = parse_events(body_of(stream(gateway, token)))

    assert [event.event for event in events if event.event] == []
    assert any(event.comments for event in events)


def test_without_alerts_the_answer_says_where_to_resume(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    newest = write_alert(redis_client, "tenant-a", "before connecting")

    events = parse_events(body_of(stream(gateway, token)))

    assert [event.id for event in events if event.id] == [newest]


def test_without_an_id_alerts_written_while_it_waits_arrive(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis, later_writer: list[threading.Timer]
) -> None:
    write_alert(redis_client, "tenant-a", "before connecting")
    later_writer.append(
        threading.Timer(WAIT_SECONDS / 3, write_alert, (redis_client, "tenant-a", "while waiting"))
    )
    later_writer[0].start()

    events = parse_events(body_of(stream(gateway, token)))

    assert [message for _, message in alerts_of(events)] == ["while waiting"]


def test_the_wait_is_bounded_by_sse_wait_seconds(gateway: LambdaGateway, token: str) -> None:
    started = time.monotonic()
    stream(gateway, token)

    assert WAIT_SECONDS * 0.9 <= time.monotonic() - started < WAIT_SECONDS + 1


def test_another_tenants_alerts_never_arrive(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    write_alert(redis_client, "tenant-b", "not for tenant-a")

    events = parse_events(body_of(stream(gateway, token, "0-0")))

    assert alerts_of(events) == []


def test_x_tenant_id_chooses_another_of_the_callers_tenants(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    write_alert(redis_client, "tenant-b", "for tenant-b")

    events = parse_events(body_of(stream(gateway, token, "0-0", tenant="tenant-b")))

    assert [message for _, message in alerts_of(events)] == ["for tenant-b"]


def test_the_tenant_id_query_parameter_chooses_another_of_the_callers_tenants(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    write_alert(redis_client, "tenant-b", "for tenant-b")

    events = parse_events(body_of(stream(gateway, token, query="tenant_id=tenant-b&lastEventId=0-0")))

    assert [message for _, message in alerts_of(events)] == ["for tenant-b"]


def test_a_tenant_id_query_parameter_for_a_tenant_not_the_callers_is_refused(
    gateway: LambdaGateway, token: str
) -> None:
    assert_problem(stream(gateway, token, query="tenant_id=tenant-z"), 403, "tenant-forbidden")


@pytest.mark.parametrize(
    "last_id", ["abc", "1-2-3", "-1", "12345678901234567890123-0", "1-99999999999999999999"]
)
def test_a_malformed_last_event_id_is_a_400_problem(gateway: LambdaGateway, token: str, last_id: str) -> None:
    assert_problem(stream(gateway, token, last_id), 400, "bad-request")


def test_a_malformed_last_event_id_query_parameter_is_a_400_problem(
    gateway: LambdaGateway, token: str
) -> None:
    assert_problem(stream(gateway, token, query="lastEventId=yesterday"), 400, "bad-request")


def test_a_client_resuming_before_the_retained_alerts_is_told_of_the_gap(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    seen = write_alert(redis_client, "tenant-a", "seen")
    written = [write_alert(redis_client, "tenant-a", f"alert {n}", maxlen=2) for n in range(4)]

    events = parse_events(body_of(stream(gateway, token, seen)))

    assert events[1].event == "gap"
    assert events[1].json()["last_event_id"] == seen
    assert [entry_id for entry_id, _ in alerts_of(events)] == written[2:]


def test_a_client_that_got_everything_retained_is_told_of_no_gap(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    written = [write_alert(redis_client, "tenant-a", f"alert {n}", maxlen=2) for n in range(4)]

    events = parse_events(body_of(stream(gateway, token, written[2])))

    assert [event.event for event in events if event.event] == ["alert"]


def test_without_redis_the_answer_is_a_503_problem(
    start_gateway: GatewayStarter, token: str, closed_port: int
) -> None:
    gateway = start_gateway(REDIS_PORT=str(closed_port), SSE_WAIT_SECONDS=str(WAIT_SECONDS))

    assert_problem(stream(gateway, token), 503, "state-unavailable")


def test_a_client_reading_from_the_start_of_an_untrimmed_stream_is_told_of_no_gap(
    gateway: LambdaGateway, token: str, redis_client: redis.Redis
) -> None:
    write_alert(redis_client, "tenant-a", "the only one")

    events = parse_events(body_of(stream(gateway, token, "0-0")))

    assert [event.event for event in events if event.event] == ["alert"]


def test_a_stage_variable_of_zero_answers_at_once(gateway: LambdaGateway, token: str) -> None:
    started = time.monotonic()
    response = gateway.request("GET", STREAM, token=token, stage_variables={"sseWaitSeconds": "0"})

    assert time.monotonic() - started < WAIT_SECONDS
    assert "id: " in body_of(response)


def test_a_stage_variable_cannot_lengthen_the_wait(gateway: LambdaGateway, token: str) -> None:
    started = time.monotonic()
    gateway.request("GET", STREAM, token=token, stage_variables={"sseWaitSeconds": "25"})

    assert time.monotonic() - started < WAIT_SECONDS + 1


def test_the_answer_names_the_tenant_it_streams(gateway: LambdaGateway, token: str) -> None:
    response = stream(gateway, token, "0-0", tenant="tenant-b")

    assert response.headers["x-tenant-id"] == "tenant-b"
