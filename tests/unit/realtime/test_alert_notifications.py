"""Notification routing: only alerts that ask for a channel, and a failure never raises."""

from __future__ import annotations

import json

import httpx
import pytest

from bakery_gateway.realtime.alerts.model import Alert
from bakery_gateway.realtime.alerts.notifications import NOTIFICATIONS_PATH, Notifier

BASE_URL = "http://notifications.internal"


def alert(channels: list[str]) -> Alert:
    return Alert.from_mapping(
        {
            "alert_id": "alert-1",
            "tenant_id": "tenant-a",
            "severity": "critical",
            "message": "Oven 2 stopped",
            "timestamp": "2024-03-09T16:00:00Z",
            "channels": channels,
        }
    )


class Recorder:
    def __init__(self, status: int = 202) -> None:
        self.requests: list[httpx.Request] = []
        self.status = status

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)


def notifier(recorder: Recorder, base_url: str | None = BASE_URL) -> Notifier:
    return Notifier(httpx.Client(transport=httpx.MockTransport(recorder)), base_url)


def test_an_alert_without_channels_is_not_sent() -> None:
    recorder = Recorder()

    assert notifier(recorder).notify(alert([]), "req-1") is True
    assert recorder.requests == []


def test_an_alert_asking_for_email_is_posted_with_tenant_and_request_id() -> None:
    recorder = Recorder()

    notifier(recorder).notify(alert(["email"]), "req-1")

    (request,) = recorder.requests
    assert str(request.url) == BASE_URL + NOTIFICATIONS_PATH
    assert (request.headers["x-tenant-id"], request.headers["x-request-id"]) == ("tenant-a", "req-1")
    assert json.loads(request.content)["channels"] == ["email"]


def test_a_refusing_notification_service_is_reported_not_raised() -> None:
    assert notifier(Recorder(status=500)).notify(alert(["whatsapp"]), "req-1") is False


def test_an_unreachable_notification_service_is_reported_not_raised() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = httpx.Client(transport=httpx.MockTransport(unreachable))

    assert Notifier(client, BASE_URL).notify(alert(["email"]), "req-1") is False


@pytest.mark.parametrize("base_url", [None, ""])
def test_no_configured_notification_service_is_reported_not_raised(base_url: str | None) -> None:
    recorder = Recorder()

    assert notifier(recorder, base_url).notify(alert(["email"]), "req-1") is False
    assert recorder.requests == []


def test_with_too_little_time_left_no_request_is_made() -> None:
    recorder = Recorder()

    assert notifier(recorder).notify(alert(["email"]), "req-1", seconds_left=0.1) is False
    assert recorder.requests == []


def test_the_request_never_waits_longer_than_the_time_left() -> None:
    recorder = Recorder()
    client = httpx.Client(transport=httpx.MockTransport(recorder), timeout=5.0)

    Notifier(client, BASE_URL).notify(alert(["email"]), "req-1", seconds_left=1.5)

    assert recorder.requests[0].extensions["timeout"]["read"] == 1.5
