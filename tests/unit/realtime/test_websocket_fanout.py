"""The fanout function posts to WebSocket subscribers: new alerts to the tenant's topic, training
progress to the job's topic (fakeredis, fake @connections client)."""

from __future__ import annotations

import json
from typing import Any

import fakeredis
import httpx
import pytest

from bakery_gateway.api.identity import Identity
from bakery_gateway.errors import BadRequestError
from bakery_gateway.realtime.alerts.fanout import Fanout
from bakery_gateway.realtime.alerts.ingress import TRAINING_DETAIL_TYPE, TrainingProgressInvocation, handle
from bakery_gateway.realtime.alerts.notifications import Notifier
from bakery_gateway.realtime.websocket.connections import Connections
from bakery_gateway.realtime.websocket.delivery import Delivery
from bakery_gateway.realtime.websocket.messages import Request
from bakery_gateway.realtime.websocket.training import TrainingProgress
from tests.support.events import FANOUT_DIRECT, FANOUT_EVENTBRIDGE, load_recording
from tests.support.websocket import FakeManagementApi

NEVER_EXPIRES = 4102444800  # 2100-01-01: tokens here outlive the test

TENANT = "tenant-recorded"  # the recorded alerts' tenant
USER = Identity("user-1", TENANT, (TENANT,), ("owner",), "jti-1", 0, NEVER_EXPIRES)
PROGRESS = {"tenant_id": TENANT, "job_id": "job-7", "progress": 40, "status": "training"}


@pytest.fixture
def connections() -> Connections:
    registry = Connections(fakeredis.FakeRedis(decode_responses=True))
    registry.register("conn-1", USER)
    registry.subscribe("conn-1", Request("subscribe", "alerts"))
    registry.subscribe("conn-1", Request("subscribe", "training", job_id="job-7"))
    return registry


@pytest.fixture
def api() -> FakeManagementApi:
    return FakeManagementApi()


@pytest.fixture
def fanout(connections: Connections, api: FakeManagementApi) -> Fanout:
    unused = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(202)))
    store = fakeredis.FakeRedis(decode_responses=True)
    return Fanout(store, 1000, Notifier(unused, None), Delivery(connections, api))


def posted(api: FakeManagementApi) -> list[dict[str, Any]]:
    return [json.loads(data) for _, data in api.posts]


def test_an_accepted_alert_is_posted_to_the_tenants_alert_subscribers(
    fanout: Fanout, api: FakeManagementApi
) -> None:
    summary = handle(load_recording(FANOUT_DIRECT), None, fanout)

    (message,) = posted(api)
    assert (message["type"], message["topic"]) == ("alert", f"alerts:{TENANT}")
    assert message["stream_id"] == summary["stream_ids"][message["alert"]["alert_id"]]


def test_a_duplicate_alert_is_not_posted_again(fanout: Fanout, api: FakeManagementApi) -> None:
    handle(load_recording(FANOUT_DIRECT), None, fanout)

    handle(load_recording(FANOUT_DIRECT), None, fanout)

    assert len(api.posts) == 1


def test_training_progress_is_posted_to_the_jobs_subscribers(fanout: Fanout, api: FakeManagementApi) -> None:
    report = handle({"training_progress": PROGRESS}, None, fanout)

    assert report["delivered"] == 1
    assert posted(api) == [
        {
            "type": "training_progress",
            "topic": f"training:{TENANT}:job-7",
            "data": {"status": "training", "tenant_id": TENANT, "job_id": "job-7", "progress": 40.0},
        }
    ]


def test_training_progress_from_eventbridge_is_posted(fanout: Fanout, api: FakeManagementApi) -> None:
    event = load_recording(FANOUT_EVENTBRIDGE)
    event.update({"source": "bakery-ia.training", "detail-type": TRAINING_DETAIL_TYPE, "detail": PROGRESS})

    handle(event, None, fanout)

    assert posted(api)[0]["type"] == "training_progress"


def test_a_training_progress_invocation_is_recognised_by_its_member() -> None:
    assert TrainingProgressInvocation.can_handle({"training_progress": {}})


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {**PROGRESS, "tenant_id": ""},
        {**PROGRESS, "job_id": "a:b"},
        {**PROGRESS, "progress": 101},
        {**PROGRESS, "progress": "40"},
        {**PROGRESS, "progress": True},
    ],
)
def test_malformed_training_progress_is_refused(raw: object) -> None:
    with pytest.raises(BadRequestError):
        TrainingProgress.from_mapping(raw)


def test_without_delivery_an_alert_is_still_stored() -> None:
    unused = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(202)))
    fanout = Fanout(fakeredis.FakeRedis(decode_responses=True), 1000, Notifier(unused, None))

    assert handle(load_recording(FANOUT_DIRECT), None, fanout)["accepted"] == 1
