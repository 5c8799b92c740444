"""The alert model: each field's rule, and one error naming every bad field."""

from __future__ import annotations

from typing import Any

import pytest

from bakery_gateway.errors import InvalidAlertError
from bakery_gateway.realtime.alerts.model import MAX_DATA_BYTES, MAX_MESSAGE_LENGTH, Alert


def valid(**changes: Any) -> dict[str, Any]:
    alert: dict[str, Any] = {
        "alert_id": "alert-1",
        "tenant_id": "tenant-a",
        "severity": "high",
        "message": "Flour is low",
        "timestamp": "2024-03-09T16:00:00Z",
    }
    alert.update(changes)
    return {key: value for key, value in alert.items() if value is not None}


def bad_fields(raw: object) -> dict[str, str]:
    with pytest.raises(InvalidAlertError) as caught:
        Alert.from_mapping(raw)
    return caught.value.fields


def test_a_minimal_alert_is_accepted_with_no_channels_and_empty_data() -> None:
    alert = Alert.from_mapping(valid())

    assert (alert.alert_id, alert.channels, alert.data, alert.type) == ("alert-1", (), {}, None)


@pytest.mark.parametrize("value", [None, "", "  ", 7, "has space", "x" * 201])
def test_an_alert_id_must_be_a_short_string_without_whitespace(value: object) -> None:
    raw = valid()
    raw["alert_id"] = value

    assert "alert_id" in bad_fields(raw)


@pytest.mark.parametrize("value", [None, "", 3])
def test_a_tenant_id_must_be_a_non_empty_string(value: object) -> None:
    raw = valid()
    raw["tenant_id"] = value

    assert "tenant_id" in bad_fields(raw)


@pytest.mark.parametrize("severity", ["low", "medium", "high", "critical"])
def test_each_of_the_four_severities_is_accepted(severity: str) -> None:
    assert Alert.from_mapping(valid(severity=severity)).severity == severity


@pytest.mark.parametrize("severity", ["warning", "HIGH", "", 1])
def test_any_other_severity_is_refused(severity: object) -> None:
    assert "severity" in bad_fields(valid(severity=severity))


@pytest.mark.parametrize("message", ["", "   ", 12, "x" * (MAX_MESSAGE_LENGTH + 1)])
def test_a_message_must_be_non_empty_text_of_at_most_2000_characters(message: object) -> None:
    assert "message" in bad_fields(valid(message=message))


def test_a_message_of_exactly_2000_characters_is_accepted() -> None:
    assert len(Alert.from_mapping(valid(message="x" * MAX_MESSAGE_LENGTH)).message) == MAX_MESSAGE_LENGTH


@pytest.mark.parametrize(
    ("given", "normalised"),
    [
        ("2024-03-09T16:00:00Z", "2024-03-09T16:00:00.000Z"),
        ("2024-03-09T17:00:00+01:00", "2024-03-09T16:00:00.000Z"),
        ("2024-03-09T16:00:00.123456+00:00", "2024-03-09T16:00:00.123Z"),
    ],
)
def test_a_timestamp_is_normalised_to_utc_with_z(given: str, normalised: str) -> None:
    assert Alert.from_mapping(valid(timestamp=given)).timestamp == normalised


@pytest.mark.parametrize("timestamp", ["yesterday", "2024-03-09T16:00:00", 1710000000, ""])
def test_a_timestamp_must_be_iso_8601_with_an_offset(timestamp: object) -> None:
    assert "timestamp" in bad_fields(valid(timestamp=timestamp))


@pytest.mark.parametrize("channels", [["sms"], "email", [1], ["email", "pager"]])
def test_channels_must_be_a_subset_of_email_and_whatsapp(channels: object) -> None:
    assert "channels" in bad_fields(valid(channels=channels))


def test_repeated_channels_are_kept_once() -> None:
    assert Alert.from_mapping(valid(channels=["email", "whatsapp", "email"])).channels == (
        "email",
        "whatsapp",
    )


@pytest.mark.parametrize("data", [[1, 2], "text", {"blob": "x" * MAX_DATA_BYTES}])
def test_data_must_be_an_object_of_at_most_8_kb(data: object) -> None:
    assert "data" in bad_fields(valid(data=data))


@pytest.mark.parametrize("kind", ["", 5])
def test_a_type_when_given_must_be_non_empty_text(kind: object) -> None:
    assert "type" in bad_fields(valid(type=kind))


def test_one_error_names_every_bad_field() -> None:
    fields = bad_fields({"alert_id": "", "severity": "loud", "timestamp": "soon"})

    assert set(fields) == {"alert_id", "tenant_id", "severity", "message", "timestamp"}


def test_the_error_is_a_400_invalid_alert_problem_listing_the_fields() -> None:
    with pytest.raises(InvalidAlertError) as caught:
        Alert.from_mapping(valid(severity="loud"))

    error = caught.value
    assert (error.status, error.problem_type) == (400, "invalid-alert")
    assert error.extensions["invalid_fields"] == {"severity": "must be one of low, medium, high, critical"}


def test_something_other_than_an_object_is_refused() -> None:
    assert bad_fields(["not", "an", "alert"]) == {"alert": "must be a JSON object"}


def test_json_round_trip_keeps_the_normalised_alert() -> None:
    alert = Alert.from_mapping(
        valid(timestamp="2024-03-09T17:00:00+01:00", channels=["email"], data={"k": 1})
    )

    assert Alert.from_mapping(alert.to_dict()) == alert


def nested_data(levels: int) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for _ in range(levels):
        data = {"a": data}
    return data


@pytest.mark.parametrize("levels", [40, 5000])  # 5000: past Python's own recursion limit
def test_data_nested_past_the_limit_is_refused_naming_the_field(levels: int) -> None:
    assert "nest" in bad_fields(valid(data=nested_data(levels)))["data"]


def test_data_nested_within_the_limit_is_accepted() -> None:
    assert Alert.from_mapping(valid(data=nested_data(20))).data
