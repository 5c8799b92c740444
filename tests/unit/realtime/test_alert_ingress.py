"""The fanout function's three event sources: which one takes an event, and how each answers."""

from __future__ import annotations

import json
from typing import Any

import fakeredis
import httpx
import pytest

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.constants import PROBLEM_CONTENT_TYPE
from bakery_gateway.realtime.alerts.fanout import Fanout
from bakery_gateway.realtime.alerts.ingress import (
    DirectInvocation,
    EventBridgeEvent,
    HttpApiEvent,
    UnrecognisedEventError,
    handle,
)
from bakery_gateway.realtime.alerts.notifications import Notifier
from tests.support.events import (
    FANOUT_DIRECT,
    FANOUT_EVENTBRIDGE,
    FANOUT_HTTP_API,
    SAM_LOCAL_FANOUT,
    load_recording,
)

SOURCES = (DirectInvocation, EventBridgeEvent, HttpApiEvent)


@pytest.fixture
def client() -> fakeredis.FakeRedis:
    return fakeredis.FakeRedis(server=fakeredis.FakeServer(), decode_responses=True)


@pytest.fixture
def fanout(client: fakeredis.FakeRedis) -> Fanout:
    unused = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(202)))
    return Fanout(client, 1000, Notifier(unused, None))


def recognisers(event: dict[str, Any]) -> list[str]:
    return [source.__name__ for source in SOURCES if source.can_handle(event)]


@pytest.mark.parametrize(
    ("recording", "source"),
    [
        (FANOUT_DIRECT, "DirectInvocation"),
        (FANOUT_EVENTBRIDGE, "EventBridgeEvent"),
        (FANOUT_HTTP_API, "HttpApiEvent"),
    ],
)
def test_each_recorded_event_is_recognised_by_exactly_its_source(recording: str, source: str) -> None:
    assert recognisers(load_recording(recording)) == [source]


def test_a_direct_invocation_with_a_list_of_alerts_is_recognised() -> None:
    assert recognisers({"alerts": []}) == ["DirectInvocation"]


def test_an_event_of_no_known_shape_raises(fanout: Fanout) -> None:
    with pytest.raises(UnrecognisedEventError):
        handle({"Records": []}, None, fanout)


def test_a_direct_invocation_answers_the_summary(fanout: Fanout) -> None:
    summary = handle(load_recording(FANOUT_DIRECT), None, fanout)

    assert (summary["accepted"], summary["duplicate"], summary["refused"]) == (1, 0, 0)


def test_a_direct_invocation_reports_refused_alerts_with_their_reasons(fanout: Fanout) -> None:
    event = {"alerts": [load_recording(FANOUT_DIRECT)["alert"], {"alert_id": "x"}]}

    summary = handle(event, None, fanout)

    assert (summary["accepted"], summary["refused"]) == (1, 1)
    assert summary["refused_reasons"][0]["index"] == 1
    assert "severity" in summary["refused_reasons"][0]["invalid_fields"]


def test_an_eventbridge_event_stores_its_detail(fanout: Fanout, client: fakeredis.FakeRedis) -> None:
    event = load_recording(FANOUT_EVENTBRIDGE)

    handle(event, None, fanout)

    assert client.xlen(redis_keyspace.alert_stream_key(event["detail"]["tenant_id"])) == 1


def test_an_http_event_is_answered_202_with_the_summary(fanout: Fanout) -> None:
    response = handle(load_recording(FANOUT_HTTP_API), None, fanout)

    assert response["statusCode"] == 202
    assert json.loads(response["body"])["accepted"] == 1


def test_an_http_body_that_is_not_json_is_a_400_problem(fanout: Fanout) -> None:
    event = load_recording(FANOUT_HTTP_API) | {"body": "{not json"}

    response = handle(event, None, fanout)

    assert (response["statusCode"], response["headers"]["content-type"]) == (400, PROBLEM_CONTENT_TYPE)


def test_an_http_body_whose_only_alert_is_malformed_is_a_400_invalid_alert(fanout: Fanout) -> None:
    event = load_recording(FANOUT_HTTP_API) | {"body": json.dumps({"alert_id": "a", "severity": "loud"})}

    problem = json.loads(handle(event, None, fanout)["body"])

    assert (problem["status"], problem["type"].rsplit("/", 1)[1]) == (400, "invalid-alert")
    assert {"tenant_id", "severity", "message", "timestamp"} <= set(problem["invalid_fields"])


def test_an_http_batch_with_one_good_alert_is_accepted_and_reports_the_others(fanout: Fanout) -> None:
    good = json.loads(load_recording(FANOUT_HTTP_API)["body"])
    event = load_recording(FANOUT_HTTP_API) | {"body": json.dumps([good, {"alert_id": "b"}])}

    response = handle(event, None, fanout)

    assert response["statusCode"] == 202
    assert json.loads(response["body"])["refused"] == 1


def test_an_http_answer_echoes_the_callers_request_id(fanout: Fanout) -> None:
    response = handle(load_recording(FANOUT_HTTP_API), None, fanout)

    assert response["headers"]["x-request-id"] == "req-internal-alert-1"


def test_an_http_answer_echoes_the_request_id_of_an_event_from_sams_emulator(fanout: Fanout) -> None:
    # SAM's emulator keeps the client's spelling of header names: "X-Request-Id".
    response = handle(load_recording(SAM_LOCAL_FANOUT), None, fanout)

    assert response["statusCode"] == 202
    assert response["headers"]["x-request-id"] == "alert-req-1"
