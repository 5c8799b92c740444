"""The fanout function's real handler with real Redis: each event shape, notifications, Redis down."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, cast

import pytest
import redis

from bakery_gateway import constants as names
from bakery_gateway.clients import redis_keyspace
from bakery_gateway.edge.invocation_context import LambdaContext
from bakery_gateway.errors import RedisUnavailableError
from tests.conftest import MetricReader
from tests.support.events import FANOUT_DIRECT, FANOUT_EVENTBRIDGE, FANOUT_HTTP_API, load_recording
from tests.support.lambda_runtime import LambdaRuntime
from tests.support.stub_service import StubService

FANOUT_MODULE = "bakery_functions.fanout.app"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
TENANT = "tenant-recorded"  # the tenant of every recorded alert


@pytest.fixture
def start_fanout(
    lambda_runtime: LambdaRuntime, gateway_environment: dict[str, str]
) -> Callable[..., Handler]:
    def start(**overrides: str) -> Handler:
        module = lambda_runtime.cold_start(FANOUT_MODULE, {**gateway_environment, **overrides})
        handler: Handler = module.handler
        return handler

    return start


@pytest.fixture
def fanout(start_fanout: Callable[..., Handler]) -> Handler:
    return start_fanout()


def entries(client: redis.Redis) -> list[tuple[str, dict[str, str]]]:
    return cast(list[tuple[str, dict[str, str]]], client.xrange(redis_keyspace.alert_stream_key(TENANT)))


def stored(client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(fields[redis_keyspace.ALERT_STREAM_FIELD]) for _, fields in entries(client)]


def test_a_direct_invocation_stores_the_alert(fanout: Handler, redis_client: redis.Redis) -> None:
    event = load_recording(FANOUT_DIRECT)

    summary = fanout(event, LambdaContext())

    assert summary["accepted"] == 1
    assert [alert["alert_id"] for alert in stored(redis_client)] == [event["alert"]["alert_id"]]


def test_a_direct_invocation_stores_the_timestamp_in_utc(fanout: Handler, redis_client: redis.Redis) -> None:
    fanout(load_recording(FANOUT_DIRECT), LambdaContext())

    assert stored(redis_client)[0]["timestamp"] == "2024-03-09T16:00:00.000Z"


def test_an_eventbridge_event_stores_its_detail(fanout: Handler, redis_client: redis.Redis) -> None:
    event = load_recording(FANOUT_EVENTBRIDGE)

    fanout(event, LambdaContext())

    assert [alert["alert_id"] for alert in stored(redis_client)] == [event["detail"]["alert_id"]]


def test_an_internal_http_request_is_answered_202_with_the_stream_id(
    fanout: Handler, redis_client: redis.Redis
) -> None:
    event = load_recording(FANOUT_HTTP_API)
    alert_id = json.loads(event["body"])["alert_id"]

    response = fanout(event, LambdaContext())

    assert response["statusCode"] == 202
    ((entry_id, _),) = entries(redis_client)
    assert json.loads(response["body"])["stream_ids"] == {alert_id: entry_id}


def test_a_retried_event_is_stored_once(fanout: Handler, redis_client: redis.Redis) -> None:
    fanout(load_recording(FANOUT_EVENTBRIDGE), LambdaContext())

    summary = fanout(load_recording(FANOUT_EVENTBRIDGE), LambdaContext())

    assert (summary["accepted"], summary["duplicate"]) == (0, 1)
    assert len(stored(redis_client)) == 1


def test_accepted_alerts_are_counted(fanout: Handler, metric: MetricReader) -> None:
    before = metric("gateway_alerts_total", outcome="accepted")

    fanout(load_recording(FANOUT_DIRECT), LambdaContext())

    assert metric("gateway_alerts_total", outcome="accepted") == before + 1


def test_an_alert_asking_for_channels_goes_to_the_notification_service(
    fanout: Handler, stub_service: StubService
) -> None:
    event = load_recording(FANOUT_EVENTBRIDGE)

    fanout(event, LambdaContext())

    request = stub_service.last_request
    assert (request.method, request.path) == ("POST", "/notifications-svc/api/v1/notifications/alerts")
    assert request.header("x-tenant-id") == TENANT
    assert request.header("x-request-id") == event["id"]
    assert json.loads(request.body)["alert_id"] == event["detail"]["alert_id"]


def test_an_alert_without_channels_is_not_sent_to_the_notification_service(
    fanout: Handler, stub_service: StubService
) -> None:
    fanout(load_recording(FANOUT_DIRECT), LambdaContext())

    assert stub_service.requests == []


def test_a_failing_notification_service_does_not_fail_the_alert(
    fanout: Handler, stub_service: StubService, redis_client: redis.Redis, metric: MetricReader
) -> None:
    stub_service.reply(503)
    before = metric("gateway_alert_notification_failures_total")

    summary = fanout(load_recording(FANOUT_EVENTBRIDGE), LambdaContext())

    assert summary["accepted"] == 1
    assert len(stored(redis_client)) == 1
    assert metric("gateway_alert_notification_failures_total") == before + 1


def test_with_redis_down_an_http_request_gets_a_503_problem(
    start_fanout: Callable[..., Handler], closed_port: int
) -> None:
    fanout = start_fanout(**{names.REDIS_PORT: str(closed_port)})

    response = fanout(load_recording(FANOUT_HTTP_API), LambdaContext())

    problem = json.loads(response["body"])
    assert (response["statusCode"], response["headers"]["content-type"]) == (503, names.PROBLEM_CONTENT_TYPE)
    assert problem["type"].endswith("/state-unavailable")


def test_with_redis_down_a_direct_invocation_raises_so_lambda_retries(
    start_fanout: Callable[..., Handler], closed_port: int
) -> None:
    fanout = start_fanout(**{names.REDIS_PORT: str(closed_port)})

    with pytest.raises(RedisUnavailableError):
        fanout(load_recording(FANOUT_DIRECT), LambdaContext())
