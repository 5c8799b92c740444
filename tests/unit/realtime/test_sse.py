"""The alert stream's pure parts: stream ids, the resume position, gap detection, the event text."""

from __future__ import annotations

import json

import pytest

from bakery_gateway.clients import redis_keyspace
from bakery_gateway.errors import BadRequestError
from bakery_gateway.realtime.alerts.sse import (
    AlertBatch,
    StreamId,
    event_block,
    gap_detected,
    render,
    resume_position,
    wait_seconds,
)
from bakery_gateway.settings import AlertSettings
from tests.support.alerts import parse_events

ALERT = json.dumps(
    {"alert_id": "a-1", "tenant_id": "t", "severity": "high", "message": "m", "timestamp": "x"}
)


def entry(entry_id: str, alert: str = ALERT) -> tuple[StreamId, dict[str, str]]:
    return StreamId.parse(entry_id), {redis_keyspace.ALERT_STREAM_FIELD: alert}


# --- stream ids -----------------------------------------------------------------------------------
def test_a_stream_id_reads_back_as_written() -> None:
    assert str(StreamId.parse("1700000000000-3")) == "1700000000000-3"


def test_stream_ids_order_numerically_not_as_text() -> None:
    assert StreamId.parse("9-0") < StreamId.parse("10-0") < StreamId.parse("10-1")


@pytest.mark.parametrize(
    "text", ["", "abc", "12", "1-", "-1", "1-2-3", "1.5-0", "0x1-0", "18446744073709551616-0"]
)
def test_anything_else_is_a_bad_request(text: str) -> None:
    with pytest.raises(BadRequestError):
        StreamId.parse(text)


def test_the_largest_stream_id_is_accepted() -> None:
    assert StreamId.parse("18446744073709551615-18446744073709551615").sequence == 2**64 - 1


# --- resume position ------------------------------------------------------------------------------
def test_the_header_wins_over_the_query_parameter() -> None:
    assert resume_position("5-0", "7-0") == StreamId(5, 0)


def test_the_query_parameter_serves_when_there_is_no_header() -> None:
    assert resume_position(None, "7-0") == StreamId(7, 0)


def test_an_empty_last_event_id_means_none() -> None:
    assert resume_position("", None) is None


def test_a_malformed_header_is_refused_even_with_a_good_query_parameter() -> None:
    with pytest.raises(BadRequestError):
        resume_position("nope", "7-0")


# --- gaps -----------------------------------------------------------------------------------------
def stream_info(first: str, *, added: int = 5, length: int = 2, deleted: str = "0-0") -> dict[str, object]:
    return {
        "first-entry": (first, {}),
        "entries-added": added,
        "length": length,
        "max-deleted-entry-id": deleted,
    }


def test_a_position_older_than_the_first_retained_entry_is_a_gap() -> None:
    assert gap_detected(StreamId(5, 0), stream_info("9-0"))


def test_a_position_within_the_retained_entries_is_no_gap() -> None:
    assert not gap_detected(StreamId(9, 0), stream_info("9-0"))


def test_a_stream_that_never_lost_an_entry_has_no_gap() -> None:
    assert not gap_detected(StreamId(0, 0), stream_info("9-0", added=2, length=2))


def test_an_entry_deleted_after_the_position_is_a_gap() -> None:
    assert gap_detected(StreamId(9, 0), stream_info("9-0", deleted="10-0"))


# --- the event text -------------------------------------------------------------------------------
def test_an_alert_event_carries_its_stream_id_type_and_data() -> None:
    assert event_block("alert", "{}", StreamId(1, 2)) == "id: 1-2\nevent: alert\ndata: {}\n\n"


def test_line_breaks_in_data_cannot_end_the_event() -> None:
    (event,) = parse_events(event_block("alert", 'line one\n\nevent: forged\ndata: "x"'))

    assert event.event == "alert"
    assert event.data == 'line one\n\nevent: forged\ndata: "x"'


def test_an_answer_starts_with_the_retry_hint() -> None:
    body = render(
        AlertBatch(StreamId(1, 0), [entry("2-0")]), StreamId(1, 0), retry_milliseconds=750, wait_seconds=1
    )

    assert body.startswith("retry: 750\n\n")


def test_an_answer_without_alerts_is_a_comment_and_the_position() -> None:
    events = parse_events(render(AlertBatch(StreamId(4, 0), []), None, retry_milliseconds=1, wait_seconds=20))

    assert events[1].comments == ["no alerts within 20 s"]
    assert (events[1].id, events[1].event, events[1].data) == ("4-0", None, None)


def test_alerts_are_rendered_in_stream_order() -> None:
    batch = AlertBatch(StreamId(3, 0), [entry("2-0"), entry("3-0")])

    events = parse_events(render(batch, StreamId(1, 0), retry_milliseconds=1, wait_seconds=1))

    assert [(event.event, event.id) for event in events[1:]] == [("alert", "2-0"), ("alert", "3-0")]


def test_a_gap_is_announced_before_the_first_alert() -> None:
    batch = AlertBatch(StreamId(9, 0), [entry("9-0")], gap=True)

    gap = parse_events(render(batch, StreamId(1, 0), retry_milliseconds=1, wait_seconds=1))[1]

    assert (gap.event, gap.id) == ("gap", None)
    assert gap.json()["last_event_id"] == "1-0"
    assert gap.json()["resumed_from"] == "9-0"


def test_an_entry_without_the_alert_field_is_skipped_but_its_id_still_counts() -> None:
    batch = AlertBatch(StreamId(3, 0), [entry("2-0"), (StreamId(3, 0), {"other": "x"})])

    events = parse_events(render(batch, StreamId(1, 0), retry_milliseconds=1, wait_seconds=1))

    assert [(event.event, event.id) for event in events[1:]] == [("alert", "2-0"), (None, "3-0")]


def test_only_event_stream_line_breaks_split_data() -> None:
    (event,) = parse_events(event_block("alert", '{"message": "a\u2028b"}'))

    assert event.json() == {"message": "a\u2028b"}


@pytest.mark.parametrize(
    ("stage_variables", "expected"),
    [
        (None, 20.0),
        ({}, 20.0),
        ({"sseWaitSeconds": "0"}, 0.0),
        ({"sseWaitSeconds": "2.5"}, 2.5),
        ({"sseWaitSeconds": "60"}, 20.0),
        ({"sseWaitSeconds": "-1"}, 0.0),
        ({"sseWaitSeconds": "soon"}, 20.0),
    ],
)
def test_a_stage_may_shorten_the_wait_but_never_lengthen_it(
    stage_variables: dict[str, str] | None, expected: float
) -> None:
    assert wait_seconds(AlertSettings(sse_wait_seconds=20.0), stage_variables) == expected
