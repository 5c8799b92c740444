"""``bakery-gateway publish``: the alert it builds and what it makes of the gateway's answer."""

from __future__ import annotations

import json

import httpx
import pytest

from bakery_gateway.realtime.alerts.model import Alert
from bakery_local.alert_client import PublishCommandError, new_alert, publish


def test_a_new_alert_is_valid_for_the_gateway() -> None:
    raw = new_alert("tenant-a", "high", "Flour is low", "low_stock", ["email"])

    assert Alert.from_mapping(raw).channels == ("email",)


def test_publish_posts_to_the_internal_route_and_returns_the_stream_id() -> None:
    raw = new_alert("tenant-a", "low", "hello")
    seen: list[httpx.Request] = []

    def gateway(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, json={"stream_ids": {raw["alert_id"]: "1-0"}})

    stream_id = publish("http://gw", raw, httpx.Client(transport=httpx.MockTransport(gateway)))

    assert stream_id == "1-0"
    assert (seen[0].url.path, json.loads(seen[0].content)) == ("/internal/alerts", raw)


def test_publish_reports_a_refusal_with_the_gateways_answer() -> None:
    def gateway(request: httpx.Request) -> httpx.Response:
        return httpx.Response(400, text="bad alert")

    with pytest.raises(PublishCommandError, match="400: bad alert"):
        publish("http://gw", new_alert("t", "low", "m"), httpx.Client(transport=httpx.MockTransport(gateway)))
