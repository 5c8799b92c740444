"""``bakery-gateway publish``: one alert through the running gateway's ingress, ``POST /internal/alerts``."""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Sequence
from typing import Any

import httpx

from bakery_gateway.api.routes import INTERNAL_ALERTS_PATH
from bakery_local.gateway_client import post_json


class PublishCommandError(Exception):
    """The alert was not accepted; the message says why, for the terminal."""


def new_alert(
    tenant_id: str, severity: str, message: str, kind: str | None = None, channels: Sequence[str] = ()
) -> dict[str, Any]:
    """An alert with a fresh id and the current time, as a producer service would send it."""
    alert: dict[str, Any] = {
        "alert_id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "severity": severity,
        "message": message,
        "timestamp": datetime.datetime.now(datetime.UTC).isoformat(),
        "channels": list(channels),
    }
    if kind:
        alert["type"] = kind
    return alert


def publish(gateway_url: str, alert: dict[str, Any], client: httpx.Client | None = None) -> str:
    """POST ``alert``; the stream id the gateway stored it under."""
    url = gateway_url.rstrip("/") + INTERNAL_ALERTS_PATH
    response = post_json(
        gateway_url,
        INTERNAL_ALERTS_PATH,
        alert,
        expected_status=httpx.codes.ACCEPTED,
        error=PublishCommandError,
        client=client,
    )
    stream_id = response.json().get("stream_ids", {}).get(alert["alert_id"])
    if not isinstance(stream_id, str):
        raise PublishCommandError(f"{url} answered 202 without a stream id for {alert['alert_id']}")
    return stream_id
